import type { EventBus } from '../bus/event-bus.js';
import { CorruptDataError, ErrorCode, InvalidArgumentError, isAnnalsError } from '../errors.js';
import type { DomainEvent, NewEvent, StoredEvent } from '../events/event-envelope.js';
import { assertValidId } from '../events/event-registry.js';
import type { CommandLog, EventAppender } from '../idempotency/command-log.js';
import { type AnnalsLogger, getDefaultLogger, safeLog } from '../observability/logger.js';
import { addActiveSpanEvent, withSpan } from '../observability/telemetry.js';
import { backoffDelayMs, type RetryOptions, resolveRetryOptions, sleep } from '../retry.js';
import {
  loggerWarning,
  type RepositoryWarningHandler,
  SnapshotKeeper,
} from '../snapshots/snapshot-keeper.js';
import {
  DEFAULT_SNAPSHOT_EVERY_N_EVENTS,
  everyNEvents,
  type SnapshotPolicy,
} from '../snapshots/snapshot-policy.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { AppendResult, IEventStore } from '../store/event-store.js';
import type { AggregateRoot } from './aggregate-root.js';
import { type CommandMetadata, eventMetadataFor } from './command-metadata.js';

/**
 * How an {@link AggregateRepository} uses snapshots.
 *
 * @category Aggregates
 */
export interface RepositorySnapshotOptions {
  /** Where snapshots are kept. */
  readonly store: SnapshotStore;
  /**
   * When to take a snapshot after a save.
   * @defaultValue `everyNEvents(100)`
   */
  readonly policy?: SnapshotPolicy;
}

/**
 * Options of {@link AggregateRepository}.
 *
 * @category Aggregates
 */
export interface AggregateRepositoryOptions<TAggregate extends AggregateRoot<any>> {
  /** Creates an empty aggregate for an id; the repository then loads its history into it. */
  readonly create: (id: string) => TAggregate;
  /**
   * How {@link AggregateRepository.execute} retries a command after a concurrency conflict:
   * it reloads the aggregate and runs the command again.
   * @defaultValue `{ maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 1000, jitter: true }`
   */
  readonly retry?: RetryOptions;
  /**
   * Receives the stored events after each successful append (in process, at most once).
   * @defaultValue none
   */
  readonly bus?: EventBus;
  /**
   * De-duplicates commands: {@link AggregateRepository.execute} with a `metadata.commandId` runs
   * through this log, so a repeated command returns the first result without appending again.
   * The log must write to the same event store as the repository.
   * @defaultValue none: commands are not de-duplicated
   */
  readonly commands?: CommandLog;
  /**
   * Loads aggregates that extend {@link SnapshotAggregateRoot} from snapshots and takes snapshots
   * after saves. Other aggregates are always replayed.
   * @defaultValue none: every load replays all events
   */
  readonly snapshots?: RepositorySnapshotOptions;
  /**
   * Receives what went wrong without failing the call (a corrupt snapshot ignored, a snapshot not
   * saved).
   * @defaultValue a warning of `logger`
   */
  readonly onWarning?: RepositoryWarningHandler;
  /**
   * Where the repository logs: concurrency conflicts (debug while retrying, a warning when it
   * gives up) with `aggregateId`, the versions, `attempt`, `correlationId`, `causationId` and
   * `commandId`; and warnings when there is no `onWarning`.
   * @defaultValue the default logger (`setDefaultLogger`)
   */
  readonly logger?: AnnalsLogger;
}

/**
 * Options of one {@link AggregateRepository.execute} call.
 *
 * @category Aggregates
 */
export interface ExecuteOptions {
  /**
   * The command's id, correlation and causation ids, copied into each event's metadata. With a
   * `commands` log, the `commandId` also de-duplicates the command.
   */
  readonly metadata?: CommandMetadata;
  /** Aborts waiting between retries. */
  readonly signal?: AbortSignal;
}

/**
 * What {@link AggregateRepository.execute} did.
 *
 * @category Aggregates
 */
export interface CommandResult<TAggregate, TValue> {
  /**
   * The aggregate after the command, with its events committed. For a duplicate: the aggregate as
   * loaded now, which may include later events.
   */
  readonly aggregate: TAggregate;
  /** What the command function returned; for a duplicate, the first run's value as JSON. */
  readonly value: TValue;
  /** The events the command appended (empty when it raised none); for a duplicate, the first run's. */
  readonly events: readonly StoredEvent[];
  /** The stream's version after the command (for a duplicate: after the first run). */
  readonly version: number;
  /**
   * How many times the command ran (1 unless concurrency conflicts forced retries; 0 for a
   * duplicate).
   */
  readonly attempts: number;
  /**
   * True when the command id had been processed already: nothing ran and nothing was appended;
   * the first run's result is returned.
   */
  readonly duplicate: boolean;
}

