import type { LogPosition, NewEvent, StoredEvent } from '../events/event-envelope.js';
import type { ExpectedVersionMode } from './expected-version.js';
import type { LogHorizon } from './log-horizon.js';
import type { UndecodableEvent } from './undecodable-event.js';

/**
 * What an append wrote, or, for a retried append, what the original append wrote.
 *
 * @category Stores
 */
export interface AppendResult {
  /** The stream appended to. */
  readonly aggregateId: string;
  /** The stream's version after the append: pass it as the next expected version. */
  readonly nextExpectedVersion: number;
  /** The stored events of this append, in order. */
  readonly events: readonly StoredEvent[];
  /** True when every event id was stored already and nothing was written (a safe retry). */
  readonly duplicate: boolean;
}

/**
 * Options of {@link IEventStore.load}.
 *
 * @category Stores
 */
export interface LoadOptions {
  /**
   * Load events with a version of at least this.
   * @defaultValue 1
   */
  readonly fromVersion?: number;
  /**
   * Load events with a version of at most this.
   * @defaultValue the stream's end
   */
  readonly toVersion?: number;
}

/**
 * Options of {@link IEventStore.readAll}.
 *
 * @category Stores
 */
export interface ReadAllOptions {
  /**
   * Read the events after this position (exclusive). It must be a position a store returned
   * (bigints `transactionId` and `globalPosition`, not negative); anything else is an
   * `InvalidArgumentError`, never a read from the start.
   * @defaultValue {@link LOG_START}
   */
  readonly after?: LogPosition;
  /**
   * The most events to return: 1 to 10,000 (`MAX_READ_LIMIT`); more is an `InvalidArgumentError`.
   * @defaultValue 100
   */
  readonly limit?: number;
  /**
   * What to do with a stored event the registry cannot read (unknown type, a payload failing the
   * current schema, an upcaster that throws): `'throw'` fails the read with an error that names
   * the event's id, type, schema version and log position; `'report'` leaves it out of `events`
   * and lists it in {@link ReadAllResult.undecodable}, so a reader can decide per event.
   * @defaultValue `'throw'`
   */
  readonly onUndecodable?: 'throw' | 'report';
  /**
   * Read only events of these types (the filter runs in the store: a PostgreSQL store sends only
   * those rows). `next` then covers the events of other types too: when the page is not full it
   * is the last readable position of the whole log, so a filtered reader neither skips an event
   * of its types nor reads the others again. An empty array matches no event.
   * @defaultValue every type
   */
  readonly types?: readonly string[];
}

/**
 * Options of {@link IEventStore.countAfter}.
 *
 * @category Stores
 */
export interface CountAfterOptions {
  /**
   * Count only events of these types (as `readAll`'s `types`).
   * @defaultValue every type
   */
  readonly types?: readonly string[];
}

/**
 * One page of the global log.
 *
 * @category Stores
 */
export interface ReadAllResult {
  /** The events, in log order. */
  readonly events: readonly StoredEvent[];
  /**
   * With `onUndecodable: 'report'`: the events of the page that could not be read, in log order;
   * empty otherwise. A store that predates the option may leave it out.
   */
  readonly undecodable?: readonly UndecodableEvent[];
  /**
   * Where the next read starts: the position of the last event the page covered (read or not),
   * or `after` when there were none.
   */
  readonly next: LogPosition;
  /** True when the page held fewer than `limit` events: the reader has caught up for now. */
  readonly caughtUp: boolean;
}

/**
 * The end of the global log as readers can see it now.
 *
 * @category Stores
 */
export interface LogHead {
  /** The position of the last readable event, or {@link LOG_START} for an empty log. */
  readonly position: LogPosition;
  /** When that event was raised; `undefined` for an empty log. */
  readonly timestamp: Date | undefined;
}

/**
 * Stops a subscription.
 *
 * @category Stores
 */
export type Unsubscribe = () => void;

/**
 * An append-only event store: streams of events per aggregate with optimistic concurrency,
 * and one global log that readers follow in order without ever skipping an event.
 *
 * Every adapter passes the contract suite in `annals/testing`
 * (`describeEventStoreContract`), which is the precise definition of this interface.
 *
 * @example
 * ```ts
 * import {
 *   defineEvent,
 *   EventRegistry,
 *   type IEventStore,
 *   InMemoryEventStore,
 *   LOG_START,
 *   NO_STREAM,
 * } from 'annals';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'OrderPlaced', schema: z.object({ total: z.number() }) });
 * const store: IEventStore = new InMemoryEventStore({ registry: new EventRegistry([OrderPlaced]) });
 *
 * // Write a stream with optimistic concurrency, then read it back.
 * const { nextExpectedVersion } = await store.append('order-1', NO_STREAM, [
 *   { type: 'OrderPlaced', aggregateType: 'Order', payload: { total: 42 } },
 * ]);
 * const history = await store.load('order-1'); // [OrderPlaced at version 1]
 *
 * // Follow the global log: keep `next` as the checkpoint and read after it.
 * const page = await store.readAll({ after: LOG_START, limit: 100 });
 * const more = await store.readAll({ after: page.next });
 * ```
 *
 * @category Stores
 */
export interface IEventStore {
  /**
   * Appends events to a stream, atomically: all of them or none.
   *
   * - `expectedVersion` is checked atomically with the write; a mismatch throws
   *   {@link ConcurrencyError} with the actual version, and nothing is written.
   * - Payloads are validated by the store's {@link EventRegistry} before anything is written.
   * - If every event's `eventId` is already stored as this append, nothing is written and the
   *   original result is returned with `duplicate: true`. If only some are, or in another stream,
   *   {@link DuplicateEventError} is thrown.
   * - An empty `events` array checks `expectedVersion` and returns the current version.
   */
  append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult>;

  /** The events of a stream in version order; an empty array when the stream does not exist. */
  load(aggregateId: string, options?: LoadOptions): Promise<StoredEvent[]>;

  /** The stream's current version; `0` when it does not exist. */
  streamVersion(aggregateId: string): Promise<number>;

  /**
   * Reads the global log after a position, in order. Only events whose writes have finished
   * are returned, and none that finishes later can sort before them: a reader that checkpoints
   * `next` never skips an event.
   */
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;

  /**
   * The end of the global log as {@link IEventStore.readAll} sees it. A log read may show a
   * commit a moment late; `head()` should not: it includes every event committed before the
   * call that an unfinished older transaction does not hold back, because
   * `ProjectionRunner.catchUp()` processes up to it.
   */
  head(): Promise<LogHead>;

  /**
   * How many readable events come after `position`. A malformed position (see `readAll`'s
   * `after`) is an `InvalidArgumentError`.
   */
  countAfter(position: LogPosition, options?: CountAfterOptions): Promise<bigint>;

  /**
   * Optional: where the readable end of the log stands and which unfinished transaction, if
   * any, holds it back (stores whose log never waits for anyone leave it out). Projection
   * status reports it.
   */
  readHorizon?(): Promise<LogHorizon>;

  /**
   * Calls `listener` soon after events were appended (by this process or, where the backend
   * supports it, by others). A hint to wake readers; readers still poll, since hints may be lost.
   */
  onAppended(listener: () => void): Unsubscribe;

  /** Releases what the store holds (listeners, connections it opened itself). */
  close(): Promise<void>;
}
