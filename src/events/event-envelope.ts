/**
 * Keys every event's metadata may carry. User-defined keys are allowed beside them;
 * all values must be JSON-serialisable.
 *
 * @category Events
 */
export interface EventMetadata {
  /** Ties together everything caused by one original request. */
  correlationId?: string;
  /** The id of the command or event that directly caused this event. */
  causationId?: string;
  /** The id of the command that produced this event. */
  commandId?: string;
  /** User-defined keys. */
  [key: string]: unknown;
}

/**
 * An event as an aggregate sees it: the envelope of the article's Order events plus
 * schema version and metadata. `version` is the 1-based position in the aggregate's stream.
 *
 * @typeParam TType - the event type's literal name.
 * @typeParam TPayload - the payload, as inferred from the event's schema (its output type).
 *
 * @category Events
 */
export interface DomainEvent<TType extends string = string, TPayload = unknown> {
  /** Unique id of the event; appending an id again is a safe no-op. */
  readonly eventId: string;
  /** The aggregate (stream) the event belongs to. */
  readonly aggregateId: string;
  /** The aggregate's type, such as `Order`. */
  readonly aggregateType: string;
  /** The event type, such as `OrderCreated`. */
  readonly type: TType;
  /** 1-based position of the event in its aggregate's stream. */
  readonly version: number;
  /** The schema version of `payload`; after reading, always the definition's current one. */
  readonly schemaVersion: number;
  /** When the event was raised. */
  readonly timestamp: Date;
  /** The validated payload. */
  readonly payload: TPayload;
  /** Correlation, causation, command id and user-defined keys. */
  readonly metadata: EventMetadata;
}

/**
 * An event read back from a store: a {@link DomainEvent} with its place in the global log.
 *
 * The global log is ordered by `(transactionId, globalPosition)`; see {@link LogPosition}.
 *
 * @category Events
 */
export interface StoredEvent<TType extends string = string, TPayload = unknown>
  extends DomainEvent<TType, TPayload> {
  /** Unique, increasing number of the event in the whole store. Exact beyond 2^53. */
  readonly globalPosition: bigint;
  /**
   * The order key of the commit that wrote the event (PostgreSQL: the writing transaction's
   * id; in memory: the append's sequence number). Events of one append share it.
   */
  readonly transactionId: bigint;
}

/**
 * An event to append. The store assigns `version`, `globalPosition` and `transactionId`;
 * `eventId`, `timestamp`, `schemaVersion` and `metadata` default when left out.
 *
 * @category Events
 */
export interface NewEvent<TType extends string = string, TPayload = unknown> {
  /** Event type; must be registered with the store's {@link EventRegistry}. */
  readonly type: TType;
  /** Payload; validated against the type's schema before anything is written. */
  readonly payload: TPayload;
  /** The aggregate's type, such as `Order`. */
  readonly aggregateType: string;
  /** Unique id; a new UUIDv7 when left out. Reusing the id of a stored event makes the append a no-op. */
  readonly eventId?: string;
  /** Defaults to now. */
  readonly timestamp?: Date;
  /** Defaults to the definition's current schema version; other values are rejected. */
  readonly schemaVersion?: number;
  /** Defaults to `{}`. */
  readonly metadata?: EventMetadata;
}

/**
 * A position in the global log: the pair that orders it. A reader that has processed the event
 * at this position resumes with the events after it.
 *
 * Ordering by `transactionId` first (the commit) and `globalPosition` second is what lets the
 * PostgreSQL store hand out only events whose transactions have all finished, so a reader never
 * moves past an event that commits later with a lower number.
 *
 * @category Events
 */
export interface LogPosition {
  /** The order key of the commit; see {@link StoredEvent.transactionId}. */
  readonly transactionId: bigint;
  /** The event's global position. */
  readonly globalPosition: bigint;
}

/**
 * The position before the first event of any log.
 *
 * @category Events
 */
export const LOG_START: LogPosition = Object.freeze({ transactionId: 0n, globalPosition: 0n });

/**
 * Compares two log positions: negative when `a` comes first, `0` when equal, positive after.
 *
 * @category Events
 */
export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  if (a.transactionId !== b.transactionId) return a.transactionId < b.transactionId ? -1 : 1;
  if (a.globalPosition !== b.globalPosition) return a.globalPosition < b.globalPosition ? -1 : 1;
  return 0;
}

/**
 * The log position of a stored event.
 *
 * @category Events
 */
export function logPositionOf(event: Pick<StoredEvent, 'transactionId' | 'globalPosition'>): LogPosition {
  return { transactionId: event.transactionId, globalPosition: event.globalPosition };
}

/**
 * Formats a log position as `transactionId:globalPosition`, for logs, checkpoints in text and the CLI.
 * {@link parseLogPosition} reads it back.
 *
 * @category Events
 */
export function formatLogPosition(position: LogPosition): string {
  return `${position.transactionId}:${position.globalPosition}`;
}

/**
 * Reads a position written by {@link formatLogPosition}; returns `undefined` for malformed text.
 *
 * @category Events
 */
export function parseLogPosition(text: string): LogPosition | undefined {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) return undefined;
  return { transactionId: BigInt(match[1]!), globalPosition: BigInt(match[2]!) };
}
