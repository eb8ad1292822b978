import { InvalidArgumentError } from '../errors.js';
import type { AnyEventDefinition, EventOf } from '../events/define-event.js';
import type { Decision } from './decided-event.js';

/**
 * An aggregate in the functional style (a "decider", as in Emmett): a state that starts at
 * {@link Decider.initialState}, changes only by {@link Decider.evolve} with each event, and
 * {@link Decider.decide}, which turns a command and the current state into new events (or throws,
 * such as a {@link DomainRuleError}). It runs through a {@link DeciderRepository}, which loads,
 * retries, de-duplicates and snapshots exactly as an {@link AggregateRepository} does for classes.
 *
 * Create one with {@link defineDecider}, which infers the state, command and event types.
 *
 * @typeParam TState - the state `evolve` builds and `decide` reads.
 * @typeParam TCommand - the commands `decide` accepts (usually a union).
 * @typeParam TDefinition - the event definitions (a union) of the aggregate's events.
 *
 * @example
 * ```ts
 * import { createEvent, type Decider, defineEvent } from 'annals';
 * import { z } from 'zod';
 *
 * const Incremented = defineEvent({ type: 'Incremented', schema: z.object({ by: z.number() }) });
 *
 * // A counter as a plain object; defineDecider infers these type arguments instead.
 * const counter: Decider<number, { by: number }, typeof Incremented> = {
 *   aggregateType: 'Counter',
 *   events: [Incremented],
 *   initialState: () => 0,
 *   evolve: (count, event) => count + event.payload.by,
 *   decide: (command) => createEvent(Incremented, { by: command.by }),
 * };
 * ```
 *
 * @category Aggregates
 */
export interface Decider<TState, TCommand, TDefinition extends AnyEventDefinition> {
  /** The aggregate's type, stored with each event (e.g. `Wallet`). */
  readonly aggregateType: string;
  /** The definitions of every event the aggregate decides on and evolves with. */
  readonly events: readonly TDefinition[];
  /** The state of an aggregate without events. Called once per load. */
  initialState(): TState;
  /** Returns the state after `event`. Must not mutate `state` (return a new one) and must not throw for stored events. */
  evolve(state: TState, event: EventOf<TDefinition>): TState;
  /**
   * Decides what `command` does in `state`: returns the new events (one, several or `[]`), or
   * throws to reject the command. It must have no side effects: after a concurrency conflict it
   * runs again on the fresh state.
   */
  decide(command: TCommand, state: TState): Decision<TDefinition>;
}

/**
 * Any {@link Decider}.
 *
 * @category Aggregates
 */
export type AnyDecider = Decider<any, any, any>;

/**
 * The state type of a {@link Decider}.
 *
 * @category Aggregates
 */
export type DeciderState<TDecider extends AnyDecider> =
  TDecider extends Decider<infer TState, any, any> ? TState : never;

/**
 * The command type of a {@link Decider}.
 *
 * @category Aggregates
 */
export type DeciderCommand<TDecider extends AnyDecider> =
  TDecider extends Decider<any, infer TCommand, any> ? TCommand : never;

/**
 * The event definitions (a union) of a {@link Decider}.
 *
 * @category Aggregates
 */
export type DeciderDefinition<TDecider extends AnyDecider> =
  TDecider extends Decider<any, any, infer TDefinition> ? TDefinition : never;

/**
 * The event type (a union of {@link DomainEvent}s) of a {@link Decider}.
 *
 * @category Aggregates
 */
export type DeciderEvent<TDecider extends AnyDecider> = EventOf<DeciderDefinition<TDecider>>;

/**
 * Defines a {@link Decider}, checking it at runtime (a non-empty `aggregateType`, distinct event
 * types, the three functions) and inferring its types: the events from `events`, the state from
 * `initialState`, the command from `decide`'s parameter.
 *
 * @example
 * ```ts
 * type WalletCommand = { type: 'open'; owner: string } | { type: 'deposit'; amount: number };
 *
 * const wallet = defineDecider({
 *   aggregateType: 'Wallet',
 *   events: [WalletOpened, MoneyDeposited],
 *   initialState: () => ({ owner: '', balance: 0 }),
 *   evolve: (state, event) => {
 *     switch (event.type) {
 *       case 'WalletOpened':
 *         return { ...state, owner: event.payload.owner };
 *       case 'MoneyDeposited':
 *         return { ...state, balance: state.balance + event.payload.amount };
 *     }
 *   },
 *   decide: (command: WalletCommand, state) => {
 *     if (command.type === 'open') return createEvent(WalletOpened, { owner: command.owner });
 *     if (state.owner === '') throw new DomainRuleError('no such wallet');
 *     return createEvent(MoneyDeposited, { amount: command.amount });
 *   },
 * });
 * ```
 *
 * @category Aggregates
 */
export function defineDecider<TState, TCommand, TDefinition extends AnyEventDefinition>(
  decider: Decider<TState, TCommand, TDefinition>,
): Decider<TState, TCommand, TDefinition> {
  const { aggregateType, events } = decider ?? {};
  if (typeof aggregateType !== 'string' || aggregateType.trim() === '') {
    throw new InvalidArgumentError('defineDecider: `aggregateType` must be a non-empty string');
  }
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidArgumentError(
      `defineDecider("${aggregateType}"): \`events\` must list its event definitions`,
    );
  }
  const types = new Set<string>();
  for (const definition of events as readonly AnyEventDefinition[]) {
    if (typeof definition?.type !== 'string') {
      throw new InvalidArgumentError(
        `defineDecider("${aggregateType}"): \`events\` holds something else than an event definition`,
      );
    }
    if (types.has(definition.type)) {
      throw new InvalidArgumentError(
        `defineDecider("${aggregateType}"): event type "${definition.type}" is listed twice`,
      );
    }
    types.add(definition.type);
  }
  for (const name of ['initialState', 'evolve', 'decide'] as const) {
    if (typeof decider[name] !== 'function') {
      throw new InvalidArgumentError(`defineDecider("${aggregateType}"): \`${name}\` must be a function`);
    }
  }
  return Object.freeze({
    aggregateType,
    events: Object.freeze([...events]),
    initialState: decider.initialState,
    evolve: decider.evolve,
    decide: decider.decide,
  });
}
