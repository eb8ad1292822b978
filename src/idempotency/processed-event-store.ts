/** What {@link ProcessedEventStore.recordOnce} did. */
export type RecordOnceResult<T> =
  | {
      /** This call ran the work and recorded the event as processed. */
      readonly duplicate: false;
      /** What the work returned. */
      readonly result: T;
    }
  | {
      /** The consumer had processed the event already; the work did not run. */
      readonly duplicate: true;
      readonly result: undefined;
    };

/**
 * Which events each consumer has processed: the `processed_events` record of handlers whose
 * effects are not written in the event store's own append (RabbitMQ consumers, projections into
 * other databases, e-mails, payments). A consumer is a stable name, such as `billing-emails`.
 *
 * Guarantees:
 * - **Exactly-once effect** when the handler's writes share the unit of work that
 *   {@link ProcessedEventStore.recordOnce} hands it (PostgreSQL: the same transaction; the record
 *   and the effects commit together, and a concurrent redelivery waits, then sees the record).
 * - **At-least-once** otherwise: an effect outside the unit of work (an HTTP call, another
 *   database) can happen and then the record fail to commit, so a redelivered event runs it again.
 *   Make such effects idempotent themselves (pass the event id as an idempotency key).
 *
 * @typeParam TUnit - what the work receives: nothing in memory; the transaction in PostgreSQL.
 */
export interface ProcessedEventStore<TUnit = undefined> {
  /**
   * Runs `work` for an event unless `consumer` processed it already, and records it as processed
   * in the same unit of work. A `work` that throws records nothing, so a redelivery runs it again.
   * Concurrent calls for one consumer and event: exactly one runs `work`; the others wait and then
   * return `duplicate: true` (or run `work` themselves if the first failed).
   */
  recordOnce<T>(
    consumer: string,
    eventId: string,
    work: (unit: TUnit) => Promise<T>,
  ): Promise<RecordOnceResult<T>>;

  /** True when `consumer` has recorded `eventId` as processed. */
  hasProcessed(consumer: string, eventId: string): Promise<boolean>;

  /**
   * Records `eventId` as processed by `consumer`, for handlers that check and record in steps of
   * their own. Returns `true` when this call recorded it, `false` when it was recorded already.
   */
  markProcessed(consumer: string, eventId: string): Promise<boolean>;
}