/**
 * A command run by {@link AggregateRepository.execute}: calls methods of the aggregate.
 *
 * @category Aggregates
 */
export type AggregateCommand<TAggregate, TValue> = (aggregate: TAggregate) => TValue | Promise<TValue>;

/**
 * What the repository records for a de-duplicated command (as JSON in the command log's record).
 * @internal
 */
interface RecordedCommand {
  readonly aggregateId: string;
  readonly value?: unknown;
  /** The stream's version after the command. */
  readonly version: number;
  /** How many events the command appended: they are the last ones up to `version`. */
  readonly eventCount: number;
}

/** Turns an aggregate's uncommitted events into events to append, with the command's metadata. */
export function toNewEvents(events: readonly DomainEvent[], metadata?: CommandMetadata): NewEvent[] {
  return events.map((event) => ({
    eventId: event.eventId,
    type: event.type,
    aggregateType: event.aggregateType,
    payload: event.payload,
    schemaVersion: event.schemaVersion,
    timestamp: event.timestamp,
    metadata: eventMetadataFor(metadata, event.metadata),
  }));
}

/**
 * Loads aggregates from an {@link IEventStore}, runs commands on them and appends their new
 * events with optimistic concurrency, retrying on conflicts. Optionally de-duplicates commands by
 * id (`commands`) and loads from snapshots (`snapshots`).
 *
 * @example
 * ```ts
 * const orders = new AggregateRepository(store, { create: (id) => new OrderAggregate(id) });
 * await orders.execute('order-1', (order) => order.create('customer-7')); // a stream starts with its creation
 * await orders.execute('order-1', (order) => order.addItem('sku-1', 2, 9.5), {
 *   metadata: { commandId: 'cmd-42', correlationId: 'req-7' },
 * });
 * ```
 *
 * @category Aggregates
 */
export class AggregateRepository<TAggregate extends AggregateRoot<any>> {
  readonly #store: IEventStore;
  readonly #create: (id: string) => TAggregate;
  readonly #retry: Required<RetryOptions>;
  readonly #bus: EventBus | undefined;
  readonly #commands: CommandLog | undefined;
  readonly #snapshots: SnapshotKeeper<TAggregate> | undefined;
  readonly #logger: AnnalsLogger;

