import { InvalidArgumentError, MissingEventHandlerError } from '../errors.js';
import type { AnyEventDefinition, EventOf } from '../events/define-event.js';
import type { StandardSchemaV1 } from '../events/standard-schema.js';
import { SnapshotAggregateRoot } from '../snapshots/snapshot-aggregate-root.js';
import type { AggregateEventHandlers, EventDefinitionFor } from './aggregate-root.js';
import type { DecidedEvent } from './decided-event.js';
import type { Decider } from './decider.js';
import type { DeciderSnapshotFormat } from './decider-snapshots.js';

/**
 * A {@link Decider} bound to one aggregate id: the object an {@link AggregateRepository} loads,
 * saves and snapshots for the functional style. It is an {@link AggregateRoot} (versions,
 * uncommitted events, the same checks on history) whose handlers run the decider's `evolve`, and
 * a {@link SnapshotAggregateRoot} whose snapshot is the decider's state. A
 * {@link DeciderRepository} creates them; you rarely construct one yourself.
 *
 * @typeParam TState - the decider's state.
 * @typeParam TCommand - the decider's commands.
 * @typeParam TDefinition - the decider's event definitions.
 *
 * @example
 * ```ts
 * const aggregate = new DeciderAggregate(wallet, 'w-1');
 * aggregate.decide({ type: 'open', owner: 'ada' });
 * aggregate.state; // { owner: 'ada', balance: 0 }
 * aggregate.uncommittedEvents; // [WalletOpened]
 * ```
 *
 * @category Aggregates
 */
export class DeciderAggregate<
  TState,
  TCommand,
  TDefinition extends AnyEventDefinition,
> extends SnapshotAggregateRoot<EventOf<TDefinition>, unknown> {
  /** The decider's aggregate type. */
  readonly aggregateType: string;
  /** The version of the snapshot's shape: the snapshot format's `schemaVersion` (default 1). */
  readonly snapshotSchemaVersion: number;
  /** The decider this aggregate runs. */
  readonly decider: Decider<TState, TCommand, TDefinition>;
  protected readonly handlers: AggregateEventHandlers<EventOf<TDefinition>>;
  protected override readonly snapshotSchema?: StandardSchemaV1<unknown, unknown>;
  readonly #definitions: ReadonlyMap<string, TDefinition>;
  readonly #format: DeciderSnapshotFormat<TState, unknown>;
  #state: TState;

  /**
   * @param decider - the decider to run.
   * @param id - the aggregate's id.
   * @param snapshotFormat - how the state is snapshotted; by default the state itself at version 1.
   */
  constructor(
    decider: Decider<TState, TCommand, TDefinition>,
    id: string,
    snapshotFormat: DeciderSnapshotFormat<TState, any> = {},
  ) {
    super(id);
    this.decider = decider;
    this.aggregateType = decider.aggregateType;
    this.snapshotSchemaVersion = snapshotFormat.schemaVersion ?? 1;
    this.snapshotSchema = snapshotFormat.schema;
    this.#format = snapshotFormat;
    this.#definitions = new Map(decider.events.map((definition) => [definition.type, definition]));
    const evolve = (event: EventOf<TDefinition>) => {
      const next = decider.evolve(this.#state, event);
      if (next === undefined) {
        throw new InvalidArgumentError(
          `${this.aggregateType} "${this.id}": evolve returned undefined for ${event.type}; it must return the new state`,
        );
      }
      this.#state = next;
    };
    this.handlers = Object.fromEntries(
      decider.events.map((definition) => [definition.type, evolve]),
    ) as unknown as AggregateEventHandlers<EventOf<TDefinition>>;
    this.#state = decider.initialState();
  }

  /** The state after every event applied so far, decided ones included. */
  get state(): TState {
    return this.#state;
  }

  /**
   * Runs the decider's `decide` on the current state and applies the events it returns: each
   * payload is validated ({@link EventValidationError}) and the event is kept as uncommitted, for
   * the repository to append. Returns the new events. What `decide` throws passes through; after
   * an error, discard the aggregate.
   */
  decide(command: TCommand): readonly EventOf<TDefinition>[] {
    const decision = this.decider.decide(command, this.#state);
    if (decision === undefined || decision === null) {
      throw new InvalidArgumentError(
        `${this.aggregateType} "${this.id}": decide returned ${String(decision)}; return an event, an array of events or []`,
      );
    }
    const decided = (Array.isArray(decision) ? decision : [decision]) as readonly DecidedEvent<TDefinition>[];
    const before = this.uncommittedEvents.length;
    for (const event of decided) {
      const definition = this.#definitions.get(event?.type) as
        | EventDefinitionFor<EventOf<TDefinition>>
        | undefined;
      if (!definition) throw new MissingEventHandlerError(this.aggregateType, String(event?.type));
      if (this.exists) this.raise(definition, event.payload, event.metadata);
      else this.raiseCreation(definition, event.payload, event.metadata);
    }
    return this.uncommittedEvents.slice(before);
  }

  protected toSnapshot(): unknown {
    return this.#format.toSnapshot ? this.#format.toSnapshot(this.#state) : this.#state;
  }

  protected fromSnapshot(state: unknown): void {
    this.#state = this.#format.fromSnapshot ? this.#format.fromSnapshot(state) : (state as TState);
  }
}
