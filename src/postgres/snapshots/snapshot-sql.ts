/**
 * The SQL of the PostgreSQL snapshot store for one schema.
 *
 * @internal
 * @module
 */

/** The statements of {@link PostgresSnapshotStore}. */
export interface SnapshotSql {
  /** The snapshot of an aggregate. */
  readonly load: string;
  /** One upsert that replaces an aggregate's snapshot. */
  readonly save: string;
  /** Removes an aggregate's snapshot. */
  readonly delete: string;
}

/** Builds the statements for a validated, quoted schema. */
export function snapshotSql(schema: string): SnapshotSql {
  const table = `${schema}.snapshots`;
  return {
    load:
      'SELECT aggregate_type, version, snapshot_schema_version, state, created_at ' +
      `FROM ${table} WHERE aggregate_id = $1`,
    save:
      `INSERT INTO ${table} AS s (aggregate_id, aggregate_type, version, snapshot_schema_version, state, created_at) ` +
      'VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::timestamptz) ' +
      'ON CONFLICT (aggregate_id) DO UPDATE SET aggregate_type = EXCLUDED.aggregate_type, ' +
      'version = EXCLUDED.version, snapshot_schema_version = EXCLUDED.snapshot_schema_version, ' +
      'state = EXCLUDED.state, created_at = EXCLUDED.created_at',
    delete: `DELETE FROM ${table} WHERE aggregate_id = $1`,
  };
}
