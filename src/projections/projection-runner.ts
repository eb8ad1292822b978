import type { BatchObservableCallback } from '@opentelemetry/api';
import { InvalidArgumentError, ProjectionError } from '../errors.js';
import { compareLogPositions, type LogPosition } from '../events/event-envelope.js';
import type { EventRegistry } from '../events/event-registry.js';
import { telemetry } from '../observability/telemetry.js';
import { sleep } from '../retry.js';
import type { IEventStore } from '../store/event-store.js';
import { assertProjectionName, type Projection } from './define-projection.js';
import type { ProjectionRunnerOptions } from './projection-runner-options.js';
import type { ProjectionStatus } from './projection-status.js';
import type { DeadLetter, ListDeadLettersOptions, ProjectionStore } from './projection-store.js';
import { ProjectionWorker } from './projection-worker.js';
import type { RebuildOptions, RebuildResult } from './rebuild-progress.js';
import { type RunnerSettings, resolveRunnerSettings } from './runner-settings.js';

/**
 * The first pause, in milliseconds, of a runner that is not started before it reads the log
 * again for a `catchUp` target it has not reached; it doubles up to `pollIntervalMs`.
 */
const FIRST_RECHECK_MS = 5;

/**
 * Options of {@link ProjectionRunner.catchUp}.
 *
 * @category Projections
 */
export interface CatchUpOptions {
  /**
   * Ends a catch-up of a runner that is not started after the current batch. With `until`, it
   * ends the wait of any runner, and `catchUp` rejects with the signal's reason.
   * @defaultValue none
   */
  readonly signal?: AbortSignal;
  /**
   * Wait until every projection's checkpoint reached this position instead of the head: the
   * position of an event you appended (`logPositionOf(result.events.at(-1))`), to read your own
   * write from the read models. It works even when `head()` is behind it (a PostgreSQL head
   * waits for older transactions still in flight). Waits as long as it takes: give a position
   * the log has or is about to have, and a `signal` to bound the wait.
   * @defaultValue the head of the log when `catchUp` is called
   */
  readonly until?: LogPosition;
}

/**
 * Runs projections over the global log of an {@link IEventStore}. Each projection follows the log
 * from its own checkpoint, in batches: a batch's handler calls and the checkpoint advance are one
 * unit of work of the {@link ProjectionStore}. A projection is processed only while this runner
 * holds its lease, so one runner at a time processes it across processes.
 *
 * A failing handler rolls its batch back; the events before the failing one are committed, the
 * failing event is retried with backoff (`retryDelayMs`, doubling, `maxRetryAttempts` times), then
 * parked as a dead letter (the projection goes on) or, with `onFailure: 'stop'`, the projection
 * stops before it with a {@link ProjectionHandlerError}.
 *
 * @example
 * ```ts
 * const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderSummary] });
 * runner.start();              // follow the log in the background
 * await runner.catchUp();      // wait until everything appended so far is processed
 * console.log(await runner.status('order-summary'));
 * await runner.stop();         // graceful: the batch in progress is committed first
 * ```
 *
 * @category Projections
 */
export class ProjectionRunner<TContext> {
  readonly #eventStore: IEventStore;
  readonly #projectionStore: ProjectionStore<TContext>;
  readonly #workers = new Map<string, ProjectionWorker<TContext>>();
  readonly #settings: RunnerSettings;
  #started = false;
  #stopObservingLag: (() => void) | undefined;

