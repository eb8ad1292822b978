import { InvalidArgumentError } from '../errors.js';
import type { DomainEvent, StoredEvent } from './event-envelope.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export type { StandardSchemaV1 } from './standard-schema.js';

/**
 * The definition of one event type: its name, its payload's schema and the schema's version.
 * Create it with {@link defineEvent}.
 *
 * @typeParam TType - the event type's literal name.
 * @typeParam TSchema - the payload's schema: any {@link StandardSchemaV1} (zod, valibot, ArkType, ...).
 *
 * @example
 * ```ts
 * import { defineEvent, type StoredEvent } from 'annals';
 * import { z } from 'zod';
 *
 * const OrderShipped = defineEvent({ type: 'OrderShipped', schema: z.object({ carrier: z.string() }) });
 *
 * // `is` narrows any event to this type, with a typed payload.
 * function carrierOf(event: StoredEvent): string | undefined {
 *   return OrderShipped.is(event) ? event.payload.carrier : undefined;
 * }
 * ```
 *
 * @category Events
 */
export interface EventDefinition<
  TType extends string = string,
  TSchema extends StandardSchemaV1 = StandardSchemaV1,
> {
  /** The event type, such as `OrderCreated`. */
  readonly type: TType;
  /**
   * The payload's schema. Payloads are validated with it (synchronously) when an aggregate raises
   * them, when a store appends them and when a store reads them.
   */
  readonly schema: TSchema;
  /** The current schema version (1-based). New events are written at this version. */
  readonly schemaVersion: number;
  /** Narrows an event to this definition's type. */
  is(event: DomainEvent): event is DomainEvent<TType, StandardSchemaV1.InferOutput<TSchema>>;
}

/**
 * Any event definition.
 *
 * @category Events
 */
export type AnyEventDefinition = EventDefinition<string, StandardSchemaV1>;

/**
 * The payload type of an event definition: its schema's output type.
 *
 * @category Events
 */
export type PayloadOf<TDefinition extends AnyEventDefinition> = StandardSchemaV1.InferOutput<
  TDefinition['schema']
>;

/**
 * The payload type a definition accepts before validation: its schema's input type (which may
 * leave out fields that have defaults).
 *
 * @category Events
 */
export type PayloadInputOf<TDefinition extends AnyEventDefinition> = StandardSchemaV1.InferInput<
  TDefinition['schema']
>;

/**
 * The {@link DomainEvent} type of one definition or of a union of definitions.
 *
 * @example
 * ```ts
 * type OrderEvent = EventOf<typeof OrderCreated | typeof OrderItemAdded>;
 * ```
 *
 * @category Events
 */
export type EventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ? DomainEvent<TDefinition['type'], PayloadOf<TDefinition>>
  : never;

/**
 * The {@link StoredEvent} type of one definition or of a union of definitions.
 *
 * @category Events
 */
export type StoredEventOf<TDefinition extends AnyEventDefinition> = TDefinition extends AnyEventDefinition
  ? StoredEvent<TDefinition['type'], PayloadOf<TDefinition>>
  : never;

/**
 * Options of {@link defineEvent}.
 *
 * @category Events
 */
export interface DefineEventOptions<TType extends string, TSchema extends StandardSchemaV1> {
  /** The event type: a non-empty name, unique within a registry. */
  readonly type: TType;
  /**
   * The payload's schema: a zod schema (zod 4, or zod 3.24 and later) or any other
   * {@link StandardSchemaV1} such as a valibot or ArkType schema. It must describe JSON values
   * (use strings for dates) and must validate synchronously: a schema whose validation returns a
   * Promise (an async refinement or transform) is refused with {@link InvalidArgumentError} when
   * a payload is validated.
   */
  readonly schema: TSchema;
  /**
   * The current schema version. Raise it when the payload's shape changes and register an
   * upcaster from the previous version.
   * @defaultValue 1
   */
  readonly schemaVersion?: number;
}

/**
 * Defines an event type with a schema for its payload. The payload's TypeScript type is
 * inferred from the schema (its output type). zod is the documented default; any
 * {@link StandardSchemaV1} validator works (zod 3.24+, zod 4, valibot 1, ArkType, ...).
 * Validation is synchronous only: async schemas are not supported.
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
 *
 * @example With valibot
 * ```ts
 * import * as v from 'valibot';
 * import { defineEvent } from 'annals';
 *
 * export const OrderShipped = defineEvent({
 *   type: 'OrderShipped',
 *   schema: v.object({ carrier: v.string(), trackingNumber: v.string() }),
 * });
 * ```
 *
 * @category Events
 */
export function defineEvent<const TType extends string, TSchema extends StandardSchemaV1>(
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
  const standard = (schema as Partial<StandardSchemaV1> | undefined)?.['~standard'];
  if (typeof standard?.validate !== 'function') {
    throw new InvalidArgumentError(
      `defineEvent("${type}"): \`schema\` must be a Standard Schema (a zod 3.24+ or 4, valibot 1 or ArkType schema)`,
    );
  }
  if (standard.version !== 1) {
    throw new InvalidArgumentError(
      `defineEvent("${type}"): \`schema\` implements Standard Schema version ${String(standard.version)}; annals supports version 1`,
    );
  }
  return Object.freeze({
    type,
    schema,
    schemaVersion,
    is: (event: DomainEvent): event is DomainEvent<TType, StandardSchemaV1.InferOutput<TSchema>> =>
      event.type === type,
  });
}
