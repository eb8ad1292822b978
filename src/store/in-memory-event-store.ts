import { DuplicateEventError, InvalidArgumentError } from '../errors.js';
import {
  type EventMetadata,
  LOG_START,
  type LogPosition,
  type NewEvent,
  type StoredEvent,
} from '../events/event-envelope.js';
import {
  assertValidId,
  type CopiedEvent,
  type EventRegistry,
  encodeToCopy,
  type RawStoredEvent,
} from '../events/event-registry.js';
import { copyJson } from '../events/json-copy.js';
import {
  instrumentAppend,
  instrumentLoad,
  type StoreTelemetryTarget,
  storeTelemetryTarget,
} from '../observability/store-telemetry.js';
import { assertLogPosition } from './assert-log-position.js';
import type {
  AppendResult,
  CountAfterOptions,
  IEventStore,
  LoadOptions,
  LogHead,
  ReadAllOptions,
  ReadAllResult,
  Unsubscribe,
} from './event-store.js';
import { assertExpectedVersion, checkExpectedVersion, type ExpectedVersionMode } from './expected-version.js';
import { normaliseLimit, normaliseLoadRange, normaliseTypes } from './read-options.js';
import { decodeLogPage } from './undecodable-event.js';

/**
 * A stored event. Payload and metadata are the store's own deep copies (what a round trip through
 * JSON text gives): never handed out, every read gets a fresh copy. Numbers, not bigints or a
 * Date, keep a row small: a million events are a million rows to garbage-collect.
 */
interface MemoryRow {
  readonly eventId: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly type: string;
  readonly version: number;
  readonly schemaVersion: number;
  /**
   * The timestamp in milliseconds is `timestampHigh * 2^24 + timestampLow`: two small integers
   * sit in the row itself, where one number this large would be an object of its own.
   */
  readonly timestampHigh: number;
  readonly timestampLow: number;
  readonly payload: unknown;
  readonly metadata: EventMetadata;
  readonly globalPosition: number;
  readonly transactionId: number;
}

const TIMESTAMP_SPLIT = 2 ** 24;

function timestampOf(row: MemoryRow): Date {
  return new Date(row.timestampHigh * TIMESTAMP_SPLIT + row.timestampLow);
}

/**
 * True when two stored metadata copies are equal objects of primitive values with their keys in
 * the same order: a row can then share the earlier copy (stored copies are never handed out).
 */
function sameFlatMetadata(a: EventMetadata, b: EventMetadata): boolean {
  const keys = Object.keys(a);
  const others = Object.keys(b);
  if (keys.length !== others.length) return false;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const value = a[key];
    if (key !== others[index] || value !== b[key] || (typeof value === 'object' && value !== null)) {
      return false;
    }
  }
  return true;
}

const MEMORY_TARGET: StoreTelemetryTarget = storeTelemetryTarget('memory');

/**
 * Options of {@link InMemoryEventStore}.
 *
 * @category Stores
 */
export interface InMemoryEventStoreOptions {
  /** The event types the store accepts, with their schemas (and upcasters). */
  readonly registry: EventRegistry;
}

/**
 * An event store in process memory, with the same semantics as the PostgreSQL store: atomic
 * appends, every expected-version mode, idempotent event ids and an ordered global log.
 * For unit tests, examples and prototypes; it keeps nothing across restarts.
 *
 * Each append runs its checks and its write in one synchronous step, so interleaved async
 * appends to one stream behave like racing database transactions: exactly one wins per version.
 *
 * @example
 * ```ts
 * const store = new InMemoryEventStore({ registry: new EventRegistry([OrderCreated]) });
 * await store.append('order-1', NO_STREAM, [{ type: 'OrderCreated', aggregateType: 'Order', payload }]);
 * ```
 *
 * @category Stores
 */
export class InMemoryEventStore implements IEventStore {
  readonly #registry: EventRegistry;
  readonly #streams = new Map<string, MemoryRow[]>();
  readonly #log: MemoryRow[] = [];
  /**
   * The rows whose ids the registry made in this store's appends, in log order: those ids only
   * grow (see `newEventId`), so they are found by binary search, with no index entry per event.
   */
  readonly #generated: MemoryRow[] = [];
  /** The rows of every other id (given by the caller), by id. */
  readonly #byEventId = new Map<string, MemoryRow>();
  readonly #listeners = new Set<() => void>();
  #nextTransactionId = 1;
  /** The metadata copy of the last row, which the next row shares when its metadata is the same. */
  #lastMetadata: EventMetadata | undefined;

  constructor(options: InMemoryEventStoreOptions) {
    if (!options?.registry) throw new InvalidArgumentError('InMemoryEventStore needs a `registry`');
    this.#registry = options.registry;
  }

  /** The registry the store validates and decodes with. */
  get registry(): EventRegistry {
    return this.#registry;
  }

