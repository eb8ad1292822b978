/**
 * The SQL of the PostgreSQL processed-event store for one schema.
 *
 * @internal
 * @module
 */

/** The statements of {@link PostgresProcessedEventStore}. */
export interface ProcessedEventSql {
  /** Records an event as processed; returns its row only when this call inserted it. */
  readonly insert: string;
  /** The record of a consumer and an event. */
  readonly select: string;
}

/** Builds the statements for a validated, quoted schema. */
export function processedEventSql(schema: string): ProcessedEventSql {
  const table = `${schema}.processed_events`;
  return {
    insert:
      `INSERT INTO ${table} (consumer, event_id) VALUES ($1, $2) ` +
      'ON CONFLICT (consumer, event_id) DO NOTHING RETURNING processed_at',
    select: `SELECT processed_at FROM ${table} WHERE consumer = $1 AND event_id = $2`,
  };
}
