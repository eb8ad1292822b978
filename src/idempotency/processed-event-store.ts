import type { RunOnceResult } from './command-log.js';

/**
 * The record of an event a consumer has processed.
 *
 * @category Idempotency
 */
export interface ProcessedEvent {
  /** The consumer that processed the event. */
  readonly consumer: string;
  /** The event's id. */
  readonly eventId: string;
  /** When the event was recorded as processed. */
  readonly processedAt: Date;
}

/**
 * Which events each consumer has processed: the `processed_events` record of handlers whose
 * effects are not written in the event store's own append (RabbitMQ consumers, projections into
 * other databases, e-mails, payments). A consumer is a stable name, such as `billing-emails`.
 *
 * It speaks the vocabulary of {@link CommandLog}: {@link ProcessedEventStore.runOnce} runs work
 * once and records it, answering with a {@link RunOnceResult}; {@link ProcessedEventStore.find}
 * returns the record or `undefined`. No result is stored, so a duplicate's `result` is
 * `undefined`. Records do not expire.
 *
 * Guarantees:
 * - **Exactly-once effect** when the handler's writes share the unit of work that
 *   {@link ProcessedEventStore.runOnce} hands it (PostgreSQL: the same transaction; the record
 *   and the effects commit together, and a concurrent redelivery waits, then sees the record).
 * - **At-least-once** otherwise: an effect outside the unit of work (an HTTP call, another
 *   database) can happen and then the record fail to commit, so a redelivered event runs it again.
 *   Make such effects idempotent themselves (pass the event id as an idempotency key).
 *
 * @typeParam TUnit - what the work receives: nothing in memory; the transaction's client in
 *   PostgreSQL.
 *
 * @example
 * ```ts
 * import { InMemoryProcessedEventStore, type ProcessedEventStore, type StoredEvent } from 'annals';
 *
 * const processed: ProcessedEventStore = new InMemoryProcessedEventStore();
 *
 * // A consumer that may see an event twice (redelivery) sends the e-mail once.
 * async function onOrderPlaced(event: StoredEvent, sendMail: (orderId: string) => Promise<void>) {
 *   const { duplicate } = await processed.runOnce('order-emails', event.eventId, () =>
 *     sendMail(event.aggregateId),
 *   );
 *   if (duplicate) console.log(`event ${event.eventId} was handled already`);
 * }
 * ```
 *
 * @category Idempotency
 */
export interface ProcessedEventStore<TUnit = undefined> {
  /**
   * Runs `work` for an event unless `consumer` processed it already, and records it as processed
   * in the same unit of work. A `work` that throws records nothing, so a redelivery runs it again.
   * Concurrent calls for one consumer and event: exactly one runs `work`; the others wait and then
   * return `duplicate: true` with the first run's record (or run `work` themselves if the first
   * failed). Throws {@link annals!InvalidArgumentError} for an unusable consumer or event id.
   */
  runOnce<T>(
    consumer: string,
    eventId: string,
    work: (unit: TUnit) => Promise<T>,
  ): Promise<RunOnceResult<T, ProcessedEvent, undefined>>;

  /** The record of `eventId` processed by `consumer`, or `undefined`. */
  find(consumer: string, eventId: string): Promise<ProcessedEvent | undefined>;

  /**
   * Records `eventId` as processed by `consumer` without running anything, for handlers that
   * check and record in steps of their own. Returns `true` when this call recorded it, `false`
   * when it was recorded already.
   */
  record(consumer: string, eventId: string): Promise<boolean>;

  /**
   * Whether an error thrown inside a unit of work of {@link ProcessedEventStore.runOnce} means the
   * store failed (lost connection, server shut down) rather than the work: consumers retry such
   * errors without counting them against a handler (as `ProjectionStore.isTransientError`).
   * @defaultValue only the transient annals errors count ({@link isTransientError})
   */
  isTransientError?(error: unknown): boolean;
}
