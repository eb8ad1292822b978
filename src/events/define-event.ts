import type { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { DomainEvent, StoredEvent } from './event-envelope.js';

/**
 * The definition of one event type: its name, its payload's zod schema and the schema's version.
 * Create it with {@link defineEvent}.
 *
 * @typeParam TType - the event type's literal name.
 * @typeParam TSchema - the zod schema of the payload.
 */
export interface EventDefinition<TType extends string = string, TSchema extends z.ZodType = z.ZodType> {
  /** The event type, such as `OrderCreated`. */
  readonly type: TType;
  /** The payload's zod schema. Payloads are validated with it on append and on read. */
  readonly schema: TSchema;
  /** The current schema version (1-based). New events are written at this version. */
  readonly schemaVersion: number;
  /** Narrows an event to this definition's type. */
  is(event: DomainEvent): event is DomainEvent<TType, z.output<TSchema>>;
}

/** Any event definition. */
export type AnyEventDefinition = EventDefinition<string, z.ZodType>;

/** The payload type of an event definition, as zod outputs it. */
export type PayloadOf<TDefinition extends AnyEventDefinition> = z.output<TDefinition['schema']>;

/** The payload type a definition accepts before parsing (zod's input type). */
export type PayloadInputOf<TDefinition extends AnyEventDefinition> = z.input<TDefinition['schema']>;

/**
 * The {@link DomainEvent} type of one definition or of a union of definitions.
 *
 * @example
 * ```ts
 * type OrderEvent = EventOf<typeof OrderCreated | typeof OrderItemAdded>;
 * ```
 */
export type EventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ? DomainEvent<TDefinition['type'], PayloadOf<TDefinition>>
  : never;

/** The {@link StoredEvent} type of one definition or of a union of definitions. */
export type StoredEventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ? StoredEvent<TDefinition['type'], PayloadOf<TDefinition>>
  : never;

/** Options of {@link defineEvent}. */
export interface DefineEventOptions<TType extends string, TSchema extends z.ZodType> {
  /** The event type: a non-empty name, unique within a registry. */
  readonly type: TType;
  /** The payload's zod schema. It must describe JSON values (use strings for dates). */
  readonly schema: TSchema;
  /**
   * The current schema version. Raise it when the payload's shape changes and register an
   * upcaster from the previous version.
   * @defaultValue 1
   */
  readonly schemaVersion?: number;
}

/**
 * Defines an event type with a zod schema for its payload. The payload's TypeScript type is
 * inferred from the schema.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineEvent } from 'annals';
 *
 * export const OrderShipped = defineEvent({
 *   type: 'OrderShipped',
 *   schema: z.object({ carrier: z.string(), trackingNumber: z.string() }),
 * });
 * ```
 */
export function defineEvent<const TType extends string, TSchema extends z.ZodType>(
  options: DefineEventOptions<TType, TSchema>,
): EventDefinition<TType, TSchema> {
  const { type, schema } = options;
  const schemaVersion = options.schemaVersion ?? 1;
  if (typeof type !== 'string' || type.trim() === '') {
    throw new InvalidArgumentError('defineEvent: `type` must be a non-empty string');
  }
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1) {
    throw new InvalidArgumentError(`defineEvent("${type}"): schemaVersion must be an integer >= 1`);
  }
  if (typeof schema?.safeParse !== 'function') {
    throw new InvalidArgumentError(`defineEvent("${type}"): \`schema\` must be a zod schema`);
  }
  return Object.freeze({
    type,
    schema,
    schemaVersion,
    is: (event: DomainEvent): event is DomainEvent<TType, z.output<TSchema>> => event.type === type,
  });
}
