import { ProjectionError } from '../errors.js';
import { compareLogPositions, LOG_START, type LogPosition, logPositionOf } from '../events/event-envelope.js';
import { projectionErrorLogFields } from '../observability/log-fields.js';
import { safeLog } from '../observability/logger.js';
import { backoffDelayMs, sleep } from '../retry.js';
import type { IEventStore, ReadAllResult } from '../store/event-store.js';
import { BatchProcessor, CheckpointMovedError } from './batch-processor.js';
import type { Projection } from './define-projection.js';
import { LeaseHolder } from './lease-holder.js';
import { ProjectionHandlerError, toDeadLetterError } from './projection-handler-error.js';
import {
  type ProjectionLastError,
  type ProjectionState,
  type ProjectionStatus,
  readProjectionStatus,
} from './projection-status.js';
import type { DeadLetter, ProjectionLease, ProjectionStore } from './projection-store.js';
import { type RebuildOptions, type RebuildResult, rebuildProgress } from './rebuild-progress.js';
import type { RunnerSettings } from './runner-settings.js';
import { Wakeup } from './wakeup.js';

type Activity = 'running' | 'catching up' | 'rebuilding';

interface Waiter {
  readonly target: LogPosition;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs one projection for a {@link ProjectionRunner}: holds its lease, follows the log, catches
 * up, rebuilds. One activity at a time.
 */
export class ProjectionWorker<TContext> {
  readonly #projection: Projection<TContext>;
  readonly #eventStore: IEventStore;
  readonly #store: ProjectionStore<TContext>;
  readonly #settings: RunnerSettings;
  readonly #processor: BatchProcessor<TContext>;
  readonly #waiters = new Set<Waiter>();
  readonly #wakeup = new Wakeup();
  #state: ProjectionState = 'stopped';
  #lastError: ProjectionLastError | undefined;
  #activity: Activity | undefined;
  #following: { readonly controller: AbortController; readonly done: Promise<void> } | undefined;
  readonly #leases: LeaseHolder;

