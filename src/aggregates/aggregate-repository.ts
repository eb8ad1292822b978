import type { EventBus } from '../bus/event-bus.js';
import { InvalidArgumentError, isConcurrencyError } from '../errors.js';
import type { DomainEvent, NewEvent, StoredEvent } from '../events/event-envelope.js';
import { backoffDelayMs, type RetryOptions, resolveRetryOptions, sleep } from '../retry.js';
import type { AppendResult, IEventStore } from '../store/event-store.js';
import type { AggregateRoot } from './aggregate-root.js';
import { type CommandMetadata, eventMetadataFor } from './command-metadata.js';

/** Options of {@link AggregateRepository}. */
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
}

/** Options of one {@link AggregateRepository.execute} call. */
export interface ExecuteOptions {
  /** The command's id, correlation and causation ids, copied into each event's metadata. */
  readonly metadata?: CommandMetadata;
  /** Aborts waiting between retries. */
  readonly signal?: AbortSignal;
}

/** What {@link AggregateRepository.execute} did. */
export interface CommandResult<TAggregate, TValue> {
  /** The aggregate after the command, with its events committed. */
  readonly aggregate: TAggregate;
  /** What the command function returned. */
  readonly value: TValue;
  /** The events the command appended (empty when it raised none). */
  readonly events: readonly StoredEvent[];
  /** The stream's version after the command. */
  readonly version: number;
  /** How many times the command ran (1 unless concurrency conflicts forced retries). */
  readonly attempts: number;
}

/** A command run by {@link AggregateRepository.execute}: calls methods of the aggregate. */
export type AggregateCommand<TAggregate, TValue> = (aggregate: TAggregate) => TValue | Promise<TValue>;

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
 * events with optimistic concurrency, retrying on conflicts.
 *
 * @example
 * ```ts
 * const orders = new AggregateRepository(store, { create: (id) => new OrderAggregate(id) });
 * await orders.execute('order-1', (order) => order.addItem('sku-1', 2, 9.5), {
 *   metadata: { commandId: 'cmd-42', correlationId: 'req-7' },
 * });
 * ```
 */
export class AggregateRepository<TAggregate extends AggregateRoot<any>> {
  readonly #store: IEventStore;
  readonly #create: (id: string) => TAggregate;
  readonly #retry: Required<RetryOptions>;
  readonly #bus: EventBus | undefined;

  constructor(store: IEventStore, options: AggregateRepositoryOptions<TAggregate>) {
    if (typeof options?.create !== 'function') {
      throw new InvalidArgumentError('AggregateRepository needs a `create(id)` function');
    }
    this.#store = store;
    this.#create = options.create;
    this.#retry = resolveRetryOptions(options.retry);
    this.#bus = options.bus;
  }

  /** Loads an aggregate's history. An id without events gives a fresh aggregate (`exists` is false). */
  async load(id: string): Promise<TAggregate> {
    const aggregate = this.#create(id);
    const events = await this.#store.load(id);
    return aggregate.loadFromHistory(events);
  }

  /**
   * Appends the aggregate's uncommitted events, expecting the version it was loaded at, then
   * marks them committed and publishes them to the bus. Throws {@link ConcurrencyError} when the
   * stream moved on meanwhile.
   */
  async save(aggregate: TAggregate, metadata?: CommandMetadata): Promise<AppendResult> {
    const pending = aggregate.uncommittedEvents;
    const result = await this.#store.append(
      aggregate.id,
      aggregate.persistedVersion,
      toNewEvents(pending, metadata),
    );
    aggregate.markCommitted(result.nextExpectedVersion);
    if (this.#bus && result.events.length > 0) await this.#bus.publish(result.events);
    return result;
  }

  /**
   * Loads the aggregate, runs `command` on it and saves the events it raised. On a concurrency
   * conflict it waits (backoff), reloads and runs the command again, up to `retry.maxAttempts`
   * times; then the last {@link ConcurrencyError} is thrown. Errors the command throws (such as
   * {@link DomainRuleError}) are never retried.
   */
  async execute<TValue>(
    id: string,
    command: AggregateCommand<TAggregate, TValue>,
    options: ExecuteOptions = {},
  ): Promise<CommandResult<TAggregate, TValue>> {
    for (let attempt = 1; ; attempt++) {
      const aggregate = await this.load(id);
      const value = await command(aggregate);
      if (aggregate.uncommittedEvents.length === 0) {
        return { aggregate, value, events: [], version: aggregate.version, attempts: attempt };
      }
      try {
        const result = await this.save(aggregate, options.metadata);
        return {
          aggregate,
          value,
          events: result.events,
          version: result.nextExpectedVersion,
          attempts: attempt,
        };
      } catch (error) {
        if (!isConcurrencyError(error) || attempt >= this.#retry.maxAttempts || options.signal?.aborted)
          throw error;
        await sleep(backoffDelayMs(this.#retry, attempt), options.signal);
      }
    }
  }
}
