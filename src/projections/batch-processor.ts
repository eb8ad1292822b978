import { ErrorCode, isAnnalsError, isTransientError, ProjectionError } from '../errors.js';
import {
  compareLogPositions,
  formatLogPosition,
  type LogPosition,
  logPositionOf,
  type StoredEvent,
} from '../events/event-envelope.js';
import {
  errorType,
  extractTraceparent,
  secondsSince,
  telemetry,
  withSpan,
} from '../observability/telemetry.js';
import { backoffDelayMs, sleep } from '../retry.js';
import { storedEventOf, type UndecodableEvent } from '../store/undecodable-event.js';
import { applyProjectionEvent, type Projection } from './define-projection.js';
import {
  ProjectionHandlerError,
  toDeadLetterError,
  UndecodableEventError,
} from './projection-handler-error.js';
import type {
  DeadLetter,
  ProjectionCheckpoint,
  ProjectionStore,
  ProjectionTransaction,
} from './projection-store.js';
import type { RunnerSettings } from './runner-settings.js';

/** The stored checkpoint is not the one a unit of work built on: another runner moved it. */
export class CheckpointMovedError extends ProjectionError {
  constructor(projection: string) {
    super(projection, 'the checkpoint moved under this runner: another runner is processing the projection');
  }
}

/** How one call of {@link BatchProcessor.process} runs. */
export interface ProcessOptions {
  /** Aborts retry delays. */
  readonly signal: AbortSignal | undefined;
  /** Passed to handlers. */
  readonly rebuilding: boolean;
  /** Checked between units of work; `false` ends the call early (stop requested, lease lost). */
  readonly shouldContinue: () => boolean;
}

interface HandlerFailure {
  /**
   * Index of the failing event in the unit of work; {@link UNATTRIBUTED} when the unit failed
   * permanently but no handler threw (a handler swallowed an SQL error that aborted the
   * transaction, say): the event at fault is found by applying the events one at a time.
   */
  readonly index: number;
  readonly error: unknown;
}

const UNATTRIBUTED = -1;

/** A position of the log and the timestamp of the event there: what a checkpoint records. */
type LogMark = Pick<StoredEvent, 'transactionId' | 'globalPosition' | 'timestamp'>;

/**
 * Applies events read from the log to one projection, in units of work of the projection store,
 * and keeps the checkpoint those units built. Failing events are isolated, retried with backoff,
 * then parked or reported per the projection's policy.
 */
function batchAttributes(
  projection: string,
  events: readonly StoredEvent[],
  rebuilding: boolean,
): Record<string, string | number | boolean> {
  const first = events[0];
  const last = events.at(-1);
  return {
    'annals.projection': projection,
    'annals.event.count': events.length,
    'annals.rebuilding': rebuilding,
    ...(first && last
      ? {
          'annals.log.position.first': formatLogPosition(logPositionOf(first)),
          'annals.log.position.last': formatLogPosition(logPositionOf(last)),
        }
      : {}),
  };
}

export class BatchProcessor<TContext> {
  /** The checkpoint as last loaded or committed; `undefined` when it must be loaded again. */
  checkpoint: ProjectionCheckpoint | undefined;
  /**
   * The fence of the lease the runner holds, passed with every checkpoint save (`fence` of
   * {@link ProjectionTransaction.saveCheckpoint}'s update): saves fail once a newer holder took
   * the lease. `undefined` without a lease, or with a store that does not fence.
   */
  fence: bigint | undefined;

  constructor(
    private readonly projection: Projection<TContext>,
    private readonly store: ProjectionStore<TContext>,
    private readonly settings: RunnerSettings,
    /** Called with the checkpoint after each load and each commit. */
    private readonly onCheckpoint: (checkpoint: ProjectionCheckpoint) => void,
    /** Called when an event was parked as a dead letter. */
    private readonly report: (error: ProjectionError) => void,
  ) {}

  /** Loads the stored checkpoint. */
  async load(): Promise<ProjectionCheckpoint> {
    const checkpoint = await this.store.loadCheckpoint(this.projection.name);
    this.checkpoint = checkpoint;
    this.onCheckpoint(checkpoint);
    return checkpoint;
  }

  /**
   * Processes `events`, which must be the events right after the checkpoint, in log order.
   * Returns how many of them the checkpoint moved past. All of them go in one unit of work; when a
   * handler fails, the events before it are committed on their own, and the failing event is
   * retried alone, then parked (`'dead-letter'`) or reported with {@link ProjectionHandlerError}
   * (`'stop'`). A unit that fails permanently although no handler threw (the store refused its
   * statements or its commit) is split into single events, and the event whose unit still fails
   * goes through the same retries to a dead letter. Transient failures of the store propagate
   * without counting against any handler; the checkpoint must then be loaded again.
   */
  process(events: readonly StoredEvent[], options: ProcessOptions): Promise<number> {
    const found = telemetry();
    if (found === null || !found.live) return this.#process(events, options);
    const instruments = found.instruments;
    const attributes = { 'annals.projection': this.projection.name };
    const start = performance.now();
    let outcome: Record<string, string> = attributes;
    return withSpan(
      'annals.projection.batch',
      {
        attributes: batchAttributes(this.projection.name, events, options.rebuilding),
        links: events.map((event) => extractTraceparent(event.metadata)),
      },
      async (span) => {
        const processed = await this.#process(events, options);
        span?.setAttribute('annals.event.processed_count', processed);
        if (processed > 0) instruments?.eventsProcessed.add(processed, attributes);
        return processed;
      },
    )
      .catch((error: unknown) => {
        outcome = { ...attributes, 'error.type': errorType(error) };
        throw error;
      })
      .finally(() => instruments?.batchDuration.record(secondsSince(start), outcome));
  }

