import {
  ANY,
  type AppendResult,
  assertDistinctIds,
  assertExpectedVersion,
  assertValidId,
  type EncodedEvent,
  type EventRegistry,
  type ExpectedVersionMode,
  InvalidArgumentError,
  type NewEvent,
  NO_STREAM,
  STREAM_EXISTS,
  type StoredEvent,
  StoreFailedError,
} from '../../core.js';
import type { AppendRow } from './event-store-sql.js';

/** The earliest instant PostgreSQL's timestamptz holds (4713 BC). */
const MIN_TIMESTAMP_MS = Date.UTC(-4712, 0, 1);
/** The largest version the `integer` column holds. */
const MAX_INT4 = 2_147_483_647;

/** An append, validated and encoded, ready to be sent in one statement. */
export interface PreparedAppend {
  readonly aggregateId: string;
  readonly expectedVersion: ExpectedVersionMode;
  readonly events: readonly EncodedEvent[];
  /** The expected-version mode, as `append_events` takes it. */
  readonly mode: 'exact' | typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS;
  /**
   * The fast path's base: the version to write after (`exact`, `no_stream`), or the lowest last
   * version the stream may have (`any`: 0, `stream_exists`: 1).
   */
  readonly base: number;
  /**
   * The append can take the fast path's INSERT: it has events, and its versions stay in the
   * integer range (else only `append_events` can tell the conflict or refuse it).
   */
  readonly fast: boolean;
  /** The fast path inserts after the given version (`exact`, `no_stream`), or after the stream's last one. */
  readonly fastAt: boolean;
  /** One event: its columns travel as scalars (see {@link appendFunctionValues}, {@link fastInsertValues}). */
  readonly single: boolean;
  /** `append_events` sends the NOTIFY itself (an append in a transaction the store does not see commit). */
  readonly notifyInTransaction: boolean;
}

/**
 * Validates and encodes an append before anything is sent: ids, expected version, every payload
 * (through the registry, which also refuses text PostgreSQL cannot hold), distinct event ids.
 * `notifyInTransaction` makes `append_events` send the NOTIFY itself (for appends in a
 * transaction whose commit the store does not see). The statements' parameters are built only
 * for the statement that is sent ({@link appendFunctionValues}, {@link fastInsertValues}, or a
 * coalesced group's row).
 */
export function prepareAppend(
  registry: EventRegistry,
  aggregateId: string,
  expectedVersion: ExpectedVersionMode,
  events: readonly NewEvent[],
  notifyInTransaction: boolean,
): PreparedAppend {
  assertValidId('aggregateId', aggregateId);
  assertExpectedVersion(expectedVersion);
  if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array');
  const n = events.length;
  const encoded = new Array<EncodedEvent>(n);
  for (let index = 0; index < n; index++) {
    const event = registry.encode(events[index]!);
    if (event.timestamp.getTime() < MIN_TIMESTAMP_MS) {
      throw new InvalidArgumentError(`event "${event.type}" has a timestamp before 4713 BC`);
    }
    encoded[index] = event;
  }
  if (n > 1) assertDistinctIds(encoded);
  const exact = typeof expectedVersion === 'number';
  const mode = exact ? 'exact' : expectedVersion;
  if (mode !== 'exact' && mode !== ANY && mode !== NO_STREAM && mode !== STREAM_EXISTS) {
    throw new InvalidArgumentError(`unsupported expected version ${String(mode)}`);
  }
  const base = exact ? (expectedVersion as number) : mode === STREAM_EXISTS ? 1 : 0;
  return {
    aggregateId,
    expectedVersion,
    events: encoded,
    mode,
    base,
    fast: n > 0 && base + n <= MAX_INT4,
    fastAt: exact || mode === NO_STREAM,
    single: n === 1,
    notifyInTransaction,
  };
}

/**
 * The parameters of `append_events` (`appendOne` for one event, whose columns are scalars the
 * statement wraps in arrays server-side: no array literals to escape and parse).
 */
export function appendFunctionValues(prepared: PreparedAppend): unknown[] {
  const { events, expectedVersion, mode } = prepared;
  const head = [prepared.aggregateId, mode, mode === 'exact' ? String(expectedVersion) : null];
  if (prepared.single) return [...head, ...eventColumns(events[0]!), prepared.notifyInTransaction];
  // Several events (or none): each column as an array.
  const rows = events.map(eventColumns);
  const columns = Array.from({ length: EVENT_COLUMN_COUNT }, (_, column) => rows.map((row) => row[column]));
  return [...head, ...columns, prepared.notifyInTransaction];
}

/** The columns of an event in {@link eventColumns}. */
const EVENT_COLUMN_COUNT = 7;

/**
 * One event's columns, in the order both statements take them: event id, aggregate type, type,
 * schema version, payload and metadata JSON, and timestamp.
 */
function eventColumns(event: EncodedEvent): unknown[] {
  return [
    event.eventId,
    event.aggregateType,
    event.type,
    event.schemaVersion,
    event.payloadJson,
    event.metadataJson,
    isoTimestamp(event.timestamp),
  ];
}

/**
 * The parameters of the fast path's INSERT (only for {@link PreparedAppend.fast} appends): `$1`
 * aggregate id, `$2` the base version, then for one event its seven columns as scalars
 * (`$3`..`$9`), and for several the rows as one JSON document (`$3`, see {@link rowsJson}).
 */
