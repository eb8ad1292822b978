import { InvalidArgumentError } from '../errors.js';
import type { AnyEventDefinition, StoredEventOf } from '../events/define-event.js';
import type { IEventStore } from '../store/event-store.js';
import {
  AggregateRepository,
  type AggregateRepositoryOptions,
  type ExecuteOptions,
} from './aggregate-repository.js';
import type { Decider } from './decider.js';
import { DeciderAggregate } from './decider-aggregate.js';
import type { DeciderSnapshotFormat, DeciderSnapshotOptions } from './decider-snapshots.js';

/**
 * Options of {@link DeciderRepository}: those of {@link AggregateRepository} (`retry`, `bus`,
 * `commands`, `onWarning`), with a `decider` instead of `create` and a `snapshots` option that
 * also says how the state is stored.
 *
 * @category Aggregates
 */
export interface DeciderRepositoryOptions<
  TState,
  TCommand,
  TDefinition extends AnyEventDefinition,
  TSnapshot = TState,
> extends Omit<
    AggregateRepositoryOptions<DeciderAggregate<TState, TCommand, TDefinition>>,
    'create' | 'snapshots'
  > {
  /** The decider whose aggregates the repository loads and runs commands on. */
  readonly decider: Decider<TState, TCommand, TDefinition>;
  /**
   * Loads aggregates from snapshots and takes snapshots after saves, as
   * {@link AggregateRepositoryOptions.snapshots} does; the snapshot is the decider's state.
   * @defaultValue none: every load replays all events
   */
  readonly snapshots?: DeciderSnapshotOptions<TState, TSnapshot>;
}

/**
 * What {@link DeciderRepository.execute} did.
 *
 * @category Aggregates
 */
export interface DeciderResult<TState, TDefinition extends AnyEventDefinition> {
  /**
   * The state after the command. For a duplicate: the state as loaded now, which may include
   * later events.
   */
  readonly state: TState;
  /** The events the command appended (empty when it decided none); for a duplicate, the first run's. */
  readonly events: readonly StoredEventOf<TDefinition>[];
  /** The stream's version after the command (for a duplicate: after the first run). */
  readonly version: number;
  /** How many times `decide` ran (1 unless concurrency conflicts forced retries; 0 for a duplicate). */
  readonly attempts: number;
  /** True when the command id had been processed already: nothing ran and nothing was appended. */
  readonly duplicate: boolean;
}

/**
 * Runs the commands of a {@link Decider}: loads the aggregate's state, calls `decide` and appends
 * the events with optimistic concurrency. It is a typed face of an {@link AggregateRepository}, so
 * everything works as for class aggregates: retries after conflicts (`decide` runs again on the
 * fresh state), command de-duplication (`commands` and `metadata.commandId`), the event bus and
 * snapshots.
 *
 * @typeParam TState - the decider's state.
 * @typeParam TCommand - the decider's commands.
 * @typeParam TDefinition - the decider's event definitions.
 * @typeParam TSnapshot - the snapshot state, when `snapshots.toSnapshot` changes it.
 *
 * @example
 * ```ts
 * const wallets = new DeciderRepository(store, { decider: wallet, commands: commandLog });
 * const { state, version } = await wallets.execute(
 *   'w-1',
 *   { type: 'deposit', amount: 5 },
 *   { metadata: { commandId: 'cmd-42' } },
 * );
 * ```
 *
 * @category Aggregates
 */
export class DeciderRepository<TState, TCommand, TDefinition extends AnyEventDefinition, TSnapshot = TState> {
  /** The decider this repository runs. */
  readonly decider: Decider<TState, TCommand, TDefinition>;
  readonly #repository: AggregateRepository<DeciderAggregate<TState, TCommand, TDefinition>>;

  constructor(
    store: IEventStore,
    options: DeciderRepositoryOptions<TState, TCommand, TDefinition, TSnapshot>,
  ) {
    const { decider, snapshots, ...rest } = options ?? ({} as typeof options);
    if (typeof decider?.decide !== 'function' || !Array.isArray(decider.events)) {
      throw new InvalidArgumentError('DeciderRepository needs a `decider` (see defineDecider)');
    }
    let format: DeciderSnapshotFormat<TState, TSnapshot> = {};
    if (snapshots !== undefined) {
      const { schemaVersion, schema, toSnapshot, fromSnapshot } = snapshots;
      if (schemaVersion !== undefined && (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1)) {
        throw new InvalidArgumentError(
          'DeciderRepository: `snapshots.schemaVersion` must be an integer >= 1',
        );
      }
      format = { schemaVersion, schema, toSnapshot, fromSnapshot };
    }
    this.decider = decider;
    this.#repository = new AggregateRepository(store, {
      ...rest,
      create: (id) => new DeciderAggregate(decider, id, format),
      ...(snapshots === undefined ? {} : { snapshots: { store: snapshots.store, policy: snapshots.policy } }),
    });
  }

  /**
   * Loads an aggregate: its state from its latest snapshot and the events after it when snapshots
   * are on and a usable one exists, else from all its events. An id without events gives the
   * decider's initial state (`exists` is false).
   */
  load(id: string): Promise<DeciderAggregate<TState, TCommand, TDefinition>> {
    return this.#repository.load(id);
  }

  /**
   * Loads the aggregate, decides `command` on its state and appends the new events, as
   * {@link AggregateRepository.execute} does: on a concurrency conflict it reloads and decides
   * again (up to `retry.maxAttempts`); errors `decide` throws are never retried. With a `commands`
   * log and a `metadata.commandId`, the command runs at most once per id: a repeat returns the
   * first result with `duplicate: true` and appends nothing, and one that arrives while the first
   * run is in flight waits for it rather than calling `decide`.
   */
  async execute(
    id: string,
    command: TCommand,
    options?: ExecuteOptions,
  ): Promise<DeciderResult<TState, TDefinition>> {
    const result = await this.#repository.execute(
      id,
      (aggregate) => {
        aggregate.decide(command);
      },
      options,
    );
    return {
      state: result.aggregate.state,
      events: result.events as readonly StoredEventOf<TDefinition>[],
      version: result.version,
      attempts: result.attempts,
      duplicate: result.duplicate,
    };
  }
}
