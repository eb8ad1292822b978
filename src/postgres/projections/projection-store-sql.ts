/**
 * The SQL of the PostgreSQL projection store for one schema.
 *
 * @internal
 * @module
 */

/** The statements of {@link PostgresProjectionStore}, for a validated, quoted schema. */
export interface ProjectionStoreSql {
  readonly loadCheckpoint: string;
  readonly saveCheckpoint: string;
  readonly incrementFence: string;
  readonly resetCheckpoint: string;
  readonly deleteDeadLettersOf: string;
  readonly addDeadLetter: string;
  readonly removeDeadLetter: string;
  readonly getDeadLetter: string;
  readonly listDeadLetters: string;
  readonly countDeadLetters: string;
}

const DEAD_LETTER_COLUMNS =
  'id::text AS id, projection, event, error_name, error_message, error_stack, attempts, failed_at';

/** Builds the statements for a quoted schema identifier. */
export function projectionStoreSql(schema: string): ProjectionStoreSql {
  const checkpoints = `${schema}.projection_checkpoints`;
  const deadLetters = `${schema}.projection_dead_letters`;
  return {
    loadCheckpoint:
      'SELECT transaction_id::text AS transaction_id, global_position::text AS global_position, ' +
      `last_event_timestamp, updated_at FROM ${checkpoints} WHERE projection = $1`,
    // Compare-and-set in one statement. $2/$3: the expected position, $4/$5: the new one, $7:
    // the caller's lease fence (NULL: no fence check). A missing row counts as the start of the
    // log and fence 0: it may be inserted only when that is what the caller expects (a lease
    // always creates the row, so a fenced save never inserts). When a row exists (or a racing
    // insert commits first), the update applies only while the stored position still is the
    // expected one and the fence the caller's; the row lock it takes makes a new holder's
    // incrementFence wait for this transaction. RETURNING tells whether a row was written.
    saveCheckpoint:
      `INSERT INTO ${checkpoints} AS c (projection, transaction_id, global_position, last_event_timestamp, updated_at) ` +
      'SELECT $1, $4::text::xid8, $5::text::bigint, $6::timestamptz, now() ' +
      `WHERE ($2::text = '0' AND $3::text = '0' AND $7::text IS NULL) OR EXISTS (SELECT 1 FROM ${checkpoints} WHERE projection = $1) ` +
      'ON CONFLICT (projection) DO UPDATE SET transaction_id = excluded.transaction_id, ' +
      'global_position = excluded.global_position, last_event_timestamp = excluded.last_event_timestamp, ' +
      'updated_at = excluded.updated_at ' +
      'WHERE c.transaction_id = $2::text::xid8 AND c.global_position = $3::text::bigint ' +
      'AND ($7::text IS NULL OR c.fence = $7::text::bigint) ' +
      'RETURNING 1 AS saved',
    // A new lease holder's fence, in a transaction of its own: the row (inserted at the start of
    // the log when missing, without updated_at) gets the next fence. It waits for a batch that
    // already updated the row under the old fence, and fails every later one.
    incrementFence:
      `INSERT INTO ${checkpoints} AS c (projection, fence, updated_at) VALUES ($1, 1, NULL) ` +
      'ON CONFLICT (projection) DO UPDATE SET fence = c.fence + 1 RETURNING fence::text AS fence',
    // $2: the caller's lease fence (NULL: no fence check). As in saveCheckpoint, a fenced reset
    // never inserts (a lease always creates the row) and applies only under the caller's fence.
    // RETURNING tells whether it applied.
    resetCheckpoint:
      `INSERT INTO ${checkpoints} AS c (projection, transaction_id, global_position, last_event_timestamp, updated_at) ` +
      "SELECT $1, '0', 0, NULL, now() " +
      `WHERE $2::text IS NULL OR EXISTS (SELECT 1 FROM ${checkpoints} WHERE projection = $1) ` +
      'ON CONFLICT (projection) DO UPDATE SET transaction_id = excluded.transaction_id, ' +
      'global_position = 0, last_event_timestamp = NULL, updated_at = excluded.updated_at ' +
      'WHERE $2::text IS NULL OR c.fence = $2::text::bigint ' +
      'RETURNING 1 AS reset',
    deleteDeadLettersOf: `DELETE FROM ${deadLetters} WHERE projection = $1`,
    addDeadLetter:
      `INSERT INTO ${deadLetters} (projection, event_id, event_type, aggregate_id, transaction_id, ` +
      'global_position, event, error_name, error_message, error_stack, attempts, failed_at) ' +
      'VALUES ($1, $2, $3, $4, $5::text::xid8, $6::text::bigint, $7::jsonb, $8, $9, $10, $11, $12) ' +
      'RETURNING id::text AS id',
    removeDeadLetter: `DELETE FROM ${deadLetters} WHERE id = $1::bigint RETURNING 1 AS removed`,
    getDeadLetter: `SELECT ${DEAD_LETTER_COLUMNS} FROM ${deadLetters} WHERE id = $1::bigint`,
    listDeadLetters:
      `SELECT ${DEAD_LETTER_COLUMNS} FROM ${deadLetters} WHERE projection = $1 ` +
      'ORDER BY id LIMIT $2 OFFSET $3',
    countDeadLetters: `SELECT count(*)::text AS count FROM ${deadLetters} WHERE projection = $1`,
  };
}
