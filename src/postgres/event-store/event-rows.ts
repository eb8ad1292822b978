import type { EventRegistry, RawStoredEvent, StoredEvent } from '../../core.js';
import { toStoreError } from '../driver/errors.js';
import type { PgPool, PgQueryable, PgRow } from '../driver/pg-client.js';
import type { NamedSql } from './event-store-sql.js';

/**
 * Reading events cheaply: the store's reads select `RAW_EVENT_COLUMNS` (the names of
 * `RawStoredEvent`), so the row the driver built becomes the raw event in place, and run as
 * named statements on the store's pool, so each connection parses and plans them once.
 *
 * @internal
 * @module
 */

/**
 * A row selected with `RAW_EVENT_COLUMNS`, as a driver returns it: positions as text, the
 * timestamp as milliseconds since the epoch (int8: text from `pg`, a number or bigint from other
 * drivers or type parsers), or a Date or timestamp text from a row selected otherwise.
 */
export interface RawEventRow extends PgRow {
  eventId: string;
  aggregateId: string;
  aggregateType: string;
  type: string;
  version: number;
  schemaVersion: number;
  timestamp: string | number | bigint | Date;
  payload: unknown;
  metadata: unknown;
  globalPosition: string | bigint;
  transactionId: string | bigint;
}

/**
 * Runs a read: as a named statement on the store's pool (prepared once per connection), or as
 * plain text on a caller's connection (which may not take named statements). Driver errors
 * become annals errors naming `operation`.
 */
export async function queryEventRows(
  target: { readonly pool: PgPool } | { readonly client: PgQueryable },
  statement: NamedSql,
  values: unknown[],
  operation: string,
): Promise<RawEventRow[]> {
  try {
    const result =
      'pool' in target
        ? await target.pool.query<RawEventRow>({ name: statement.name, text: statement.text, values })
        : await target.client.query<RawEventRow>(statement.text, values);
    return result.rows;
  } catch (error) {
    throw toStoreError(error, operation);
  }
}

/**
 * Turns rows selected with `RAW_EVENT_COLUMNS` into raw events, in place (the rows are the
 * driver's fresh objects, owned by nobody else): positions become exact bigints (`BigInt` of
 * the text, so nothing is lost past 2^53), and a timestamp that is not a Date becomes one.
 * Returns the same array.
 */
export function toRawEvents(rows: RawEventRow[]): RawStoredEvent[] {
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    row.globalPosition = BigInt(row.globalPosition);
    row.transactionId = BigInt(row.transactionId);
    const { timestamp, version, schemaVersion } = row;
    if (typeof timestamp === 'string') row.timestamp = dateOf(timestamp);
    else if (!(timestamp instanceof Date)) row.timestamp = new Date(Number(timestamp));
    if (typeof version !== 'number') row.version = Number(version);
    if (typeof schemaVersion !== 'number') row.schemaVersion = Number(schemaVersion);
  }
  return rows as unknown as RawStoredEvent[];
}

/** The fields of a raw event only (a row may hold other columns beside them). */
export function rawEventOf(raw: RawStoredEvent): RawStoredEvent {
  return {
    eventId: raw.eventId,
    aggregateId: raw.aggregateId,
    aggregateType: raw.aggregateType,
    type: raw.type,
    version: raw.version,
    schemaVersion: raw.schemaVersion,
    timestamp: raw.timestamp,
    payload: raw.payload,
    metadata: raw.metadata,
    globalPosition: raw.globalPosition,
    transactionId: raw.transactionId,
  };
}

/** A timestamp as text: milliseconds since the epoch, or a date PostgreSQL wrote. */
function dateOf(text: string): Date {
  const ms = Number(text);
  return text !== '' && Number.isFinite(ms) ? new Date(ms) : new Date(text);
}

/**
 * Decodes the rows of a stream (see {@link toRawEvents}) with the registry, which upcasts and
 * validates every payload; the first event that cannot be read fails the load.
 */
export function decodeEventRows(registry: EventRegistry, rows: RawEventRow[]): StoredEvent[] {
  const raws = toRawEvents(rows);
  const events = new Array<StoredEvent>(raws.length);
  for (let index = 0; index < raws.length; index++) events[index] = registry.decode(raws[index]!);
  return events;
}