  append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    return instrumentAppend(MEMORY_TARGET, aggregateId, expectedVersion, events, (traced) =>
      this.#append(aggregateId, expectedVersion, traced),
    );
  }

  async #append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    assertValidId('aggregateId', aggregateId);
    assertExpectedVersion(expectedVersion);
    if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array');
    const count = events.length;
    const encoded = new Array<CopiedEvent>(count);
    for (let index = 0; index < count; index++) encoded[index] = encodeToCopy(this.#registry, events[index]!);
    if (count > 1) assertDistinctIds(encoded);

    // From here to the end of the write nothing awaits: the check and the write are atomic.
    const duplicate = this.#findDuplicate(aggregateId, encoded);
    if (duplicate) return duplicate;

    let stream = this.#streams.get(aggregateId);
    const current = stream === undefined ? 0 : stream.length;
    checkExpectedVersion(aggregateId, expectedVersion, current);
    if (count === 0) {
      return { aggregateId, nextExpectedVersion: current, events: [], duplicate: false };
    }
    if (stream === undefined) {
      stream = [];
      this.#streams.set(aggregateId, stream);
    }
    const log = this.#log;
    const transactionId = this.#nextTransactionId++;
    const transactionIdBig = BigInt(transactionId);
    const stored = new Array<StoredEvent>(count);
    for (let index = 0; index < count; index++) {
      const event = encoded[index]!;
      let metadata = event.metadataCopy;
      const last = this.#lastMetadata;
      if (last !== undefined && metadata !== last && sameFlatMetadata(metadata, last)) metadata = last;
      else this.#lastMetadata = metadata;
      const high = Math.floor(event.timestampMs / TIMESTAMP_SPLIT);
      const row: MemoryRow = {
        eventId: event.eventId,
        aggregateId,
        aggregateType: event.aggregateType,
        type: event.type,
        version: current + index + 1,
        schemaVersion: event.schemaVersion,
        timestampHigh: high,
        timestampLow: event.timestampMs - high * TIMESTAMP_SPLIT,
        payload: event.payloadCopy,
        metadata,
        globalPosition: log.length + 1,
        transactionId,
      };
      stream.push(row);
      log.push(row);
      this.#index(row, event.generatedId);
      // The append's result, as the PostgreSQL store's: the payload as validated on the way in
      // (the stored copy is the store's own), fresh metadata, timestamp and positions.
      stored[index] = {
        eventId: row.eventId,
        aggregateId,
        aggregateType: row.aggregateType,
        type: row.type,
        version: row.version,
        schemaVersion: row.schemaVersion,
        timestamp: new Date(event.timestampMs),
        payload: event.payload,
        metadata: copyJson(row.metadata),
        globalPosition: BigInt(row.globalPosition),
        transactionId: transactionIdBig,
      };
    }
    if (this.#listeners.size > 0) this.#notify();
    return { aggregateId, nextExpectedVersion: stream.length, events: stored, duplicate: false };
  }

  load(aggregateId: string, options: LoadOptions = {}): Promise<StoredEvent[]> {
    return instrumentLoad(MEMORY_TARGET, aggregateId, async () => {
      assertValidId('aggregateId', aggregateId);
      const { fromVersion, toVersion } = normaliseLoadRange(options);
      const stream = this.#streams.get(aggregateId);
      if (stream === undefined) return [];
      const end = Math.min(toVersion, stream.length);
      const events: StoredEvent[] = [];
      for (let index = fromVersion - 1; index < end; index++) events.push(this.#decode(stream[index]!));
      return events;
    });
  }

  async streamVersion(aggregateId: string): Promise<number> {
    assertValidId('aggregateId', aggregateId);
    return this.#streams.get(aggregateId)?.length ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    // Only a missing `after` means the start: null or any other malformed value is refused.
    const after = options.after === undefined ? LOG_START : options.after;
    assertLogPosition(after, 'readAll: after');
    const limit = normaliseLimit(options.limit);
    const types = normaliseTypes(options.types);
    const log = this.#log;
    // Positions and transaction ids both grow with the log, so the first event after `after`
    // is found by binary search on the position.
    let low = 0;
    let high = log.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (isAtOrBefore(log[middle]!, after)) low = middle + 1;
      else high = middle;
    }
    const rows = types ? this.#rowsOfTypes(low, limit, new Set(types)) : log.slice(low, low + limit);
    const raws = new Array<RawStoredEvent>(rows.length);
    for (let index = 0; index < rows.length; index++) raws[index] = this.#raw(rows[index]!);
    const { events, undecodable } = decodeLogPage(this.#registry, raws, options.onUndecodable ?? 'throw');
    // A filtered page that is not full covered the whole log: `next` skips the other types too.
    const last = types && rows.length < limit && log.length > low ? log.at(-1) : rows.at(-1);
    return {
      events,
      undecodable,
      next: last ? positionOf(last) : after,
      caughtUp: rows.length < limit,
    };
  }

  async head(): Promise<LogHead> {
    const last = this.#log.at(-1);
    return last
      ? { position: positionOf(last), timestamp: timestampOf(last) }
      : { position: LOG_START, timestamp: undefined };
  }

  async countAfter(position: LogPosition, options: CountAfterOptions = {}): Promise<bigint> {
    assertLogPosition(position, 'countAfter: position');
    const types = normaliseTypes(options.types);
    const wanted = types ? new Set(types) : undefined;
    let count = 0n;
    for (let index = this.#log.length - 1; index >= 0; index--) {
      const row = this.#log[index]!;
      if (isAtOrBefore(row, position)) break;
      if (!wanted || wanted.has(row.type)) count++;
    }
    return count;
  }

  onAppended(listener: () => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** Makes a new row findable by its id. */
  #index(row: MemoryRow, generatedId: boolean): void {
    const generated = this.#generated;
    // A made id goes to the sorted list when it sorts after the last one there (they always do:
    // ids are made in increasing order and written at once); any other id to the map.
    if (generatedId && (generated.length === 0 || row.eventId > generated[generated.length - 1]!.eventId)) {
      generated.push(row);
    } else {
      this.#byEventId.set(row.eventId, row);
    }
  }

  /** The row of an event id, if it is stored. */
  #find(eventId: string): MemoryRow | undefined {
    if (this.#byEventId.size > 0) {
      const row = this.#byEventId.get(eventId);
      if (row !== undefined) return row;
    }
    const generated = this.#generated;
    let high = generated.length;
    if (high === 0 || eventId > generated[high - 1]!.eventId || eventId < generated[0]!.eventId) {
      return undefined;
    }
    let low = 0;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (generated[middle]!.eventId < eventId) low = middle + 1;
      else high = middle;
    }
    const row = generated[low];
    return row !== undefined && row.eventId === eventId ? row : undefined;
  }

  #findDuplicate(aggregateId: string, encoded: readonly CopiedEvent[]): AppendResult | undefined {
    let found: Array<MemoryRow | undefined> | undefined;
    for (let index = 0; index < encoded.length; index++) {
      const row = this.#find(encoded[index]!.eventId);
      if (row === undefined) continue;
      found ??= new Array<MemoryRow | undefined>(encoded.length).fill(undefined);
      found[index] = row;
    }
    if (found === undefined) return undefined;
    for (let index = 0; index < encoded.length; index++) {
      if (found[index] === undefined) found[index] = this.#find(encoded[index]!.eventId);
    }
    const first = found[0];
    const sameAppend =
      first !== undefined &&
      first.aggregateId === aggregateId &&
      found.every(
        (row, index) =>
          row !== undefined &&
          row.aggregateId === aggregateId &&
          row.transactionId === first.transactionId &&
          row.version === first.version + index,
      );
    if (!sameAppend) {
      const id = encoded[found.findIndex((row) => row !== undefined)]!.eventId;
      throw new DuplicateEventError(id, 'it belongs to another stream or another append');
    }
    const rows = found as MemoryRow[];
    // The original append's result: its version is that of its last event, as when it first ran.
    const nextExpectedVersion = rows.at(-1)!.version;
    return {
      aggregateId,
      nextExpectedVersion,
      events: rows.map((row) => this.#decode(row)),
      duplicate: true,
    };
  }

  /** The first `limit` rows from index `from` on whose type is in `types`. */
  #rowsOfTypes(from: number, limit: number, types: ReadonlySet<string>): MemoryRow[] {
    const rows: MemoryRow[] = [];
    for (let index = from; index < this.#log.length && rows.length < limit; index++) {
      const row = this.#log[index]!;
      if (types.has(row.type)) rows.push(row);
    }
    return rows;
  }

  #decode(row: MemoryRow): StoredEvent {
    return this.#registry.decode(this.#raw(row));
  }

  /** A row as read: fresh copies of everything, for the registry to upcast and validate. */
  #raw(row: MemoryRow): RawStoredEvent {
    return {
      eventId: row.eventId,
      aggregateId: row.aggregateId,
      aggregateType: row.aggregateType,
      type: row.type,
      version: row.version,
      schemaVersion: row.schemaVersion,
      timestamp: timestampOf(row),
      payload: copyJson(row.payload),
      metadata: copyJson(row.metadata),
      globalPosition: BigInt(row.globalPosition),
      transactionId: BigInt(row.transactionId),
    };
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      queueMicrotask(() => {
        try {
          listener();
        } catch {
          // A listener's failure is its own; appends never fail because of it.
        }
      });
    }
  }
}

/** The log position of a row. */
function positionOf(row: MemoryRow): LogPosition {
  return { transactionId: BigInt(row.transactionId), globalPosition: BigInt(row.globalPosition) };
}

/** True when `row` is at `position` or before it in the log (numbers and bigints compare exactly). */
function isAtOrBefore(row: MemoryRow, position: LogPosition): boolean {
  if (row.transactionId !== Number(position.transactionId)) return row.transactionId < position.transactionId;
  return row.globalPosition <= position.globalPosition;
}

/** Throws {@link InvalidArgumentError} when one append holds the same event id twice. */
export function assertDistinctIds(encoded: readonly { readonly eventId: string }[]): void {
  const seen = new Set<string>();
  for (const event of encoded) {
    if (seen.has(event.eventId)) {
      throw new InvalidArgumentError(`event id "${event.eventId}" appears twice in one append`);
    }
    seen.add(event.eventId);
  }
}
