import { DuplicateEventError, InvalidArgumentError } from '../errors.js';
import {
  compareLogPositions,
  LOG_START,
  type LogPosition,
  logPositionOf,
  type NewEvent,
  type StoredEvent,
} from '../events/event-envelope.js';
import {
  assertValidId,
  type EncodedEvent,
  type EventRegistry,
  type RawStoredEvent,
} from '../events/event-registry.js';
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

interface MemoryRow {
  readonly eventId: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly type: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly timestamp: Date;
  readonly payloadJson: string;
  readonly metadataJson: string;
  readonly globalPosition: bigint;
  readonly transactionId: bigint;
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
  readonly #byEventId = new Map<string, MemoryRow>();
  readonly #listeners = new Set<() => void>();
  #nextTransactionId = 1n;

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
    const encoded = events.map((event) => this.#registry.encode(event));
    assertDistinctIds(encoded);

    // From here to the end of the write nothing awaits: the check and the write are atomic.
    const duplicate = this.#findDuplicate(aggregateId, encoded);
    if (duplicate) return duplicate;

    const stream = this.#streams.get(aggregateId) ?? [];
    checkExpectedVersion(aggregateId, expectedVersion, stream.length);
    if (encoded.length === 0) {
      return { aggregateId, nextExpectedVersion: stream.length, events: [], duplicate: false };
    }
    const transactionId = this.#nextTransactionId++;
    const rows = encoded.map(
      (event, index): MemoryRow => ({
        eventId: event.eventId,
        aggregateId,
        aggregateType: event.aggregateType,
        type: event.type,
        version: stream.length + index + 1,
        schemaVersion: event.schemaVersion,
        timestamp: event.timestamp,
        payloadJson: event.payloadJson,
        metadataJson: event.metadataJson,
        globalPosition: BigInt(this.#log.length + index + 1),
        transactionId,
      }),
    );
    stream.push(...rows);
    this.#streams.set(aggregateId, stream);
    for (const row of rows) {
      this.#log.push(row);
      this.#byEventId.set(row.eventId, row);
    }
    this.#notify();
    return {
      aggregateId,
      nextExpectedVersion: stream.length,
      events: rows.map((row) => this.#decode(row)),
      duplicate: false,
    };
  }

  load(aggregateId: string, options: LoadOptions = {}): Promise<StoredEvent[]> {
    return instrumentLoad(MEMORY_TARGET, aggregateId, async () => {
      assertValidId('aggregateId', aggregateId);
      const { fromVersion, toVersion } = normaliseLoadRange(options);
      const stream = this.#streams.get(aggregateId) ?? [];
      return stream.slice(fromVersion - 1, toVersion).map((row) => this.#decode(row));
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
    // Positions and transaction ids both grow with the log, so the first event after `after`
    // is found by binary search on the position.
    let low = 0;
    let high = this.#log.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareLogPositions(logPositionOf(this.#log[middle]!), after) <= 0) low = middle + 1;
      else high = middle;
    }
    const rows = types ? this.#rowsOfTypes(low, limit, new Set(types)) : this.#log.slice(low, low + limit);
    const { events, undecodable } = decodeLogPage(
      this.#registry,
      rows.map((row) => this.#raw(row)),
      options.onUndecodable ?? 'throw',
    );
    // A filtered page that is not full covered the whole log: `next` skips the other types too.
    const last = types && rows.length < limit && this.#log.length > low ? this.#log.at(-1) : rows.at(-1);
    return {
      events,
      undecodable,
      next: last ? logPositionOf(last) : after,
      caughtUp: rows.length < limit,
    };
  }

  async head(): Promise<LogHead> {
    const last = this.#log.at(-1);
    return last
      ? { position: logPositionOf(last), timestamp: last.timestamp }
      : { position: LOG_START, timestamp: undefined };
  }

  async countAfter(position: LogPosition, options: CountAfterOptions = {}): Promise<bigint> {
    assertLogPosition(position, 'countAfter: position');
    const types = normaliseTypes(options.types);
    const wanted = types ? new Set(types) : undefined;
    let count = 0n;
    for (let index = this.#log.length - 1; index >= 0; index--) {
      const row = this.#log[index]!;
      if (compareLogPositions(logPositionOf(row), position) <= 0) break;
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

  #findDuplicate(aggregateId: string, encoded: readonly EncodedEvent[]): AppendResult | undefined {
    const found = encoded.map((event) => this.#byEventId.get(event.eventId));
    if (found.every((row) => row === undefined)) return undefined;
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

  #raw(row: MemoryRow): RawStoredEvent {
    return {
      eventId: row.eventId,
      aggregateId: row.aggregateId,
      aggregateType: row.aggregateType,
      type: row.type,
      version: row.version,
      schemaVersion: row.schemaVersion,
      timestamp: new Date(row.timestamp.getTime()),
      payload: JSON.parse(row.payloadJson),
      metadata: JSON.parse(row.metadataJson),
      globalPosition: row.globalPosition,
      transactionId: row.transactionId,
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

/** Throws {@link InvalidArgumentError} when one append holds the same event id twice. */
export function assertDistinctIds(encoded: readonly EncodedEvent[]): void {
  const seen = new Set<string>();
  for (const event of encoded) {
    if (seen.has(event.eventId)) {
      throw new InvalidArgumentError(`event id "${event.eventId}" appears twice in one append`);
    }
    seen.add(event.eventId);
  }
}