export function fastInsertValues(prepared: PreparedAppend): unknown[] {
  const { aggregateId, base, events } = prepared;
  if (!prepared.single) return [aggregateId, base, rowsJson(events)];
  return [aggregateId, base, ...eventColumns(events[0]!)];
}

const twoDigits = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * `date.toISOString()`, built from the date's UTC fields for years 1000 to 9999 (a third of the
 * cost; these timestamps go into every appended row) and by `toISOString` otherwise.
 */
export function isoTimestamp(date: Date): string {
  const year = date.getUTCFullYear();
  if (year < 1000 || year > 9999) return date.toISOString();
  const ms = date.getUTCMilliseconds();
  return (
    `${year}-${twoDigits(date.getUTCMonth() + 1)}-${twoDigits(date.getUTCDate())}T` +
    `${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}:${twoDigits(date.getUTCSeconds())}.` +
    `${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
  );
}

/**
 * The events as one JSON array of rows `[event id, aggregate type, type, schema version,
 * payload, metadata, timestamp]`, for the fast path's multi-event INSERT. Built by concatenation
 * from the JSON the registry already made (the strings through `JSON.stringify`): `pg` sends it
 * as it is, where seven text arrays would have every element escaped on the way out and parsed
 * from an array literal on the way in. Everything in it was checked storable by the registry.
 */
function rowsJson(encoded: readonly EncodedEvent[]): string {
  let json = '[';
  for (let index = 0; index < encoded.length; index++) {
    const event = encoded[index]!;
    json +=
      `${index === 0 ? '' : ','}[${JSON.stringify(event.eventId)},${JSON.stringify(event.aggregateType)},` +
      `${JSON.stringify(event.type)},${event.schemaVersion},${event.payloadJson},${event.metadataJson},` +
      `"${isoTimestamp(event.timestamp)}"]`;
  }
  return `${json}]`;
}

/** True for a JSON object whose values are all scalars: a spread of it is a full copy. */
function isFlat(value: object): boolean {
  for (const entry of Object.values(value)) if (typeof entry === 'object' && entry !== null) return false;
  return true;
}

/**
 * The result of a fresh append, built from what was sent and the positions the server
 * returned, without reading the events back.
 */
export function freshAppendResult(prepared: PreparedAppend, row: AppendRow): AppendResult {
  const positions =
    row.positions == null ? [] : typeof row.positions === 'string' ? row.positions.split(',') : row.positions;
  const count = prepared.events.length;
  const nextVersion = row.next_version;
  if (positions.length !== count || (count > 0 && row.transaction_id === null) || nextVersion === null) {
    throw new StoreFailedError(
      `the append returned ${positions.length} positions for ${count} events; is the schema migrated?`,
    );
  }
  const firstVersion = nextVersion - count + 1;
  const transactionId = count > 0 ? BigInt(row.transaction_id!) : 0n;
  const events = new Array<StoredEvent>(count);
  // Each event gets its own metadata, as stored (through JSON). The events of an append usually
  // share their metadata: its JSON is parsed once, and when flat, copied with a spread.
  let sharedJson: string | undefined;
  let shared: StoredEvent['metadata'] | undefined;
  for (let index = 0; index < count; index++) {
    const event = prepared.events[index]!;
    let metadata: StoredEvent['metadata'];
    if (event.metadataJson === sharedJson && shared) {
      metadata = { ...shared };
    } else {
      metadata = JSON.parse(event.metadataJson) as StoredEvent['metadata'];
      sharedJson = isFlat(metadata) ? event.metadataJson : undefined;
      shared = sharedJson === undefined ? undefined : metadata;
    }
    events[index] = storedEvent(
      prepared.aggregateId,
      event,
      firstVersion + index,
      metadata,
      BigInt(positions[index]!),
      transactionId,
    );
  }
  return {
    aggregateId: prepared.aggregateId,
    nextExpectedVersion: nextVersion,
    events,
    duplicate: false,
  };
}

/**
 * {@link freshAppendResult} of a one-event append written at `version` and `position` by the
 * transaction `transactionId` (a coalesced group's, shared by its appends).
 */
export function oneEventAppendResult(
  prepared: PreparedAppend,
  version: number,
  position: string,
  transactionId: bigint,
): AppendResult {
  const event = prepared.events[0]!;
  const metadata = JSON.parse(event.metadataJson) as StoredEvent['metadata'];
  return {
    aggregateId: prepared.aggregateId,
    nextExpectedVersion: version,
    events: [storedEvent(prepared.aggregateId, event, version, metadata, BigInt(position), transactionId)],
    duplicate: false,
  };
}

function storedEvent(
  aggregateId: string,
  event: EncodedEvent,
  version: number,
  metadata: StoredEvent['metadata'],
  globalPosition: bigint,
  transactionId: bigint,
): StoredEvent {
  return {
    eventId: event.eventId,
    aggregateId,
    aggregateType: event.aggregateType,
    type: event.type,
    version,
    schemaVersion: event.schemaVersion,
    timestamp: new Date(event.timestamp.getTime()),
    payload: event.payload,
    metadata,
    globalPosition,
    transactionId,
  };
}
