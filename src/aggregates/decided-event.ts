import type { AnyEventDefinition, PayloadInputOf } from '../events/define-event.js';
import type { EventMetadata } from '../events/event-envelope.js';

/**
 * An event a {@link Decider} decides on: its type and payload (and optional metadata of its own),
 * before it has an id or a version. The payload is validated against its definition's schema when
 * the decision is applied, before anything is appended.
 *
 * @typeParam TDefinition - the event definitions (a union) the decider may decide on.
 *
 * @category Aggregates
 */
export type DecidedEvent<TDefinition extends AnyEventDefinition = AnyEventDefinition> = {
  readonly [K in TDefinition['type']]: {
    /** The event type, one of the decider's definitions. */
    readonly type: K;
    /** The payload as the definition's schema accepts it (its input type). */
    readonly payload: PayloadInputOf<Extract<TDefinition, { readonly type: K }>>;
    /** Metadata of this event, merged with the command's metadata. */
    readonly metadata?: EventMetadata;
  };
}[TDefinition['type']];

/**
 * What {@link Decider.decide} returns: one new event, several (in order), or none (`[]`).
 *
 * @category Aggregates
 */
export type Decision<TDefinition extends AnyEventDefinition = AnyEventDefinition> =
  | DecidedEvent<TDefinition>
  | readonly DecidedEvent<TDefinition>[];

/**
 * Builds a {@link DecidedEvent} from an event definition, so its type name and payload are
 * checked by TypeScript against the definition. The payload is validated against the schema when
 * the decision is applied (an {@link EventValidationError} then fails the command).
 *
 * @example
 * ```ts
 * decide: (command: Deposit, state) => createEvent(MoneyDeposited, { amount: command.amount }),
 * ```
 *
 * @category Aggregates
 */
export function createEvent<TDefinition extends AnyEventDefinition>(
  definition: TDefinition,
  payload: PayloadInputOf<TDefinition>,
  metadata?: EventMetadata,
): DecidedEvent<TDefinition> {
  const event =
    metadata === undefined
      ? { type: definition.type, payload }
      : { type: definition.type, payload, metadata };
  return Object.freeze(event) as DecidedEvent<TDefinition>;
}
