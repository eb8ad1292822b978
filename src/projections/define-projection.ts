import { InvalidArgumentError } from '../errors.js';
import type { AnyEventDefinition, StoredEventOf } from '../events/define-event.js';
import type { StoredEvent } from '../events/event-envelope.js';

/**
 * What a projection does when an event's handler still fails after every retry.
 *
 * @category Projections
 */
export type ProjectionFailurePolicy = 'dead-letter' | 'stop';

/**
 * Facts about one handler call, besides the event and the context.
 *
 * @category Projections
 */
export interface ProjectionHandlerInfo {
  /** The projection's name. */
  readonly projection: string;
  /** 1 on the first call for this event, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** True while the projection is being rebuilt from the start of the log. */
  readonly rebuilding: boolean;
}

/**
 * Applies one event to a read model.
 *
 * @typeParam TEvent - the stored event the handler receives (typed per event type).
 * @typeParam TContext - what the projection store hands to handlers: the read model in memory,
 *   or a client bound to the current transaction in PostgreSQL.
 *
 * @category Projections
 */
export type ProjectionHandler<TEvent extends StoredEvent, TContext> = (
  event: TEvent,
  context: TContext,
  info: ProjectionHandlerInfo,
) => void | Promise<void>;

/**
 * The handlers of a projection, keyed by event type; each receives its event with a typed payload.
 * A type without a handler is skipped (the checkpoint still moves past it).
 *
 * @category Projections
 */
export type ProjectionHandlers<TDefinition extends AnyEventDefinition, TContext> = {
  readonly [K in TDefinition['type']]?: ProjectionHandler<
    StoredEventOf<Extract<TDefinition, { readonly type: K }>>,
    TContext
  >;
};

/**
 * A setup or reset hook: runs in a unit of work of the projection store, with its context.
 *
 * @category Projections
 */
export type ProjectionHook<TContext> = (context: TContext) => void | Promise<void>;

/**
 * Options of {@link defineProjection}.
 *
 * @category Projections
 */
export interface DefineProjectionOptions<TDefinition extends AnyEventDefinition, TContext> {
  /**
   * The projection's unique name, also the key of its checkpoint, lease and dead letters.
   * 1 to 100 characters out of `a-z A-Z 0-9 _ . : -`.
   */
  readonly name: string;
  /** The event definitions the handlers receive; they type the handlers' payloads. */
  readonly events: readonly TDefinition[];
  /** One handler per event type it cares about. */
  readonly handlers: ProjectionHandlers<TDefinition, TContext>;
  /**
   * Creates the read model (tables, indexes). Runs each time a runner takes the projection over
   * and after a rebuild's reset, so it must be idempotent (`CREATE TABLE IF NOT EXISTS`).
   * @defaultValue none
   */
  readonly setup?: ProjectionHook<TContext>;
  /**
   * Removes the read model's data (drop or truncate). A rebuild runs it, in the same unit of
   * work as the checkpoint reset; a projection without it cannot be rebuilt.
   * @defaultValue none
   */
  readonly reset?: ProjectionHook<TContext>;
  /**
   * What happens when an event's handler still fails after all retries: `'dead-letter'` parks the
   * event as a dead letter and moves on, `'stop'` stops the projection before the event.
   * @defaultValue `'dead-letter'`
   */
  readonly onFailure?: ProjectionFailurePolicy;
  /**
   * What happens when an event of a type the projection handles cannot be read (its payload fails
   * the current schema, or its upcaster throws): `'stop'` stops the projection before the event,
   * with the reason in its status, until a deploy teaches the registry to read it; `'dead-letter'`
   * parks the stored event as a dead letter (retry it after that deploy) and moves on. Events of
   * types the projection does not handle are skipped without being read.
   *
   * The default is `'stop'` because an event that cannot be read is usually a deploy out of
   * order (a reader older than the writer, a missing upcaster) that affects every later event of
   * its type: parking them all would quietly empty the read model, while stopping waits for the
   * new code and loses nothing.
   * @defaultValue `'stop'`
   */
  readonly onUndecodable?: ProjectionFailurePolicy;
}

/**
 * A projection: a named set of handlers that turn events into a read model. Create it with
 * {@link defineProjection}; run it with a {@link ProjectionRunner} on the global log, or from
 * a RabbitMQ queue with the `ProjectionConsumer` of `annals/amqp`.
 *
 * @typeParam TContext - what handlers receive from the projection store.
 *
 * @example
 * ```ts
 * import {
 *   defineEvent,
 *   defineProjection,
 *   EventRegistry,
 *   InMemoryEventStore,
 *   InMemoryProjectionStore,
 *   ProjectionRunner,
 * } from 'annals';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'OrderPlaced', schema: z.object({ total: z.number() }) });
 * interface Totals {
 *   byOrder: Map<string, number>;
 * }
 * const orderTotals = defineProjection<Totals>()({
 *   name: 'order-totals',
 *   events: [OrderPlaced],
 *   handlers: {
 *     OrderPlaced: (event, totals) => {
 *       totals.byOrder.set(event.aggregateId, event.payload.total);
 *     },
 *   },
 * });
 *
 * const eventStore = new InMemoryEventStore({ registry: new EventRegistry([OrderPlaced]) });
 * const projectionStore = new InMemoryProjectionStore<Totals>({ initialState: { byOrder: new Map() } });
 * const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderTotals] });
 * await runner.catchUp(); // every event appended so far is in projectionStore.state
 * ```
 *
 * @category Projections
 */