  constructor(options: ProjectionRunnerOptions<TContext>) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('ProjectionRunner needs an options object');
    }
    const { eventStore, projectionStore, projections } = options;
    if (typeof eventStore?.readAll !== 'function') {
      throw new InvalidArgumentError('ProjectionRunner needs an `eventStore`');
    }
    if (typeof projectionStore?.transaction !== 'function') {
      throw new InvalidArgumentError('ProjectionRunner needs a `projectionStore`');
    }
    if (!Array.isArray(projections) || projections.length === 0) {
      throw new InvalidArgumentError('ProjectionRunner needs at least one projection');
    }
    const settings = resolveRunnerSettings(options as ProjectionRunnerOptions<unknown>);
    this.#settings = settings;
    this.#eventStore = eventStore;
    this.#projectionStore = projectionStore;
    const registry = registryOf(eventStore);
    for (const projection of projections) {
      assertProjectionName(projection?.name);
      if (this.#workers.has(projection.name)) {
        throw new InvalidArgumentError(`ProjectionRunner: projection "${projection.name}" is listed twice`);
      }
      if (registry) assertHandledTypesKnown(projection, registry);
      this.#workers.set(
        projection.name,
        new ProjectionWorker(projection, eventStore, projectionStore, settings),
      );
    }
  }

  /**
   * While started, reports each projection's lag (from {@link ProjectionRunner.statusAll}) to the
   * `annals.projection.lag.events` and `annals.projection.lag.time` gauges at each collection.
   */
  #observeLag(): void {
    const instruments = telemetry()?.instruments;
    if (instruments === undefined || this.#stopObservingLag) return;
    const { meter, lagEvents, lagTime } = instruments;
    const callback: BatchObservableCallback = async (result) => {
      let statuses: ProjectionStatus[];
      try {
        statuses = await this.statusAll();
      } catch {
        return; // The store is unreachable: no observation this time.
      }
      for (const status of statuses) {
        const attributes = { 'annals.projection': status.projection };
        result.observe(lagEvents, Number(status.lagEvents), attributes);
        result.observe(lagTime, status.lagMs / 1000, attributes);
      }
    };
    meter.addBatchObservableCallback(callback, [lagEvents, lagTime]);
    this.#stopObservingLag = () => meter.removeBatchObservableCallback(callback, [lagEvents, lagTime]);
  }

  /** The names of the runner's projections. */
  get projections(): string[] {
    return [...this.#workers.keys()];
  }

  /**
   * Starts following the log with every projection, in the background. Each projection first
   * takes its lease (retrying every `leaseRetryMs` while another runner holds it), runs its setup
   * hook and goes on from its checkpoint. Failures show in {@link ProjectionRunner.status} and
   * `onError`. Calling it again restarts projections that stopped on a failure.
   */
  start(): void {
    this.#started = true;
    this.#observeLag();
    for (const worker of this.#workers.values()) worker.start();
  }

  /**
   * Stops every projection gracefully: the unit of work in progress commits (with its checkpoint),
   * retry delays are cut short, and the leases are released. Resolves when all have stopped.
   */
  async stop(): Promise<void> {
    this.#started = false;
    this.#stopObservingLag?.();
    this.#stopObservingLag = undefined;
    await Promise.all([...this.#workers.values()].map((worker) => worker.stop()));
  }

  /**
   * Processes every event appended so far with every projection.
   *
   * - Not started: takes each projection's lease (a {@link ProjectionError} when another runner
   *   holds it), processes up to the head as it is now (reading again while a page shows less),
   *   and releases the lease. For scripts and tests.
   * - Started: waits until each projection's checkpoint reached the head as it is now; rejects
   *   when a projection stops first.
   *
   * With `until`, both wait for that position instead of the head (a runner that is not started
   * catches up again every `pollIntervalMs` until its checkpoints reached it).
   *
   * Rejects with {@link ProjectionHandlerError} when a `'stop'` projection meets a failing event,
   * {@link InvalidArgumentError} for an `until` that is not a log position.
   */
  async catchUp(options: CatchUpOptions = {}): Promise<void> {
    const { until, signal } = options;
    if (until !== undefined) assertLogPosition(until);
    const workers = [...this.#workers.values()];
    if (this.#started) {
      const target = until ?? (await this.#eventStore.head()).position;
      const reached = Promise.all(workers.map((worker) => worker.waitFor(target)));
      await (until === undefined ? reached : abortable(reached, signal));
      return;
    }
    // The head before the first page: a page read can show a commit a moment late (see
    // `IEventStore.head`), so each projection goes on until its checkpoint reached this.
    const target = until ?? (await this.#eventStore.head()).position;
    // Without `until`, an abort ends the catch-up after the current batch, quietly.
    const ended = () => until === undefined && signal?.aborted === true;
    for (const [name, worker] of this.#workers) {
      await worker.catchUp(signal);
      let delayMs = FIRST_RECHECK_MS;
      while (compareLogPositions((await this.#projectionStore.loadCheckpoint(name)).position, target) < 0) {
        if (ended()) break;
        signal?.throwIfAborted();
        try {
          await sleep(Math.min(delayMs, this.#settings.pollIntervalMs), signal);
        } catch (error) {
          if (ended()) break;
          throw error;
        }
        delayMs *= 2;
        signal?.throwIfAborted();
        await worker.catchUp(signal);
      }
    }
  }

  /** The status of one projection: checkpoint, head, lag, dead letters, state and last error. */
  async status(projection: string): Promise<ProjectionStatus> {
    return this.#worker(projection).status();
  }

  /** The status of every projection, in the order they were given. */
  async statusAll(): Promise<ProjectionStatus[]> {
    return Promise.all([...this.#workers.values()].map((worker) => worker.status()));
  }

  /**
   * Rebuilds a projection from the start of the log: in one unit of work it runs the `reset` hook,
   * moves the checkpoint back to the start (dropping the projection's dead letters) and runs the
   * `setup` hook; then it replays every event, reporting progress after each batch. Handlers see
   * `info.rebuilding === true`. Needs the projection's lease: stop runners that follow it first
   * (a {@link ProjectionError} otherwise, also when this runner is started).
   */
  async rebuild(projection: string, options?: RebuildOptions): Promise<RebuildResult> {
    const worker = this.#worker(projection);
    if (this.#started) throw new ProjectionError(projection, 'stop the runner before rebuilding');
    return worker.rebuild(options);
  }

  /** A projection's dead letters, in the order they were parked. */
  async listDeadLetters(projection: string, options?: ListDeadLettersOptions): Promise<DeadLetter[]> {
    this.#worker(projection);
    return this.#projectionStore.listDeadLetters(projection, options);
  }

  /**
   * Retries a dead letter: reads its event again from the event store (so fixed upcasters apply),
   * runs the projection's handler on it and removes the dead letter, in one unit of work. The
   * event is applied after events that came later in the log. Throws
   * {@link ProjectionHandlerError} when the handler fails again (the dead letter stays),
   * {@link InvalidArgumentError} for an unknown id.
   */
  async retryDeadLetter(id: string): Promise<void> {
    const letter = await this.#deadLetter(id);
    await this.#worker(letter.projection).retryDeadLetter(letter);
  }

  /** Removes a dead letter without applying its event. Throws {@link InvalidArgumentError} for an unknown id. */
  async discardDeadLetter(id: string): Promise<void> {
    const letter = await this.#deadLetter(id);
    this.#worker(letter.projection);
    const removed = await this.#projectionStore.transaction((transaction) =>
      transaction.removeDeadLetter(id),
    );
    if (!removed) throw new InvalidArgumentError(`there is no dead letter "${id}"`);
  }

  async #deadLetter(id: string): Promise<DeadLetter> {
    if (typeof id !== 'string' || id === '') {
      throw new InvalidArgumentError('a dead letter id must be a non-empty string');
    }
    const letter = await this.#projectionStore.getDeadLetter(id);
    if (!letter) throw new InvalidArgumentError(`there is no dead letter "${id}"`);
    return letter;
  }

  #worker(projection: string): ProjectionWorker<TContext> {
    const worker = this.#workers.get(projection);
    if (!worker) {
      throw new InvalidArgumentError(
        `unknown projection "${String(projection)}"; this runner has: ${this.projections.join(', ')}`,
      );
    }
    return worker;
  }
}

/** The registry of an event store that exposes one (`PostgresEventStore.registry`). */
function registryOf(eventStore: IEventStore): Pick<EventRegistry, 'get'> | undefined {
  const registry = (eventStore as { registry?: Partial<EventRegistry> }).registry;
  return typeof registry?.get === 'function' ? (registry as Pick<EventRegistry, 'get'>) : undefined;
}

/** A handler for a type the store cannot read would never run: refuse it up front. */
function assertHandledTypesKnown(
  projection: Projection<unknown>,
  registry: Pick<EventRegistry, 'get'>,
): void {
  for (const type of projection.eventTypes ?? []) {
    if (registry.get(type) === undefined) {
      throw new InvalidArgumentError(
        `ProjectionRunner: projection "${projection.name}" has a handler for "${type}", which the event store's registry does not know; register the event type or remove the handler`,
      );
    }
  }
}

function assertLogPosition(position: unknown): asserts position is LogPosition {
  const candidate = position as Partial<LogPosition> | null;
  const valid =
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.transactionId === 'bigint' &&
    typeof candidate.globalPosition === 'bigint' &&
    candidate.transactionId >= 0n &&
    candidate.globalPosition >= 0n;
  if (!valid) {
    throw new InvalidArgumentError(
      'catchUp: `until` must be a log position { transactionId, globalPosition } (bigints >= 0), such as logPositionOf(event)',
    );
  }
}

/** `promise`, or a rejection with the signal's reason when `signal` aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {}); // a rejection after the abort is nobody's business
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
