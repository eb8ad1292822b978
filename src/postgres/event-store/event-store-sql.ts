import { MAX_READ_LIMIT, type RawStoredEvent } from '../../core.js';
import { fnv1a32 } from '../driver/identifier.js';
import type { PgRow } from '../driver/pg-client.js';
import { type HorizonScope, horizonEndedSql, horizonExpression } from './horizon-sql.js';

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

/** The row `append_events` (or a fast append) returns. */
export interface AppendRow extends PgRow {
  duplicate?: boolean;
  /** Null when a fast append wrote nothing. */
  next_version: number | null;
  transaction_id: string | null;
  /**
   * The global positions, in the order of the events: a text array (`append_events`), the one
   * position (one-event inserts) or, from a multi-event insert, the positions joined by commas
   * (cheaper to parse).
   */
  positions: string[] | string | null;
}

/** The row of {@link EventStoreSql.head}: all of the event's columns are null for an empty log. */
export interface HeadRow extends PgRow {
  global_position: string | null;
  transaction_id: string | null;
  /** Epoch milliseconds (int8: text from `pg`, a number or bigint from PGlite). */
  timestamp: string | number | bigint | null;
  stale: boolean;
}

/**
 * The columns every read selects (from `events` aliased as `e`). Bigints are selected as text and converted with `BigInt`, so
 * positions are exact past 2^53 whether the driver returns int8 as a string (`pg`) or as a
 * number (PGlite).
 */
export const EVENT_COLUMNS =
  'e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e.aggregate_id, ' +
  'e.aggregate_type, e.version, e.event_id, e.type, e.schema_version, e.payload, e.metadata, e."timestamp"';

/**
 * The columns of the named reads ({@link EventStoreSql.loadRaw}, {@link EventStoreSql.readAllRaw}),
 * under the names of `RawStoredEvent`: `toRawEvents` (event-rows.ts) turns such a row into
 * the raw event in place, without a second object. Bigints are selected as text, as in
 * {@link EVENT_COLUMNS}. The timestamp is selected as whole milliseconds since the epoch (an
 * int8, rounded down as `pg`'s date parsing truncates): `new Date(Number(text))` costs a fraction
 * of parsing the timestamp's text, which was the largest part of decoding a row, and the server
 * writes the number about as fast as the timestamp's text (a float8 would cost it twice that).
 */
export const RAW_EVENT_COLUMNS: string = rawEventColumns()
  .map(([expression, name]) => `${expression} AS ${name}`)
  .join(', ');

/** The names of {@link RAW_EVENT_COLUMNS}, selected from a subquery `p` that selected them. */
const RAW_EVENT_NAMES_OF_P = rawEventColumns()
  .map(([, name]) => `p.${name}`)
  .join(', ');

/** Each column of {@link RAW_EVENT_COLUMNS}: its expression over `events e`, and its (quoted) name. */
function rawEventColumns(): ReadonlyArray<readonly [expression: string, name: string]> {
  return [
    ['e.event_id', '"eventId"'],
    ['e.aggregate_id', '"aggregateId"'],
    ['e.aggregate_type', '"aggregateType"'],
    ['e.type', 'type'],
    ['e.version', 'version'],
    ['e.schema_version', '"schemaVersion"'],
    ['floor(extract(epoch FROM e."timestamp") * 1000)::int8', '"timestamp"'],
    ['e.payload', 'payload'],
    ['e.metadata', 'metadata'],
    ['e.global_position::text', '"globalPosition"'],
    ['e.transaction_id::text', '"transactionId"'],
  ];
}

/**
 * The bounds a log page's limit is rounded up to: one `readAll` statement per bound (see
 * {@link EventStoreSql.readAllRaw}). Each bound is at most ten times the limits it serves.
 */
const PAGE_BOUNDS = [10, 100, 1000, MAX_READ_LIMIT] as const;

/**
 * Events whose writing transaction has finished, and all transactions of the store's database
 * (or, for `'cluster'`, of the server) before it: the readable log. See `horizon-sql.ts`.
 */
const visibleBelow = (horizon: HorizonScope) => `e.transaction_id < ${horizonExpression(horizon)}`;
const AFTER = '(e.transaction_id, e.global_position) > ($1::text::xid8, $2::text::bigint)';
/**
 * The log's order. Qualified on purpose: the selected columns are aliased to the same names as
 * text, and an unqualified ORDER BY would sort by those text aliases ('10' < '9').
 */
const LOG_ORDER = 'e.transaction_id, e.global_position';
/** The log's order, newest first. */
const LOG_ORDER_DESC = 'e.transaction_id DESC, e.global_position DESC';