export interface Projection<TContext> {
  /** The unique name: key of the checkpoint, the lease and the dead letters. */
  readonly name: string;
  /** The event types that have a handler. */
  readonly eventTypes: readonly string[];
  /** See {@link DefineProjectionOptions.onFailure}. */
  readonly onFailure: ProjectionFailurePolicy;
  /** See {@link DefineProjectionOptions.onUndecodable}. */
  readonly onUndecodable: ProjectionFailurePolicy;
  /** See {@link DefineProjectionOptions.setup}. */
  readonly setup: ProjectionHook<TContext> | undefined;
  /** See {@link DefineProjectionOptions.reset}. */
  readonly reset: ProjectionHook<TContext> | undefined;
  /** The handler of an event type, or `undefined` when the projection skips that type. */
  handlerFor(type: string): ProjectionHandler<StoredEvent, TContext> | undefined;
}

const NAME_PATTERN = /^[a-zA-Z0-9_.:-]{1,100}$/;

/**
 * Throws {@link InvalidArgumentError} unless `name` is a valid projection name: 1 to 100
 * characters out of `a-z A-Z 0-9 _ . : -`. Stores may use it in SQL, as a value or in identifiers.
 */
export function assertProjectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `projection name must be 1 to 100 characters out of a-z A-Z 0-9 _ . : -; got ${JSON.stringify(name)}`,
    );
  }
}

/**
 * Throws {@link InvalidArgumentError} unless `fence` is a lease fence (a bigint) or absent;
 * `operation` names the call in the message (`saveCheckpoint`, `resetCheckpoint`).
 */
export function assertFence(fence: unknown, operation: string): asserts fence is bigint | undefined {
  if (fence !== undefined && typeof fence !== 'bigint') {
    throw new InvalidArgumentError(`${operation}: fence must be a bigint`);
  }
}

/**
 * Defines a projection. Call it with the type of the projection store's context first, then with
 * the options; payload types of the handlers are inferred from `events`.
 *
 * @example
 * ```ts
 * interface Orders { byId: Map<string, { status: string }> }
 * const orderStatus = defineProjection<Orders>()({
 *   name: 'order-status',
 *   events: [OrderCreated, OrderShipped],
 *   handlers: {
 *     OrderCreated: (event, orders) => { orders.byId.set(event.aggregateId, { status: 'open' }); },
 *     OrderShipped: (event, orders) => { orders.byId.get(event.aggregateId)!.status = 'shipped'; },
 *   },
 *   reset: (orders) => { orders.byId.clear(); },
 * });
 * ```
 *
 * @category Projections
 */
export function defineProjection<TContext>(): <const TDefinition extends AnyEventDefinition>(
  options: DefineProjectionOptions<TDefinition, TContext>,
) => Projection<TContext> {
  return (options) => createProjection(options as DefineProjectionOptions<AnyEventDefinition, TContext>);
}

function createProjection<TContext>(
  options: DefineProjectionOptions<AnyEventDefinition, TContext>,
): Projection<TContext> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('defineProjection needs an options object');
  }
  const { name, events, handlers, setup, reset } = options;
  assertProjectionName(name);
  const where = `defineProjection("${name}")`;
  if (!Array.isArray(events)) throw new InvalidArgumentError(`${where}: \`events\` must be an array`);
  const known = new Set(events.map((definition) => definition?.type));
  if (typeof handlers !== 'object' || handlers === null) {
    throw new InvalidArgumentError(`${where}: \`handlers\` must be an object`);
  }
  const byType = new Map<string, ProjectionHandler<StoredEvent, TContext>>();
  for (const [type, handler] of Object.entries(handlers)) {
    if (handler === undefined) continue;
    if (!known.has(type)) {
      throw new InvalidArgumentError(`${where}: handler "${type}" is not one of the projection's events`);
    }
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(`${where}: handler "${type}" must be a function`);
    }
    byType.set(type, handler as ProjectionHandler<StoredEvent, TContext>);
  }
  for (const [hook, value] of [
    ['setup', setup],
    ['reset', reset],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new InvalidArgumentError(`${where}: \`${hook}\` must be a function`);
    }
  }
  const onFailure = options.onFailure ?? 'dead-letter';
  if (onFailure !== 'dead-letter' && onFailure !== 'stop') {
    throw new InvalidArgumentError(`${where}: onFailure must be "dead-letter" or "stop"`);
  }
  const onUndecodable = options.onUndecodable ?? 'stop';
  if (onUndecodable !== 'dead-letter' && onUndecodable !== 'stop') {
    throw new InvalidArgumentError(`${where}: onUndecodable must be "dead-letter" or "stop"`);
  }
  return Object.freeze({
    name,
    eventTypes: Object.freeze([...byType.keys()]),
    onFailure,
    onUndecodable,
    setup,
    reset,
    handlerFor: (type: string) => byType.get(type),
  });
}

/**
 * Applies one event to a projection: calls the handler of the event's type with `context`.
 * Returns `false` when the projection has no handler for the type. The runner uses it for the
 * global log; other sources (a message consumer) call it the same way, inside their own unit of
 * work. Errors of the handler propagate unchanged.
 */
export async function applyProjectionEvent<TContext>(
  projection: Projection<TContext>,
  event: StoredEvent,
  context: TContext,
  info: Partial<ProjectionHandlerInfo> = {},
): Promise<boolean> {
  const handler = projection.handlerFor(event.type);
  if (!handler) return false;
  await handler(event, context, {
    projection: projection.name,
    attempt: info.attempt ?? 1,
    rebuilding: info.rebuilding ?? false,
  });
  return true;
}
