import type { RawStoredEvent } from 'annals';
import type { PgRow } from './pg-client.js';

/** A row of `events` as the store selects it; bigints arrive as text (see {@link EVENT_COLUMNS}). */
export interface EventRow extends PgRow {
  global_position: string;
  transaction_id: string;
  aggregate_id: string;
  aggregate_type: string;
  version: number;
  event_id: string;
  type: string;
  schema_version: number;
  payload: unknown;
  metadata: unknown;
  timestamp: Date | string;
}

/** The row `append_events` returns. */
export interface AppendRow extends PgRow {
  duplicate: boolean;
  next_version: number;
  transaction_id: string | null;
  positions: string[] | null;
}

/**
 * The columns every read selects (from `events` aliased as `e`). Bigints are selected as text and converted with `BigInt`, so
 * positions are exact past 2^53 whether the driver returns int8 as a string (`pg`) or as a
 * number (PGlite).
 */
export const EVENT_COLUMNS =
  'e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e.aggregate_id, ' +
  'e.aggregate_type, e.version, e.event_id, e.type, e.schema_version, e.payload, e.metadata, e."timestamp"';

/** Events whose writing transaction has finished, and all transactions before it: the readable log. */
const VISIBLE = 'e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())';
const AFTER = '(e.transaction_id, e.global_position) > ($1::text::xid8, $2::text::bigint)';
/**
 * The log's order. Qualified on purpose: the selected columns are aliased to the same names as
 * text, and an unqualified ORDER BY would sort by those text aliases ('10' < '9').
 */
const LOG_ORDER = 'e.transaction_id, e.global_position';

/** The SQL of the event store for one schema (already validated and quoted). */
export interface EventStoreSql {
  /** `append_events` with arrays. */
  readonly append: string;
  /** `append_events` for one event, passed as scalars. */
  readonly appendOne: string;
  readonly load: string;
  readonly loadByEventIds: string;
  readonly streamVersion: string;
  readonly readAll: string;
  readonly head: string;
  readonly countAfter: string;
}

/** Builds the statements for a quoted schema identifier. */
export function eventStoreSql(schema: string): EventStoreSql {
  return {
    append:
      `SELECT duplicate, next_version, transaction_id, positions FROM ${schema}.append_events(` +
      '$1::text, $2::text, $3::bigint, $4::text[], $5::text[], $6::text[], $7::integer[], $8::text[], ' +
      '$9::text[], $10::timestamptz[], $11::boolean, $12::boolean)',
    appendOne:
      `SELECT duplicate, next_version, transaction_id, positions FROM ${schema}.append_events(` +
      '$1::text, $2::text, $3::bigint, ARRAY[$4::text], ARRAY[$5::text], ARRAY[$6::text], ARRAY[$7::integer], ' +
      'ARRAY[$8::text], ARRAY[$9::text], ARRAY[$10::timestamptz], $11::boolean, $12::boolean)',
    load:
      `SELECT ${EVENT_COLUMNS} FROM ${schema}.events e ` +
      'WHERE e.aggregate_id = $1 AND e.version >= $2 AND e.version <= $3 ORDER BY e.version',
    loadByEventIds: `SELECT ${EVENT_COLUMNS} FROM ${schema}.events e WHERE e.event_id = ANY($1::text[]) ORDER BY e.version`,
    streamVersion: `SELECT version FROM ${schema}.streams WHERE aggregate_id = $1`,
    readAll:
      `SELECT ${EVENT_COLUMNS} FROM ${schema}.events e WHERE ${AFTER} AND ${VISIBLE} ` +
      `ORDER BY ${LOG_ORDER} LIMIT $3`,
    head:
      `SELECT e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e."timestamp" ` +
      `FROM ${schema}.events e WHERE ${VISIBLE} ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1`,
    countAfter: `SELECT count(*)::text AS count FROM ${schema}.events e WHERE ${AFTER} AND ${VISIBLE}`,
  };
}

/** Turns a selected row into the raw event the registry decodes. */
export function toRawEvent(row: EventRow): RawStoredEvent {
  return {
    eventId: row.event_id,
    aggregateId: row.aggregate_id,
    aggregateType: row.aggregate_type,
    type: row.type,
    version: Number(row.version),
    schemaVersion: Number(row.schema_version),
    timestamp: row.timestamp instanceof Date ? row.timestamp : new Date(row.timestamp),
    payload: row.payload,
    metadata: row.metadata,
    globalPosition: BigInt(row.global_position),
    transactionId: BigInt(row.transaction_id),
  };
}
