import {
  AggregateAlreadyExistsError,
  AggregateNotFoundError,
  CorruptDataError,
  InvalidArgumentError,
  MissingEventHandlerError,
} from '../errors.js';
import type { AnyEventDefinition, PayloadInputOf } from '../events/define-event.js';
import type { DomainEvent, EventMetadata } from '../events/event-envelope.js';
import { newEventId } from '../events/event-id.js';
import { assertValidId } from '../events/event-registry.js';
import { validatePayload } from '../events/validate-payload.js';

/**
 * The handlers that apply an aggregate's events to its state, one per event type, keyed by the
 * type's name. TypeScript requires a handler for every member of the union.
 *
 * @category Aggregates
 */
export type AggregateEventHandlers<TEvent extends DomainEvent> = {
  readonly [K in TEvent['type']]: (event: Extract<TEvent, { type: K }>) => void;
};

/**
 * The event definitions whose events an aggregate with events `TEvent` may raise.
 *
 * @category Aggregates
 */
export type EventDefinitionFor<TEvent extends DomainEvent> = AnyEventDefinition & {
  /** The event type: one of `TEvent`'s types. */
  readonly type: TEvent['type'];
};

/**
 * The base class of event-sourced aggregates. State changes only by applying events: events
 * loaded from the store ({@link AggregateRoot.loadFromHistory}) and events the aggregate
 * raises in its command methods ({@link AggregateRoot.raise}), which are applied at once and kept
 * as uncommitted until a repository appends them.
 *
 * @typeParam TEvent - the union of the aggregate's event types, e.g. `EventOf<typeof A | typeof B>`.
 *
 * @example
 * ```ts
 * class Counter extends AggregateRoot<EventOf<typeof Incremented>> {
 *   readonly aggregateType = 'Counter';
 *   count = 0;
 *   protected readonly handlers = {
 *     Incremented: (event) => { this.count += event.payload.by; },
 *   } satisfies AggregateEventHandlers<EventOf<typeof Incremented>>;
 *   increment(by: number) { this.raise(Incremented, { by }); }
 * }
 * ```
 *
 * @category Aggregates
 */
export abstract class AggregateRoot<TEvent extends DomainEvent = DomainEvent> {
  /** The aggregate's type, stored with each event (e.g. `Order`). */
  abstract readonly aggregateType: string;
  /** Applies each event type to the state; see {@link AggregateEventHandlers}. */
  protected abstract readonly handlers: AggregateEventHandlers<TEvent>;

  /** The aggregate's id, which is its stream's id. */
  readonly id: string;
  #version = 0;
  #persistedVersion = 0;
  #uncommitted: TEvent[] = [];

  constructor(id: string) {
    assertValidId('aggregate id', id);
    this.id = id;
  }

  /** The version of the last applied event, uncommitted ones included; `0` for a new aggregate. */
  get version(): number {
    return this.#version;
  }

  /** The version the store holds: the expected version of the next append. */
  get persistedVersion(): number {
    return this.#persistedVersion;
  }

  /** True once the aggregate has at least one event (stored or raised). */
  get exists(): boolean {
    return this.#version > 0;
  }

  /** Events raised since the last load or {@link AggregateRoot.markCommitted}, in order. */
  get uncommittedEvents(): readonly TEvent[] {
    return this.#uncommitted;
  }

  /**
   * Applies stored events in order. Each event's version must follow the current version, so a
   * gap or a foreign event is a {@link CorruptDataError}, not silent wrong state.
   */
  loadFromHistory(events: Iterable<DomainEvent>): this {
    if (this.#uncommitted.length > 0) {
      throw new InvalidArgumentError(
        `${this.aggregateType} "${this.id}": cannot load history with uncommitted events`,
      );
    }
    for (const event of events) {
      if (event.aggregateId !== this.id) {
        throw new CorruptDataError(
          `${this.aggregateType} "${this.id}": event ${event.eventId} belongs to "${event.aggregateId}"`,
        );
      }
      if (event.version !== this.#version + 1) {
        throw new CorruptDataError(
          `${this.aggregateType} "${this.id}": event ${event.eventId} has version ${event.version}, expected ${this.#version + 1}`,
        );
      }
      this.#apply(event as TEvent);
      this.#version = event.version;
    }
    this.#persistedVersion = this.#version;
    return this;
  }

  /**
   * Sets the version the aggregate stands at without applying events: for restoring from a
   * snapshot taken at `version`. Call it before {@link AggregateRoot.loadFromHistory} of the
   * events after the snapshot.
   */
  protected restoreVersion(version: number): void {
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new InvalidArgumentError(`restoreVersion: invalid version ${version}`);
    }
    if (this.#version !== 0 || this.#uncommitted.length > 0) {
      throw new InvalidArgumentError('restoreVersion: only a fresh aggregate can be restored');
    }
    this.#version = version;
    this.#persistedVersion = version;
  }

  /** Forgets the uncommitted events after they were appended at `persistedVersion`. */
  markCommitted(persistedVersion: number = this.#version): void {
    this.#uncommitted = [];
    this.#persistedVersion = persistedVersion;
    this.#version = Math.max(this.#version, persistedVersion);
  }

  /**
   * Raises an event on an existing aggregate: validates the payload, applies the event at once
   * and keeps it as uncommitted. Throws {@link AggregateNotFoundError} when the aggregate has no
   * events yet: use {@link AggregateRoot.raiseCreation} for the first event.
   */
  protected raise<TDefinition extends EventDefinitionFor<TEvent>>(
    definition: TDefinition,
    payload: PayloadInputOf<TDefinition>,
    metadata?: EventMetadata,
  ): void {
    if (!this.exists) throw new AggregateNotFoundError(this.aggregateType, this.id);
    this.#raise(definition, payload, metadata);
  }

  /**
   * Raises the event that creates the aggregate. Throws {@link AggregateAlreadyExistsError} when
   * the aggregate has events already.
   */
  protected raiseCreation<TDefinition extends EventDefinitionFor<TEvent>>(
    definition: TDefinition,
    payload: PayloadInputOf<TDefinition>,
    metadata?: EventMetadata,
  ): void {
    if (this.exists) throw new AggregateAlreadyExistsError(this.aggregateType, this.id);
    this.#raise(definition, payload, metadata);
  }

  /** Throws {@link AggregateNotFoundError} unless the aggregate exists; for command methods. */
  protected assertExists(): void {
    if (!this.exists) throw new AggregateNotFoundError(this.aggregateType, this.id);
  }

  #raise(definition: AnyEventDefinition, payload: unknown, metadata: EventMetadata | undefined): void {
    const parsed = validatePayload(definition, payload);
    const event = {
      eventId: newEventId(),
      aggregateId: this.id,
      aggregateType: this.aggregateType,
      type: definition.type,
      version: this.#version + 1,
      schemaVersion: definition.schemaVersion,
      timestamp: new Date(),
      payload: parsed,
      metadata: { ...metadata },
    } as DomainEvent as TEvent;
    this.#apply(event);
    this.#version = event.version;
    this.#uncommitted.push(event);
  }

  #apply(event: TEvent): void {
    const handler = (this.handlers as unknown as Record<string, ((event: TEvent) => void) | undefined>)[
      event.type
    ];
    if (typeof handler !== 'function' || !Object.hasOwn(this.handlers, event.type)) {
      throw new MissingEventHandlerError(this.aggregateType, event.type);
    }
    handler.call(this, event);
  }
}