  async #process(events: readonly StoredEvent[], options: ProcessOptions): Promise<number> {
    let from = 0;
    let singly = false;
    const end = () => (singly ? Math.min(from + 1, events.length) : events.length);
    let to = events.length;
    let failed: HandlerFailure | undefined;
    while (from < events.length) {
      if (from > 0 && !options.shouldContinue()) break;
      if (failed?.index === from) {
        const advanced = await this.#retryAlone(events[from]!, failed.error, options);
        failed = undefined;
        if (!advanced) break;
        from += 1;
        to = end();
        continue;
      }
      const failure = await this.#commit(events.slice(from, to), 1, options.rebuilding);
      if (failure === undefined) {
        from = to;
        to = end();
      } else if (failure.index === UNATTRIBUTED) {
        singly = true;
        to = end();
      } else {
        // Commit the events before the failing one first (if any), then retry it alone.
        failed = { index: from + failure.index, error: failure.error };
        to = failed.index;
      }
    }
    return from;
  }

  /**
   * Settles an event of the log that cannot be read, which must come right after the checkpoint:
   * a projection without a handler for its type moves its checkpoint past it; otherwise the
   * projection's `onUndecodable` policy parks it as a dead letter (`'dead-letter'`) or stops the
   * projection with an {@link UndecodableEventError} (`'stop'`).
   */
  async settleUndecodable(item: UndecodableEvent): Promise<void> {
    const event = storedEventOf(item);
    if (!this.projection.handlerFor(event.type)) {
      await this.#unitOfWork(event, async (transaction) => {
        await this.#saveCheckpoint(transaction, event);
      });
      return;
    }
    const stopped = new UndecodableEventError(this.projection.name, event, item.error);
    if (this.projection.onUndecodable === 'stop') throw stopped;
    await this.#park(event, item.error, 0);
    this.report(stopped);
  }

  /**
   * Moves the checkpoint to `position` without applying anything: the events up to it are of
   * types the projection does not handle, skipped unread by a filtered read. `timestamp` is that
   * of the event at `position`, when known; otherwise the checkpoint keeps its own.
   */
  async advanceTo(position: LogPosition, timestamp: Date | undefined): Promise<void> {
    const current = this.checkpoint;
    const lastEventTimestamp = timestamp ?? current?.lastEventTimestamp;
    if (!current || !lastEventTimestamp || compareLogPositions(position, current.position) <= 0) return;
    const mark: LogMark = { ...position, timestamp: lastEventTimestamp };
    await this.#unitOfWork(mark, async (transaction) => {
      await this.#saveCheckpoint(transaction, mark);
    });
  }

  /** Re-runs a dead letter's handler on `event` and removes the dead letter, in one unit of work. */
  async retryDeadLetter(letter: DeadLetter, event: StoredEvent): Promise<void> {
    const attempt = letter.attempts + 1;
    let failure: { error: unknown } | undefined;
    try {
      await this.store.transaction(async (transaction) => {
        try {
          await applyProjectionEvent(this.projection, event, transaction.context, { attempt });
        } catch (error) {
          failure = { error };
          throw error;
        }
        if (!(await transaction.removeDeadLetter(letter.id))) {
          throw new ProjectionError(
            this.projection.name,
            `dead letter ${letter.id} was retried or discarded meanwhile`,
          );
        }
      });
    } catch (error) {
      if (failure) throw new ProjectionHandlerError(this.projection.name, event, attempt, failure.error);
      throw error;
    }
  }

  /** Applies `events` and moves the checkpoint past them in one unit of work. */
  async #commit(
    events: readonly StoredEvent[],
    attempt: number,
    rebuilding: boolean,
  ): Promise<HandlerFailure | undefined> {
    let failure: HandlerFailure | undefined;
    try {
      await this.store.transaction(async (transaction) => {
        for (const [index, event] of events.entries()) {
          try {
            await this.#apply(event, transaction.context, attempt, rebuilding);
          } catch (error) {
            failure = { index, error };
            throw error;
          }
        }
        await this.#saveCheckpoint(transaction, events.at(-1)!);
      });
    } catch (error) {
      if (failure && !this.#isTransient(failure.error)) return failure;
      if (!failure && this.#isAttributable(error)) {
        return { index: events.length === 1 ? 0 : UNATTRIBUTED, error };
      }
      this.checkpoint = undefined;
      throw error;
    }
    this.#committed(events.at(-1)!);
    return undefined;
  }

  /**
   * Applies one event: in an `annals.projection.handle` span parented to the event's own trace
   * context (from its metadata's `traceparent`) and linked to the batch span, so one trace shows
   * the command, its append and the read-model updates it caused.
   */
  #apply(event: StoredEvent, context: TContext, attempt: number, rebuilding: boolean): Promise<boolean> {
    const found = telemetry();
    if (found?.liveTracer === undefined || !this.projection.handlerFor(event.type)) {
      return applyProjectionEvent(this.projection, event, context, { attempt, rebuilding });
    }
    const batch = found.api.trace.getSpanContext(found.api.context.active());
    const traceparent = extractTraceparent(event.metadata);
    return withSpan(
      'annals.projection.handle',
      {
        attributes: {
          'annals.projection': this.projection.name,
          'annals.event.id': event.eventId,
          'annals.event.type': event.type,
          'annals.aggregate.id': event.aggregateId,
          'annals.aggregate.type': event.aggregateType,
          'annals.event.version': event.version,
          'annals.log.position': formatLogPosition(logPositionOf(event)),
          'annals.attempt': attempt,
        },
        parent: traceparent,
        ...(traceparent !== undefined && batch !== undefined ? { linkContexts: [batch] } : {}),
      },
      () => applyProjectionEvent(this.projection, event, context, { attempt, rebuilding }),
    );
  }

  /**
   * True for a permanent failure of a unit of work that no handler reported: the store refused
   * a statement or the commit ({@link StoreFailedError}, such as `25P02` after a handler swallowed
   * an SQL error). A transient failure, annals' own projection errors (another runner moved the
   * checkpoint) and errors of unknown kind are nobody's event's fault: they propagate, and the
   * runner retries from the stored checkpoint.
   */
  #isAttributable(error: unknown): boolean {
    return !this.#isTransient(error) && isAnnalsError(error, ErrorCode.StoreFailed);
  }

  /** Retries an event that failed once; returns `false` when interrupted before it was settled. */
  async #retryAlone(event: StoredEvent, error: unknown, options: ProcessOptions): Promise<boolean> {
    const { retry } = this.settings;
    for (let attempt = 2; attempt <= retry.maxAttempts; attempt++) {
      await sleep(backoffDelayMs(retry, attempt - 1), options.signal);
      if (!options.shouldContinue()) return false;
      telemetry()?.instruments?.handlerRetries.add(1, {
        'annals.projection': this.projection.name,
        'annals.event.type': event.type,
      });
      const failure = await this.#commit([event], attempt, options.rebuilding);
      if (failure === undefined) return true;
      error = failure.error;
    }
    const handlerError = new ProjectionHandlerError(this.projection.name, event, retry.maxAttempts, error);
    if (this.projection.onFailure === 'stop') throw handlerError;
    await this.#park(event, error, retry.maxAttempts);
    this.report(handlerError);
    return true;
  }

  /** Adds a dead letter and moves the checkpoint past its event, in one unit of work. */
  async #park(event: StoredEvent, error: unknown, attempts: number): Promise<void> {
    await this.#unitOfWork(event, async (transaction) => {
      await transaction.addDeadLetter({
        projection: this.projection.name,
        event,
        error: toDeadLetterError(error),
        attempts,
        failedAt: new Date(this.settings.now()),
      });
      await this.#saveCheckpoint(transaction, event);
    });
    telemetry()?.instruments?.deadLetters.add(1, {
      'annals.projection': this.projection.name,
      'annals.event.type': event.type,
    });
  }

  /** Runs `work` in a unit of work that moves the checkpoint past `event`, and records the move. */
  async #unitOfWork(
    event: LogMark,
    work: (transaction: ProjectionTransaction<TContext>) => Promise<void>,
  ): Promise<void> {
    try {
      await this.store.transaction(work);
    } catch (storeError) {
      this.checkpoint = undefined;
      throw storeError;
    }
    this.#committed(event);
  }

  async #saveCheckpoint(transaction: ProjectionTransaction<TContext>, last: LogMark): Promise<void> {
    const expected = this.checkpoint;
    if (!expected) throw new ProjectionError(this.projection.name, 'the checkpoint was not loaded');
    const saved = await transaction.saveCheckpoint(this.projection.name, {
      expected: expected.position,
      position: logPositionOf(last),
      lastEventTimestamp: last.timestamp,
      ...(this.fence === undefined ? {} : { fence: this.fence }),
    });
    if (!saved) throw new CheckpointMovedError(this.projection.name);
  }

  #committed(last: LogMark): void {
    this.checkpoint = {
      projection: this.projection.name,
      position: logPositionOf(last),
      lastEventTimestamp: last.timestamp,
      updatedAt: new Date(this.settings.now()),
    };
    this.onCheckpoint(this.checkpoint);
  }

  #isTransient(error: unknown): boolean {
    return isTransientError(error) || this.store.isTransientError?.(error) === true;
  }
}
