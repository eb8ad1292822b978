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
  /**
   * The parameters of `append_events`: arrays, or for a single event scalars (see
   * {@link PreparedAppend.single}).
   */
  readonly values: unknown[];
  /**
   * The parameters of the fast path's INSERT, or undefined when the append takes the function
   * (no events, or versions past the integer range): `$1` aggregate id, `$2` the base version,
   * then for one event its seven columns as scalars (`$3`..`$9`), and for several the rows as
   * one JSON document (`$3`, see {@link rowsJson}).
   */
  readonly fastValues: unknown[] | undefined;
  /** The fast path inserts after the given version (`exact`, `no_stream`), or after the stream's last one. */
  readonly fastAt: boolean;
  /** One event: `values` holds scalars, for the statement that wraps them in arrays server-side. */
  readonly single: boolean;
}

/**
 * Validates and encodes an append before anything is sent: ids, expected version, every payload
 * (through the registry, which also refuses text PostgreSQL cannot hold), distinct event ids.
 * `notifyInTransaction` makes `append_events` send the NOTIFY itself (for appends in a
 * transaction whose commit the store does not see).
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
  const encoded = events.map((event) => registry.encode(event));
  assertDistinctIds(encoded);
  const n = encoded.length;
  const ids = new Array<string>(n);
  const aggregateTypes = new Array<string>(n);
  const types = new Array<string>(n);
  const schemaVersions = new Array<number>(n);
  const payloads = new Array<string>(n);
  const metadata = new Array<string>(n);
  const timestamps = new Array<string>(n);
  for (let index = 0; index < n; index++) {
    const event = encoded[index]!;
    if (event.timestamp.getTime() < MIN_TIMESTAMP_MS) {
      throw new InvalidArgumentError(`event "${event.type}" has a timestamp before 4713 BC`);
    }
    ids[index] = event.eventId;
    aggregateTypes[index] = event.aggregateType;
    types[index] = event.type;
    schemaVersions[index] = event.schemaVersion;
    payloads[index] = event.payloadJson;
    metadata[index] = event.metadataJson;
    timestamps[index] = event.timestamp.toISOString();
  }
  const exact = typeof expectedVersion === 'number';
  const mode = exact ? 'exact' : expectedVersion;
  if (mode !== 'exact' && mode !== ANY && mode !== NO_STREAM && mode !== STREAM_EXISTS) {
    throw new InvalidArgumentError(`unsupported expected version ${String(mode)}`);
  }
  const head = [aggregateId, mode, exact ? String(expectedVersion) : null];
  // One event (the common case) travels as scalars: no array literals to escape and parse.
  const single = n === 1;
  const columns = [ids, aggregateTypes, types, schemaVersions, payloads, metadata, timestamps];
  const sent = single ? columns.map((column) => column[0]) : columns;
  // The fast path's base: the version to write after (exact, no_stream), or the lowest last
  // version the stream may have (any: 0, stream_exists: 1).
  const fastAt = exact || mode === NO_STREAM;
  const base = exact ? (expectedVersion as number) : mode === STREAM_EXISTS ? 1 : 0;
  const fast = n > 0 && base + n <= MAX_INT4;
  return {
    aggregateId,
    expectedVersion,
    events: encoded,
    values: [...head, ...sent, notifyInTransaction],
    fastValues: fast
      ? single
        ? [aggregateId, base, ...sent]
        : [aggregateId, base, rowsJson(encoded, timestamps)]
      : undefined,
    fastAt,
    single,
  };
}

/**
 * The events as one JSON array of rows `[event id, aggregate type, type, schema version,
 * payload, metadata, timestamp]`, for the fast path's multi-event INSERT. Built by concatenation
 * from the JSON the registry already made (the strings through `JSON.stringify`): `pg` sends it
 * as it is, where seven text arrays would have every element escaped on the way out and parsed
 * from an array literal on the way in. Everything in it was checked storable by the registry.
 */
function rowsJson(encoded: readonly EncodedEvent[], timestamps: readonly string[]): string {
  let json = '[';
  for (let index = 0; index < encoded.length; index++) {
    const event = encoded[index]!;
    json +=
      `${index === 0 ? '' : ','}[${JSON.stringify(event.eventId)},${JSON.stringify(event.aggregateType)},` +
      `${JSON.stringify(event.type)},${event.schemaVersion},${event.payloadJson},${event.metadataJson},` +
      `"${timestamps[index]}"]`;
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
    events[index] = {
      eventId: event.eventId,
      aggregateId: prepared.aggregateId,
      aggregateType: event.aggregateType,
      type: event.type,
      version: firstVersion + index,
      schemaVersion: event.schemaVersion,
      timestamp: new Date(event.timestamp.getTime()),
      payload: event.payload,
      metadata,
      globalPosition: BigInt(positions[index]!),
      transactionId,
    };
  }
  return {
    aggregateId: prepared.aggregateId,
    nextExpectedVersion: nextVersion,
    events,
    duplicate: false,
  };
}