  constructor(store: IEventStore, options: AggregateRepositoryOptions<TAggregate>) {
    if (typeof options?.create !== 'function') {
      throw new InvalidArgumentError('AggregateRepository needs a `create(id)` function');
    }
    this.#store = store;
    this.#create = options.create;
    this.#retry = resolveRetryOptions(options.retry);
    this.#bus = options.bus;
    this.#logger = options.logger ?? getDefaultLogger();
    if (options.commands !== undefined && typeof options.commands?.runOnce !== 'function') {
      throw new InvalidArgumentError('AggregateRepository: `commands` must be a CommandLog');
    }
    this.#commands = options.commands;
    if (options.snapshots !== undefined) {
      if (typeof options.snapshots?.store?.load !== 'function') {
        throw new InvalidArgumentError('AggregateRepository: `snapshots.store` must be a SnapshotStore');
      }
      this.#snapshots = new SnapshotKeeper({
        events: store,
        snapshots: options.snapshots.store,
        policy: options.snapshots.policy ?? everyNEvents(DEFAULT_SNAPSHOT_EVERY_N_EVENTS),
        create: options.create,
        warn: options.onWarning ?? loggerWarning(this.#logger),
      });
    }
  }

  /**
   * Loads an aggregate: from its latest snapshot and the events after it when snapshots are on
   * and a usable one exists, else from all its events. An id without events gives a fresh
   * aggregate (`exists` is false).
   */
  async load(id: string): Promise<TAggregate> {
    if (this.#snapshots) return this.#snapshots.load(id);
    const aggregate = this.#create(id);
    const events = await this.#store.load(id);
    return aggregate.loadFromHistory(events);
  }

  /**
   * Appends the aggregate's uncommitted events, expecting the version it was loaded at, then
   * marks them committed, publishes them to the bus and takes a snapshot if the policy says so.
   * Throws {@link ConcurrencyError} when the stream moved on meanwhile. It does not de-duplicate:
   * that is {@link AggregateRepository.execute}'s job.
   */
  async save(aggregate: TAggregate, metadata?: CommandMetadata): Promise<AppendResult> {
    const result = await this.#append(this.#store, aggregate, metadata);
    await this.#afterCommit(aggregate, result);
    return result;
  }

  /**
   * Loads the aggregate, runs `command` on it and saves the events it raised. On a concurrency
   * conflict it waits (backoff), reloads and runs the command again, up to `retry.maxAttempts`
   * times; then the last {@link ConcurrencyError} is thrown. Errors the command throws (such as
   * {@link DomainRuleError}) are never retried.
   *
   * With a `commands` log and a `metadata.commandId`, the command runs at most once per id: a
   * repeat returns the first result with `duplicate: true` and appends nothing. A repeat that
   * arrives while the first run is in flight waits for it without running `command` (it runs only
   * when the first run failed), so `command` then runs inside the log's unit of work: it must not
   * wait for another connection of the store's pool. The command's return value must be
   * JSON-serialisable ({@link InvalidArgumentError} otherwise, before anything is appended). A
   * command that throws records nothing and may be retried.
   */
  execute<TValue>(
    id: string,
    command: AggregateCommand<TAggregate, TValue>,
    options: ExecuteOptions = {},
  ): Promise<CommandResult<TAggregate, TValue>> {
    return withSpan('annals.execute', { attributes: executeAttributes(id, options) }, async (span) => {
      const result = await this.#execute(id, command, options);
      if (span?.isRecording()) {
        span.setAttributes({
          'annals.attempts': result.attempts,
          'annals.duplicate': result.duplicate,
          'annals.event.count': result.events.length,
          'annals.next_expected_version': result.version,
        });
      }
      return result;
    });
  }

  async #execute<TValue>(
    id: string,
    command: AggregateCommand<TAggregate, TValue>,
    options: ExecuteOptions,
  ): Promise<CommandResult<TAggregate, TValue>> {
    const commandId = options.metadata?.commandId;
    if (this.#commands && commandId !== undefined) {
      return this.#executeOnce(this.#commands, commandId, id, command, options);
    }
    for (let attempt = 1; ; attempt++) {
      const aggregate = await this.load(id);
      const value = await decide(aggregate, command, attempt);
      if (aggregate.uncommittedEvents.length === 0) {
        return {
          aggregate,
          value,
          events: [],
          version: aggregate.version,
          attempts: attempt,
          duplicate: false,
        };
      }
      try {
        const result = await this.save(aggregate, options.metadata);
        return {
          aggregate,
          value,
          events: result.events,
          version: result.nextExpectedVersion,
          attempts: attempt,
          duplicate: false,
        };
      } catch (error) {
        await this.#beforeRetry(error, attempt, options);
      }
    }
  }

  /**
   * The de-duplicated path of {@link AggregateRepository.execute}. The command runs inside the
   * command log's unit of work, after the log has claimed the command id: a concurrent duplicate
   * waits for that claim (in PostgreSQL, on the record's unique key) and then returns the
   * recorded result without running anything, or runs itself when the first run failed. So a
   * command function with side effects runs once per command id (again only after a failure or
   * a concurrency conflict, which records nothing).
   *
   * The aggregate is loaded before the unit of work opens: a load may need a connection of the
   * store's pool (snapshots, PGlite's single connection), which a unit holding one must not wait
   * for. A stream that moved on meanwhile is a concurrency conflict, retried as usual.
   */
  async #executeOnce<TValue>(
    commands: CommandLog,
    commandId: string,
    id: string,
    command: AggregateCommand<TAggregate, TValue>,
    options: ExecuteOptions,
  ): Promise<CommandResult<TAggregate, TValue>> {
    assertValidId('commandId', commandId);
    for (let attempt = 1; ; attempt++) {
      try {
        const processed = await commands.find(commandId);
        if (processed) return await this.#duplicateResult<TValue>(commandId, id, processed.result);
        const aggregate = await this.load(id);
        let value: TValue | undefined;
        let appended: AppendResult | undefined;
        const outcome = await commands.runOnce(commandId, async (unit): Promise<RecordedCommand> => {
          value = await decide(aggregate, command, attempt);
          assertJsonValue(commandId, value);
          appended =
            aggregate.uncommittedEvents.length > 0
              ? await this.#append(unit, aggregate, options.metadata)
              : undefined;
          return {
            aggregateId: id,
            value,
            version: appended?.nextExpectedVersion ?? aggregate.version,
            eventCount: appended?.events.length ?? 0,
          };
        });
        if (outcome.duplicate) return await this.#duplicateResult<TValue>(commandId, id, outcome.result);
        const committed = appended as AppendResult | undefined;
        if (committed) await this.#afterCommit(aggregate, committed);
        return {
          aggregate,
          value: value as TValue,
          events: committed?.events ?? [],
          version: outcome.result.version,
          attempts: attempt,
          duplicate: false,
        };
      } catch (error) {
        await this.#beforeRetry(error, attempt, options);
      }
    }
  }

  async #duplicateResult<TValue>(
    commandId: string,
    id: string,
    recorded: unknown,
  ): Promise<CommandResult<TAggregate, TValue>> {
    if (!isRecordedCommand(recorded)) {
      throw new CorruptDataError(`command "${commandId}" was recorded by something else than a repository`);
    }
    if (recorded.aggregateId !== id) {
      throw new InvalidArgumentError(
        `command "${commandId}" was already processed for aggregate "${recorded.aggregateId}", not "${id}"`,
      );
    }
    const events =
      recorded.eventCount > 0
        ? await this.#store.load(id, {
            fromVersion: recorded.version - recorded.eventCount + 1,
            toVersion: recorded.version,
          })
        : [];
    return {
      aggregate: await this.load(id),
      value: recorded.value as TValue,
      events,
      version: recorded.version,
      attempts: 0,
      duplicate: true,
    };
  }

  async #append(
    target: EventAppender,
    aggregate: TAggregate,
    metadata?: CommandMetadata,
  ): Promise<AppendResult> {
    return target.append(
      aggregate.id,
      aggregate.persistedVersion,
      toNewEvents(aggregate.uncommittedEvents, metadata),
    );
  }

  /** After the append committed: mark the events committed, publish them, snapshot per policy. */
  async #afterCommit(aggregate: TAggregate, result: AppendResult): Promise<void> {
    aggregate.markCommitted(result.nextExpectedVersion);
    if (this.#bus && result.events.length > 0) await this.#bus.publish(result.events);
    if (this.#snapshots && !result.duplicate)
      await this.#snapshots.afterSave(aggregate, result.events.length);
  }

  /** Rethrows `error` unless it is a concurrency conflict worth another attempt; then waits. */
  async #beforeRetry(error: unknown, attempt: number, options: ExecuteOptions): Promise<void> {
    const { signal, metadata } = options;
    if (!isAnnalsError(error, ErrorCode.Concurrency)) throw error;
    const retrying = attempt < this.#retry.maxAttempts && !signal?.aborted;
    safeLog(
      this.#logger,
      retrying ? 'debug' : 'warn',
      {
        aggregateId: error.aggregateId,
        expectedVersion: error.expectedVersion,
        actualVersion: error.actualVersion,
        attempt,
        ...(metadata?.correlationId === undefined ? {} : { correlationId: metadata.correlationId }),
        ...(metadata?.causationId === undefined ? {} : { causationId: metadata.causationId }),
        ...(metadata?.commandId === undefined ? {} : { commandId: metadata.commandId }),
      },
      retrying
        ? `concurrency conflict on ${error.aggregateId} (attempt ${attempt}); retrying`
        : `concurrency conflict on ${error.aggregateId}: gave up after ${attempt} attempt(s)`,
    );
    addActiveSpanEvent('annals.conflict', {
      'annals.attempt': attempt,
      'annals.retrying': retrying,
      'exception.message': error.message,
    });
    if (!retrying) throw error;
    await sleep(backoffDelayMs(this.#retry, attempt), signal);
  }
}

function executeAttributes(id: string, options: ExecuteOptions): Record<string, string> {
  const metadata = options.metadata;
  const attributes: Record<string, string> = { 'annals.aggregate.id': id };
  if (metadata?.commandId !== undefined) attributes['annals.command.id'] = metadata.commandId;
  if (metadata?.correlationId !== undefined) attributes['annals.correlation.id'] = metadata.correlationId;
  return attributes;
}

/** Runs the command on the aggregate in an `annals.decide` span. */
function decide<TAggregate extends AggregateRoot<any>, TValue>(
  aggregate: TAggregate,
  command: AggregateCommand<TAggregate, TValue>,
  attempt: number,
): Promise<TValue> {
  return withSpan(
    'annals.decide',
    { attributes: { 'annals.aggregate.id': aggregate.id, 'annals.attempt': attempt } },
    async (span) => {
      const value = await command(aggregate);
      if (span?.isRecording()) {
        const raised = aggregate.uncommittedEvents;
        span.setAttribute('annals.event.count', raised.length);
        if (raised[0]) span.setAttribute('annals.aggregate.type', raised[0].aggregateType);
      }
      return value;
    },
  );
}

function assertJsonValue(commandId: string, value: unknown): void {
  try {
    JSON.stringify(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(
      `command "${commandId}": a de-duplicated command must return a JSON-serialisable value (${reason})`,
    );
  }
}

function isRecordedCommand(value: unknown): value is RecordedCommand {
  const recorded = value as Partial<RecordedCommand> | null;
  return (
    typeof recorded === 'object' &&
    recorded !== null &&
    typeof recorded.aggregateId === 'string' &&
    Number.isSafeInteger(recorded.version) &&
    Number.isSafeInteger(recorded.eventCount) &&
    recorded.eventCount! >= 0 &&
    recorded.eventCount! <= recorded.version!
  );
}
