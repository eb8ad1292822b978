/**
 * The SQL of the PostgreSQL command log for one schema.
 *
 * @internal
 * @module
 */

/** The statements of {@link PostgresCommandLog} for a validated, quoted schema. */
export function commandLogSql(schema: string) {
  const table = `${schema}.processed_commands`;
  return {
    // Takes the id, or takes over an expired record. A live record (committed) returns no row; a
    // concurrent claim (uncommitted) makes this wait until its transaction ends.
    claim:
      `INSERT INTO ${table} AS c (command_id, aggregate_id, result, processed_at, expires_at) ` +
      `VALUES ($1, NULL, 'null'::jsonb, $2::timestamptz, $3::timestamptz) ` +
      'ON CONFLICT (command_id) DO UPDATE SET aggregate_id = NULL, result = EXCLUDED.result, ' +
      'processed_at = EXCLUDED.processed_at, expires_at = EXCLUDED.expires_at ' +
      'WHERE c.expires_at <= EXCLUDED.processed_at RETURNING 1 AS claimed',
    record: `UPDATE ${table} SET result = $2::text::jsonb, aggregate_id = $3 WHERE command_id = $1`,
    read: `SELECT result, processed_at, expires_at FROM ${table} WHERE command_id = $1`,
    find: `SELECT result, processed_at, expires_at FROM ${table} WHERE command_id = $1 AND expires_at > $2::timestamptz`,
    purge: `DELETE FROM ${table} WHERE expires_at <= $1::timestamptz`,
    setLockTimeout:
      "SELECT current_setting('lock_timeout') AS previous, set_config('lock_timeout', $1, true) AS now",
    restoreLockTimeout: "SELECT set_config('lock_timeout', $1, true)",
  };
}

/** The statements of the command log. */
export type CommandLogSql = ReturnType<typeof commandLogSql>;