const INSERT_COLUMNS =
  '(aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")';
/**
 * The new events as rows: `$3` is a JSON array of rows `[event id, aggregate type, type, schema
 * version, payload, metadata, timestamp]` (see `rowsJson` in append-input.ts), `u.ord` numbers
 * them from 1. Payload and metadata come out as jsonb, parsed once with the document.
 */
const JSON_ROWS = 'jsonb_array_elements($3::jsonb) WITH ORDINALITY AS u(r, ord)';
/**
 * What a one-event INSERT returns: scalars (a one-element array would cost the client an array
 * literal to parse, for nothing).
 */
const RETURNING_ONE =
  'RETURNING version AS next_version, global_position::text AS positions, transaction_id::text AS transaction_id';

/** A statement with the name under which connections prepare it (derived from its text). */
export interface NamedSql {
  readonly name: string;
  readonly text: string;
}

function named(kind: string, text: string): NamedSql {
  return { name: `annals_${kind}_${fnv1a32(text).toString(16).padStart(8, '0')}`, text };
}

/**
 * How many times `head()` runs its statement at most while the statement reports `stale`.
 *
 * The per-database horizon drops the running transactions that `pg_stat_activity` shows in
 * other databases. The view is read after the statement's snapshot was taken, so a transaction
 * of another database that ends in between is no longer shown and is kept as a possible
 * writer: the horizon falls to it, and events committed before the statement stay hidden for
 * that one read (never wrongly: a lower horizon only shows less). Under churn of short
 * transactions in other databases this happened to 3–5 % of reads right after an append.
 * `head()` is what `catchUp()` waits for, so it reads again, with a fresh snapshot, while the
 * transaction that bounded the horizon had finished and committed events wait behind it. Each
 * retry needs a new such race, so ten attempts in a row are not expected to all be stale.
 */
export const HEAD_ATTEMPTS = 10;

/** The SQL of the event store for one schema (already validated and quoted). */
export interface EventStoreSql {
  /** `append_events` with arrays: appends in a caller's transaction, and the slow path. */
  readonly append: string;
  /** `append_events` for one event, passed as scalars. */
  readonly appendOne: string;
  /**
   * The fast path for the first event of a new stream (expected version `$2` = 0: no stream),
   * one event as scalars (`$1` aggregate id, `$3` event id, `$4` aggregate type, `$5` type, `$6`
   * schema version, `$7` payload, `$8` metadata, `$9` timestamp): one INSERT of version 1. A
   * unique violation: the stream exists (version 1 is taken) or the event id is stored.
   */
  readonly insertOneFirst: NamedSql;
  /**
   * As {@link EventStoreSql.insertOneFirst} after an exact expected version `$2` >= 1: one INSERT
   * of version `$2 + 1`, selected from the stored version `$2`: no row when version `$2` is not
   * stored; a unique violation when version `$2 + 1` or the event id is taken. Selecting from
   * that row instead of testing `$2 = 0 OR EXISTS (...)` spares the server a subplan on every
   * append (see docs/benchmarks.md, "Seventh pass").
   */
  readonly insertOneAt: NamedSql;
  /** As {@link EventStoreSql.insertOneAt}, for the version after the stream's last, if that is `>= $2`. */
  readonly insertOneAfterLast: NamedSql;
  /**
   * As {@link EventStoreSql.insertOneAt} for several events, given as one JSON document `$3`
   * (see `fastInsertValues` in append-input.ts); returns one row (nulls when nothing was written).
   */
  readonly insertAt: NamedSql;
  /** As {@link EventStoreSql.insertOneAfterLast} for several events, given as in {@link EventStoreSql.insertAt}. */
  readonly insertAfterLast: NamedSql;
  readonly load: string;
  /**
   * `load` (`$1` aggregate id, `$2`..`$3` the versions) as a named statement selecting
   * {@link RAW_EVENT_COLUMNS}: each connection of the store's pool parses and plans it once.
   */
  readonly loadRaw: NamedSql;
  readonly loadByEventIds: string;
  readonly streamVersion: string;
  /**
   * `readAll` (`$1`, `$2` after, `$3` limit) as a named statement selecting
   * {@link RAW_EVENT_COLUMNS}, for a `limit` from 1 to `MAX_READ_LIMIT`. The page is read as the
   * first `$3` rows of the first `bound` rows, where `bound` is the limit rounded up to one of
   * {@link PAGE_BOUNDS}, so that PostgreSQL keeps one plan per connection. With a bare
   * `LIMIT $3` its generic plan is costed for a tenth of the matching rows, which is dearer than
   * a plan for the limit given once the log has more than ten pages, so it planned every page
   * again: about 0.3-1 ms a page with the database horizon, a tenth of a 1,000-event page's time
   * (docs/benchmarks.md, "Seventh pass"). With the bound, the generic plan is costed for a tenth of
   * `bound` rows, no more than the limit, and is kept.
   */
  readAllRaw(limit: number): NamedSql;
  /**
   * `readAll` of the event types `$4` (`$1`, `$2` after, `$3` limit), a named statement selecting
   * {@link RAW_EVENT_COLUMNS}: the page's events, each with the frontier
   * (`frontierTransactionId`, `frontierGlobalPosition`: the last readable event after `$1`/`$2`
   * of any type, seen in the same snapshot). An empty page is one row of nulls with the frontier
   * (null too when nothing is readable after the position).
   */
  readonly readAllOfTypes: NamedSql;
  /**
   * The last readable event's position (text) and timestamp (epoch milliseconds, int8), all
   * null for an empty log, as a named statement; one row. `stale` is true when the horizon
   * may have been computed too low: the transaction that bounds it had already finished when
   * the statement looked (so another statement would not be held back by it) and committed
   * events wait behind it. See {@link HEAD_ATTEMPTS}.
   */
  readonly head: NamedSql;
  readonly countAfter: string;
  /** `countAfter` of the types `$3` only. */
  readonly countAfterOfTypes: string;
}

