import type { AggregateRoot, DomainEvent, ErrorCodeValue, EventRegistry } from 'annals';
import { expect } from 'vitest';

/** A past event given to a scenario: type and payload; the rest of the envelope is filled in. */
export interface GivenEvent {
  readonly type: string;
  readonly payload: unknown;
  readonly metadata?: Record<string, unknown>;
  /**
   * The schema version the payload is written in; with a scenario `registry`, older versions are
   * upcast as a store would.
   * @defaultValue the definition's current version with a registry, else 1
   */
  readonly schemaVersion?: number;
}

/** Options of {@link aggregateScenario}. */
export interface AggregateScenarioOptions {
  /**
   * Reads the given events through this registry, as a store would: each payload is upcast from
   * its `schemaVersion` and validated, so a scenario cannot start from history that a store would
   * never hand out.
   * @defaultValue none: given events are applied as written
   */
  readonly registry?: EventRegistry;
}

/** An event a scenario expects the command to raise: type and payload, compared by value. */
export interface ExpectedEvent {
  readonly type: string;
  readonly payload: unknown;
}

/** What an expected error is matched by: its code, its class, or a predicate. */
export type ErrorMatcher =
  | ErrorCodeValue
  | (abstract new (
      ...args: any[]
    ) => Error)
  | ((error: unknown) => boolean);

/** The `when` step of a scenario: run a command, then check its outcome with `thenEvents`/`thenError`. */
export interface ScenarioWhen<TAggregate> {
  /** Asserts that the command raised exactly these events, in order. Returns the aggregate. */
  thenEvents(expected: readonly ExpectedEvent[]): Promise<TAggregate>;
  /** Asserts that the command threw an error matching `matcher` and raised nothing. */
  thenError(matcher: ErrorMatcher): Promise<unknown>;
}

/** The `given` step of a scenario. */
export interface ScenarioGiven<TAggregate> {
  /** Runs a command on the aggregate built from the given events. */
  when(command: (aggregate: TAggregate) => unknown): ScenarioWhen<TAggregate>;
}

/** A scenario for one aggregate; start it with {@link aggregateScenario}. */
export interface AggregateScenario<TAggregate> extends ScenarioGiven<TAggregate> {
  /** The aggregate's history before the command. */
  given(events: readonly GivenEvent[]): ScenarioGiven<TAggregate>;
}

function toHistory(
  aggregate: AggregateRoot<any>,
  events: readonly GivenEvent[],
  registry: EventRegistry | undefined,
): DomainEvent[] {
  return events.map((event, index) => {
    const raw = {
      eventId: `given-${index + 1}`,
      aggregateId: aggregate.id,
      aggregateType: aggregate.aggregateType,
      type: event.type,
      version: index + 1,
      schemaVersion: event.schemaVersion ?? registry?.get(event.type)?.schemaVersion ?? 1,
      timestamp: new Date(0),
      payload: event.payload,
      metadata: event.metadata ?? {},
    };
    return registry
      ? registry.decode({ ...raw, globalPosition: BigInt(index + 1), transactionId: BigInt(index + 1) })
      : raw;
  });
}

function matches(error: unknown, matcher: ErrorMatcher): boolean {
  if (typeof matcher === 'string') return (error as { code?: unknown })?.code === matcher;
  if (matcher.prototype instanceof Error || matcher === Error) return error instanceof matcher;
  return (matcher as (error: unknown) => boolean)(error);
}

/**
 * Given/when/then for aggregates: given past events, when a command runs, then these events are
 * raised (or this error is thrown). Uses vitest's `expect`, so failures show a diff.
 *
 * @example
 * ```ts
 * await aggregateScenario(() => new OrderAggregate('order-1'))
 *   .given([{ type: 'OrderCreated', payload: { customerId: 'c-1', items: [] } }])
 *   .when((order) => order.ship('DHL', 'track-1'))
 *   .thenError(DomainRuleError);
 * ```
 */
export function aggregateScenario<TAggregate extends AggregateRoot<any>>(
  create: () => TAggregate,
  options: AggregateScenarioOptions = {},
): AggregateScenario<TAggregate> {
  const build = (history: readonly GivenEvent[]) => (command: (aggregate: TAggregate) => unknown) => {
    const run = async () => {
      const aggregate = create();
      aggregate.loadFromHistory(toHistory(aggregate, history, options.registry));
      try {
        await command(aggregate);
        return { aggregate, error: undefined, threw: false };
      } catch (error) {
        return { aggregate, error, threw: true };
      }
    };
    return {
      async thenEvents(expected: readonly ExpectedEvent[]) {
        const outcome = await run();
        if (outcome.threw) throw outcome.error;
        const raised = outcome.aggregate.uncommittedEvents.map((event: DomainEvent) => ({
          type: event.type,
          payload: event.payload,
        }));
        expect(raised).toEqual(expected);
        return outcome.aggregate;
      },
      async thenError(matcher: ErrorMatcher) {
        const outcome = await run();
        expect(outcome.threw, 'expected the command to throw').toBe(true);
        expect(matches(outcome.error, matcher), `unexpected error: ${String(outcome.error)}`).toBe(true);
        expect(outcome.aggregate.uncommittedEvents).toHaveLength(0);
        return outcome.error;
      },
    };
  };
  return {
    given: (events) => ({ when: build(events) }),
    when: build([]),
  };
}