  constructor(
    projection: Projection<TContext>,
    eventStore: IEventStore,
    store: ProjectionStore<TContext>,
    settings: RunnerSettings,
  ) {
    this.#projection = projection;
    this.#eventStore = eventStore;
    this.#store = store;
    this.#settings = settings;
    this.#processor = new BatchProcessor(
      projection,
      store,
      settings,
      (checkpoint) => this.#settle(checkpoint.position),
      (error) => this.#report(error),
    );
    this.#leases = new LeaseHolder(settings.leaseRenewMs, (cause) => {
      this.#report(
        new ProjectionError(this.#name, 'lost its lease; it stops processing until it gets it back', {
          cause,
        }),
      );
      this.#wakeup.notify();
    });
  }

  get #name(): string {
    return this.#projection.name;
  }

  /** Starts following the log in the background; does nothing when it already does. */
  start(): void {
    if (this.#activity === 'running') return;
    this.#enter('running');
    const controller = new AbortController();
    const done = this.#follow(controller.signal)
      .catch((error: unknown) => {
        this.#state = 'failed';
        this.#report(new ProjectionError(this.#name, toDeadLetterError(error).message, { cause: error }));
      })
      .finally(() => {
        this.#activity = undefined;
        this.#following = undefined;
      });
    this.#following = { controller, done };
  }

  /** Stops following after the unit of work in progress; resolves once the lease is released. */
  async stop(): Promise<void> {
    const following = this.#following;
    if (!following) return;
    following.controller.abort();
    await following.done;
  }

  /** While following: resolves once the checkpoint reached `target`; rejects if the worker stops first. */
  waitFor(target: LogPosition): Promise<void> {
    if (this.#activity !== 'running') {
      const failure = this.#state === 'failed' ? this.#lastError?.error : undefined;
      return Promise.reject(failure ?? new ProjectionError(this.#name, 'is not running'));
    }
    const current = this.#processor.checkpoint;
    if (current && compareLogPositions(current.position, target) >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.add({ target, resolve, reject }));
  }

  /** Takes the lease, processes every event up to the head, releases the lease. */
  async catchUp(signal?: AbortSignal): Promise<number> {
    this.#enter('catching up');
    return this.#exclusively(async () => {
      await this.#takeOverOrThrow(true);
      this.#state = 'running';
      return this.#drain(signal, false, () => {});
    });
  }

  /** Resets the read model and the checkpoint in one unit of work, then replays the whole log. */
  async rebuild(options: RebuildOptions = {}): Promise<RebuildResult> {
    const { reset, setup } = this.#projection;
    if (!reset) throw new ProjectionError(this.#name, 'cannot be rebuilt: it defines no `reset` hook');
    this.#enter('rebuilding');
    return this.#exclusively(async () => {
      const { now } = this.#settings;
      await this.#takeOverOrThrow(false);
      this.#state = 'rebuilding';
      const startedAt = now();
      const total = Number(
        await this.#eventStore.countAfter(LOG_START, { types: this.#projection.eventTypes }),
      );
      const fence = this.#processor.fence;
      await this.#store.transaction(async (transaction) => {
        await reset(transaction.context);
        // Fenced: a runner that lost its lease meanwhile rolls its reset back.
        if (!(await transaction.resetCheckpoint(this.#name, fence === undefined ? {} : { fence }))) {
          throw new ProjectionError(this.#name, 'lost its lease before its rebuild reset the checkpoint');
        }
        if (setup) await setup(transaction.context);
      });
      await this.#processor.load();
      const progress = (processed: number) =>
        options.onProgress?.(rebuildProgress(this.#name, processed, total, now() - startedAt));
      progress(0);
      const processed = await this.#drain(options.signal, true, progress);
      return {
        projection: this.#name,
        processed,
        durationMs: now() - startedAt,
        deadLetters: await this.#store.countDeadLetters(this.#name),
      };
    });
  }

  /** Reads the projection's status. */
  status(): Promise<ProjectionStatus> {
    return readProjectionStatus(this.#eventStore, this.#store, this.#name, {
      state: this.#state,
      lastError: this.#lastError,
      handles: (type) => this.#projection.handlerFor(type) !== undefined,
    });
  }

  /** Re-runs the handler on a dead letter's event, read again from the event store. */
  async retryDeadLetter(letter: DeadLetter): Promise<void> {
    const { aggregateId, version, eventId } = letter.event;
    const [event] = await this.#eventStore.load(aggregateId, { fromVersion: version, toVersion: version });
    if (!event || event.eventId !== eventId) {
      throw new ProjectionError(
        this.#name,
        `event ${eventId} of dead letter ${letter.id} is no longer in the event store`,
      );
    }
    await this.#processor.retryDeadLetter(letter, event);
  }

  async #follow(signal: AbortSignal): Promise<void> {
    const unsubscribe = this.#eventStore.onAppended(() => this.#wakeup.notify());
    signal.addEventListener('abort', () => this.#wakeup.notify(), { once: true });
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          if (this.#leases.lost) await this.#dropLease();
          if (!this.#leases.lease && !(await this.#takeOver(true))) {
            this.#state = 'waiting-for-lease';
            if (this.#waiters.size > 0) await this.#processor.load();
            await sleep(this.#settings.leaseRetryMs, signal);
            continue;
          }
          this.#state = 'running';
          const { caughtUp } = await this.#step(signal, false);
          failures = 0;
          if (caughtUp && !this.#leases.lost) await this.#wakeup.wait(this.#settings.pollIntervalMs, signal);
        } catch (error) {
          if (error instanceof ProjectionHandlerError) {
            this.#state = 'failed';
            this.#report(error);
            return;
          }
          failures += 1;
          this.#report(
            error instanceof ProjectionError
              ? error
              : new ProjectionError(this.#name, `failed, retrying: ${toDeadLetterError(error).message}`, {
                  cause: error,
                }),
          );
          if (error instanceof CheckpointMovedError) await this.#dropLease();
          await sleep(backoffDelayMs(this.#settings.retry, failures), signal);
        }
      }
    } finally {
      unsubscribe();
      await this.#dropLease();
      if (this.#state !== 'failed') this.#state = 'stopped';
      const reason =
        this.#state === 'failed'
          ? this.#lastError?.error
          : new ProjectionError(this.#name, 'stopped before it caught up');
      for (const waiter of this.#waiters) waiter.reject(reason);
      this.#waiters.clear();
    }
  }

  /** Reads one batch after the checkpoint and processes it. */
  async #step(
    signal: AbortSignal | undefined,
    rebuilding: boolean,
  ): Promise<{ processed: number; caughtUp: boolean }> {
    const checkpoint = this.#processor.checkpoint ?? (await this.#processor.load());
    const page = await this.#eventStore.readAll({
      after: checkpoint.position,
      limit: this.#settings.batchSize,
      onUndecodable: 'report',
      types: this.#projection.eventTypes,
    });
    const undecodable = page.undecodable ?? [];
    const total = page.events.length + undecodable.length;
    if (total === 0) {
      await this.#skipUnhandled(page);
      return { processed: 0, caughtUp: true };
    }
    const options = {
      signal,
      rebuilding,
      shouldContinue: () => !signal?.aborted && !this.#leases.lost,
    };
    // The page in log order: runs of readable events, each followed by an event that is not.
    let processed = 0;
    let from = 0;
    for (const item of undecodable) {
      let to = from;
      while (
        to < page.events.length &&
        compareLogPositions(logPositionOf(page.events[to]!), item.position) < 0
      )
        to++;
      if (to > from) {
        const done = await this.#processor.process(page.events.slice(from, to), options);
        processed += done;
        if (done < to - from) return { processed, caughtUp: false };
      }
      from = to;
      if (!options.shouldContinue()) return { processed, caughtUp: false };
      await this.#processor.settleUndecodable(item);
      processed += 1;
    }
    if (from < page.events.length)
      processed += await this.#processor.process(page.events.slice(from), options);
    if (processed === total) await this.#skipUnhandled(page);
    return { processed, caughtUp: page.caughtUp && processed === total };
  }

  /**
   * After a filtered page that reached the end of the log: moves the checkpoint past the events
   * of other types after the last handled one, so lag and `catchUp({ until })` see the projection
   * caught up. The timestamp comes from the head when `next` is the head.
   */
  async #skipUnhandled(page: ReadAllResult): Promise<void> {
    const checkpoint = this.#processor.checkpoint;
    if (!page.caughtUp || !checkpoint || compareLogPositions(page.next, checkpoint.position) <= 0) return;
    const head = await this.#eventStore.head();
    const timestamp = compareLogPositions(head.position, page.next) === 0 ? head.timestamp : undefined;
    await this.#processor.advanceTo(page.next, timestamp);
  }

  /** Steps until the log is exhausted; returns how many events it processed. */
  async #drain(
    signal: AbortSignal | undefined,
    rebuilding: boolean,
    onBatch: (processed: number) => void,
  ): Promise<number> {
    let processed = 0;
    for (;;) {
      if (this.#leases.lost) throw new ProjectionError(this.#name, 'lost its lease');
      const step = await this.#step(signal, rebuilding);
      processed += step.processed;
      if (step.processed > 0) onBatch(processed);
      if (step.caughtUp || signal?.aborted) return processed;
    }
  }

  /** Runs a catch-up or a rebuild that was entered, and leaves it whatever happens. */
  async #exclusively<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ProjectionHandlerError) this.#state = 'failed';
      this.#report(
        error instanceof ProjectionError
          ? error
          : new ProjectionError(this.#name, toDeadLetterError(error).message, { cause: error }),
      );
      throw error;
    } finally {
      await this.#dropLease();
      this.#activity = undefined;
      if (this.#state !== 'failed') this.#state = 'stopped';
    }
  }

  #enter(activity: Activity): void {
    if (this.#activity) throw new ProjectionError(this.#name, `is busy ${this.#activity}; stop it first`);
    this.#activity = activity;
    this.#lastError = undefined;
    if (this.#state === 'failed') this.#state = 'stopped';
  }

  async #takeOverOrThrow(runSetup: boolean): Promise<void> {
    if (!(await this.#takeOver(runSetup))) {
      throw new ProjectionError(this.#name, 'another runner holds its lease; stop that runner first');
    }
  }

  /** Takes the lease (false when held elsewhere), runs the setup hook, loads the checkpoint. */
  async #takeOver(runSetup: boolean): Promise<boolean> {
    const lease = await this.#store.tryAcquireLease(this.#name, this.#settings.owner);
    if (!lease) return false;
    this.#hold(lease);
    try {
      const setup = this.#projection.setup;
      if (runSetup && setup) await this.#store.transaction(async (transaction) => setup(transaction.context));
      await this.#processor.load();
    } catch (error) {
      await this.#dropLease();
      throw error;
    }
    return true;
  }

  #hold(lease: ProjectionLease): void {
    this.#leases.hold(lease);
    this.#processor.fence = lease.fence;
  }

  async #dropLease(): Promise<void> {
    this.#processor.checkpoint = undefined;
    this.#processor.fence = undefined;
    await this.#leases.drop();
  }

  #settle(position: LogPosition): void {
    for (const waiter of this.#waiters) {
      if (compareLogPositions(position, waiter.target) >= 0) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  #report(error: ProjectionError): void {
    this.#lastError = {
      error,
      message: error.message,
      at: new Date(this.#settings.now()),
      ...(error instanceof ProjectionHandlerError
        ? { eventId: error.eventId, position: error.position }
        : {}),
    };
    safeLog(
      this.#settings.logger,
      this.#state === 'failed' ? 'error' : 'warn',
      projectionErrorLogFields(error),
      error.message,
    );
    try {
      this.#settings.onError(error);
    } catch {
      // A failing listener must not stop the projection.
    }
  }
}