/** Builds the statements for a quoted schema identifier; the log reads use the `horizon` given. */
export function eventStoreSql(schema: string, horizon: HorizonScope = 'cluster'): EventStoreSql {
  const events = `${schema}.events`;
  const VISIBLE = visibleBelow(horizon);
  const exists = `EXISTS (SELECT 1 FROM ${events} x WHERE x.aggregate_id = $1 AND x.version = $2::integer)`;
  const last = `(SELECT coalesce(max(x.version), 0) AS v FROM ${events} x WHERE x.aggregate_id = $1) m`;
  const pages = PAGE_BOUNDS.map((bound) =>
    named(
      `read_all_${bound}`,
      `SELECT ${RAW_EVENT_NAMES_OF_P} FROM (SELECT ${RAW_EVENT_COLUMNS}, e.transaction_id AS tx, ` +
        `e.global_position AS gp FROM ${events} e WHERE ${AFTER} AND ${VISIBLE} ` +
        `ORDER BY ${LOG_ORDER} LIMIT ${bound}) p ORDER BY p.tx, p.gp LIMIT $3`,
    ),
  );
  const loadWhere = `FROM ${events} e WHERE e.aggregate_id = $1 AND e.version >= $2 AND e.version <= $3 ORDER BY e.version`;
  const many = (base: string, from: string, where: string) =>
    `WITH i AS (INSERT INTO ${events} ${INSERT_COLUMNS} ` +
    `SELECT $1, u.r->>1, ${base} + u.ord::integer, u.r->>0, u.r->>2, (u.r->>3)::integer, ` +
    `u.r->4, u.r->5, (u.r->>6)::timestamptz FROM ${from} WHERE ${where} ORDER BY u.ord ` +
    'RETURNING version, global_position, transaction_id) ' +
    "SELECT max(i.version) AS next_version, string_agg(i.global_position::text, ',' ORDER BY i.version) AS positions, " +
    'min(i.transaction_id::text) AS transaction_id FROM i';
  return {
    append:
      `SELECT duplicate, next_version, transaction_id, positions FROM ${schema}.append_events(` +
      '$1::text, $2::text, $3::bigint, $4::text[], $5::text[], $6::text[], $7::integer[], $8::text[], ' +
      '$9::text[], $10::timestamptz[], $11::boolean)',
    appendOne:
      `SELECT duplicate, next_version, transaction_id, positions FROM ${schema}.append_events(` +
      '$1::text, $2::text, $3::bigint, ARRAY[$4::text], ARRAY[$5::text], ARRAY[$6::text], ARRAY[$7::integer], ' +
      'ARRAY[$8::text], ARRAY[$9::text], ARRAY[$10::timestamptz], $11::boolean)',
    insertOneFirst: named(
      'append_one_first',
      `INSERT INTO ${events} ${INSERT_COLUMNS} ` +
        `VALUES ($1, $4, $2::integer + 1, $3, $5, $6::integer, $7::jsonb, $8::jsonb, $9::timestamptz) ${RETURNING_ONE}`,
    ),
    insertOneAt: named(
      'append_one_at',
      `INSERT INTO ${events} ${INSERT_COLUMNS} ` +
        'SELECT $1, $4, $2::integer + 1, $3, $5, $6::integer, $7::jsonb, $8::jsonb, $9::timestamptz ' +
        `FROM ${events} x WHERE x.aggregate_id = $1 AND x.version = $2::integer ${RETURNING_ONE}`,
    ),
    insertOneAfterLast: named(
      'append_one_after_last',
      `INSERT INTO ${events} ${INSERT_COLUMNS} ` +
        'SELECT $1, $4, m.v + 1, $3, $5, $6::integer, $7::jsonb, $8::jsonb, $9::timestamptz ' +
        `FROM ${last} WHERE m.v >= $2::integer ${RETURNING_ONE}`,
    ),
    insertAt: named('append_at', many('$2::integer', JSON_ROWS, `$2::integer = 0 OR ${exists}`)),
    insertAfterLast: named('append_after_last', many('m.v', `${last}, ${JSON_ROWS}`, 'm.v >= $2::integer')),
    load: `SELECT ${EVENT_COLUMNS} ${loadWhere}`,
    loadRaw: named('load', `SELECT ${RAW_EVENT_COLUMNS} ${loadWhere}`),
    loadByEventIds: `SELECT ${EVENT_COLUMNS} FROM ${events} e WHERE e.event_id = ANY($1::text[]) ORDER BY e.version`,
    streamVersion: `SELECT coalesce(max(x.version), 0) AS version FROM ${events} x WHERE x.aggregate_id = $1`,
    readAllRaw: (limit) => pages[pageBoundIndex(limit)]!,
    readAllOfTypes: named(
      'read_all_of_types',
      // RAW_EVENT_COLUMNS of the page's rows, whose log order columns stay as they are (p.tx,
      // p.gp) for the ORDER BY.
      'SELECT p.event_id AS "eventId", p.aggregate_id AS "aggregateId", p.aggregate_type AS "aggregateType", ' +
        'p.type, p.version, p.schema_version AS "schemaVersion", p."timestamp", p.payload, p.metadata, ' +
        'p.gp::text AS "globalPosition", p.tx::text AS "transactionId", ' +
        'f.transaction_id AS "frontierTransactionId", f.global_position AS "frontierGlobalPosition" ' +
        'FROM (SELECT 1) AS one ' +
        'LEFT JOIN (SELECT e.transaction_id::text AS transaction_id, e.global_position::text AS global_position ' +
        `FROM ${events} e WHERE ${AFTER} AND ${VISIBLE} ` +
        'ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1) AS f ON true ' +
        'LEFT JOIN (SELECT e.event_id, e.aggregate_id, e.aggregate_type, e.type, e.version, e.schema_version, ' +
        'floor(extract(epoch FROM e."timestamp") * 1000)::int8 AS "timestamp", e.payload, e.metadata, ' +
        'e.transaction_id AS tx, e.global_position AS gp ' +
        `FROM ${events} e WHERE ${AFTER} AND ${VISIBLE} AND e.type = ANY($4::text[]) ` +
        `ORDER BY ${LOG_ORDER} LIMIT $3) AS p ON true ` +
        'ORDER BY p.tx, p.gp',
    ),
    head: named(
      'head',
      'SELECT f.global_position, f.transaction_id, f."timestamp", ' +
        `CASE WHEN ${horizonEndedSql('h.x', 'pg_snapshot_xmax(pg_current_snapshot())')} ` +
        // The newest row, by the log index: is any committed event at or past the horizon?
        `THEN coalesce((SELECT e.transaction_id FROM ${events} e ORDER BY ${LOG_ORDER_DESC} LIMIT 1) >= h.x, false) ` +
        'ELSE false END AS stale ' +
        `FROM (SELECT ${horizonExpression(horizon)} AS x) h LEFT JOIN LATERAL (` +
        'SELECT e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, ' +
        'floor(extract(epoch FROM e."timestamp") * 1000)::int8 AS "timestamp" ' +
        `FROM ${events} e WHERE e.transaction_id < h.x ORDER BY ${LOG_ORDER_DESC} LIMIT 1) f ON true`,
    ),
    countAfter: `SELECT count(*)::text AS count FROM ${events} e WHERE ${AFTER} AND ${VISIBLE}`,
    countAfterOfTypes: `SELECT count(*)::text AS count FROM ${events} e WHERE ${AFTER} AND ${VISIBLE} AND e.type = ANY($3::text[])`,
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

/** The index in {@link PAGE_BOUNDS} of the smallest bound that is at least `limit`. */
function pageBoundIndex(limit: number): number {
  let index = 0;
  while (index < PAGE_BOUNDS.length - 1 && PAGE_BOUNDS[index]! < limit) index++;
  return index;
}
