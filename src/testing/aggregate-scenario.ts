import { expect } from 'vitest';
import type { Decider } from '../aggregates/decider.js';
import { DeciderAggregate } from '../aggregates/decider-aggregate.js';
import type { AggregateRoot, DomainEvent, ErrorCodeValue, EventRegistry } from '../core.js';
import type { AnyEventDefinition, PayloadOf } from '../events/define-event.js';

/**
 * A past event given to a scenario: type and payload; the rest of the envelope is filled in.
 *
 * @category Testing
 */
export interface GivenEvent {
  /** The event type. */
  readonly type: string;
  /** The payload, at `schemaVersion`. */
  readonly payload: unknown;
  /** The event's metadata; `{}` when left out. */
  readonly metadata?: Record<string, unknown>;
  /**
   * The schema version the payload is written in; with a scenario `registry`, older versions are
   * upcast as a store would.
   * @defaultValue the definition's current version with a registry, else 1
   */
  readonly schemaVersion?: number;
}

/**
 * Options of {@link aggregateScenario}.
 *
 * @category Testing
 */
export interface AggregateScenarioOptions {
  /**
   * Reads the given events through this registry, as a store would: each payload is upcast from
   * its `schemaVersion` and validated, so a scenario cannot start from history that a store would
   * never hand out.
   * @defaultValue none: given events are applied as written
   */
  readonly registry?: EventRegistry;
}

/**
 * An event a scenario expects the command to raise: type and payload, compared by value.
 *
 * @category Testing
 */
export interface ExpectedEvent {
  /** The event type. */
  readonly type: string;
  /** The payload, compared deeply with the raised event's. */
  readonly payload: unknown;
}

/**
 * What an expected error is matched by: its code, its class, or a predicate.
 *
 * @category Testing
 */
export type ErrorMatcher =
  | ErrorCodeValue
  | (abstract new (
      ...args: any[]
    ) => Error)
  | ((error: unknown) => boolean);

/**
 * The `when` step of a scenario: run a command, then check its outcome with `thenEvents`/`thenError`.
 *
 * @category Testing
 */
export interface ScenarioWhen<TAggregate> {
  /** Asserts that the command raised exactly these events, in order. Returns the aggregate. */
  thenEvents(expected: readonly ExpectedEvent[]): Promise<TAggregate>;
  /** Asserts that the command threw an error matching `matcher` and raised nothing. */
  thenError(matcher: ErrorMatcher): Promise<unknown>;
}

/**
 * The `given` step of a scenario.
 *
 * @category Testing
 */
export interface ScenarioGiven<TAggregate> {
  /** Runs a command on the aggregate built from the given events. */
  when(command: (aggregate: TAggregate) => unknown): ScenarioWhen<TAggregate>;
}

/**
 * A scenario for one aggregate; start it with {@link aggregateScenario}.
 *
 * @category Testing
 */
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
 *
 * @category Testing
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

/**
 * A past event given to a decider scenario, typed by the decider's event definitions: a type and
 * its payload at the current schema version (for an older version with a scenario `registry`,
 * give `schemaVersion` and the old payload).
 *
 * @category Testing
 */
export type GivenEventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ?
      | {
          /** The event type. */
          readonly type: TDefinition['type'];
          /** The payload at the current schema version. */
          readonly payload: PayloadOf<TDefinition>;
          /** The event's metadata; `{}` when left out. */
          readonly metadata?: Record<string, unknown>;
        }
      | {
          /** The event type. */
          readonly type: TDefinition['type'];
          /** The payload at `schemaVersion`, upcast by the scenario's `registry`. */
          readonly payload: unknown;
          /** The event's metadata; `{}` when left out. */
          readonly metadata?: Record<string, unknown>;
          /** The schema version the payload is written in. */
          readonly schemaVersion: number;
        }
  : never;

/**
 * An event a decider scenario expects, typed by the decider's event definitions.
 *
 * @category Testing
 */
export type ExpectedEventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ? {
      /** The event type. */
      readonly type: TDefinition['type'];
      /** The payload, compared deeply with the decided event's. */
      readonly payload: PayloadOf<TDefinition>;
    }
  : never;

/**
 * Options of {@link deciderScenario}.
 *
 * @category Testing
 */
export interface DeciderScenarioOptions extends AggregateScenarioOptions {
  /**
   * The aggregate id the events belong to.
   * @defaultValue `'scenario-1'`
   */
  readonly id?: string;
}

/**
 * The `when` step of a decider scenario: decide a command, then check the outcome.
 *
 * @category Testing
 */
export interface DeciderScenarioWhen<TState, TDefinition extends AnyEventDefinition> {
  /** Asserts that `decide` returned exactly these events, in order. Returns the state after them. */
  thenEvents(expected: readonly ExpectedEventOf<TDefinition>[]): Promise<TState>;
  /** Asserts that `decide` (or applying its events) threw an error matching `matcher`. */
  thenError(matcher: ErrorMatcher): Promise<unknown>;
}

/**
 * The `given` step of a decider scenario.
 *
 * @category Testing
 */
export interface DeciderScenarioGiven<TState, TCommand, TDefinition extends AnyEventDefinition> {
  /** Decides a command on the state built from the given events. */
  when(command: TCommand): DeciderScenarioWhen<TState, TDefinition>;
}

/**
 * A scenario for one decider; start it with {@link deciderScenario}.
 *
 * @category Testing
 */
export interface DeciderScenario<TState, TCommand, TDefinition extends AnyEventDefinition>
  extends DeciderScenarioGiven<TState, TCommand, TDefinition> {
  /** The aggregate's history before the command. */
  given(events: readonly GivenEventOf<TDefinition>[]): DeciderScenarioGiven<TState, TCommand, TDefinition>;
}

/**
 * Given/when/then for deciders: given past events, when a command is decided, then these events
 * are decided (or this error is thrown). It runs on {@link aggregateScenario}, so given events,
 * the optional `registry` and error matchers work the same way; events and commands are typed by
 * the decider.
 *
 * @example
 * ```ts
 * const state = await deciderScenario(wallet)
 *   .given([{ type: 'WalletOpened', payload: { owner: 'ada' } }])
 *   .when({ type: 'deposit', amount: 5 })
 *   .thenEvents([{ type: 'MoneyDeposited', payload: { amount: 5 } }]);
 * expect(state.balance).toBe(5);
 * ```
 *
 * @category Testing
 */
export function deciderScenario<TState, TCommand, TDefinition extends AnyEventDefinition>(
  decider: Decider<TState, TCommand, TDefinition>,
  options: DeciderScenarioOptions = {},
): DeciderScenario<TState, TCommand, TDefinition> {
  const id = options.id ?? 'scenario-1';
  const scenario = aggregateScenario(() => new DeciderAggregate(decider, id), options);
  const when =
    (given: ScenarioGiven<DeciderAggregate<TState, TCommand, TDefinition>>) =>
    (command: TCommand): DeciderScenarioWhen<TState, TDefinition> => {
      const then = given.when((aggregate) => aggregate.decide(command));
      return {
        thenEvents: async (expected) => (await then.thenEvents(expected)).state,
        thenError: (matcher) => then.thenError(matcher),
      };
    };
  return {
    given: (events) => ({ when: when(scenario.given(events)) }),
    when: when(scenario),
  };
}
