import { InvalidArgumentError } from '../errors.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProjectionRunnerOptions } from '../projections/projection-runner-options.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import type { IEventStore } from '../store/event-store.js';

/**
 * The runner options a config may set for the runners the `annals` CLI creates (rebuilds, dead
 * letter retries, `annals run`): everything but the stores and projections.
 */
export type AnnalsRunnerOptions = Omit<
  ProjectionRunnerOptions<unknown>,
  'eventStore' | 'projectionStore' | 'projections'
>;

/**
 * What the `annals` command line works with: the stores and the projections of your
 * application. Export it as the default export of `annals.config.{ts,js,mjs}`, directly or as a
 * (possibly async) function that returns it; see {@link defineConfig}.
 */
export interface AnnalsConfig {
  /** The event store whose global log the projections follow. */
  readonly eventStore: IEventStore;
  /** Where checkpoints, dead letters and leases live (such as `PostgresProjectionStore`). */
  readonly projectionStore: ProjectionStore<any>;
  /** The projections the CLI knows, by name. */
  readonly projections: readonly Projection<any>[];
  /**
   * Options of the runners the CLI creates (`batchSize`, `retryDelayMs`, `leaseRetryMs`, ...).
   * @defaultValue the runner's defaults
   */
  readonly runner?: AnnalsRunnerOptions;
  /**
   * The relays whose checkpoint and lag `annals status` shows, such as
   * `[{ exchange: 'domain_events' }]`. Their checkpoints must live in `projectionStore`.
   * @defaultValue none
   */
  readonly relays?: readonly AnnalsRelayConfig[];
  /**
   * What `annals migrate` runs. May return what it did (the PostgreSQL `migrate()` result) for
   * the CLI to print.
   * @defaultValue `migrate()` of the event store and of the projection store, where they have one
   */
  readonly migrate?: () => Promise<unknown>;
  /**
   * Called once the CLI is done, to close connections.
   * @defaultValue `eventStore.close()`
   */
  readonly close?: () => Promise<void>;
}

/**
 * A relay (`EventRelay` of `annals/amqp`) whose lag `annals status` shows: its checkpoint lives
 * in the config's projection store under `relay:<exchange>`.
 */
export interface AnnalsRelayConfig {
  /**
   * The exchange the relay publishes to.
   * @defaultValue `'domain_events'`
   */
  readonly exchange?: string;
}

/** The exchange of a relay entry that names none (`EventRelay`'s default). */
export const DEFAULT_RELAY_EXCHANGE = 'domain_events';

/** A config as a module may export it: the config, or a function (sync or async) that makes it. */
export type AnnalsConfigExport = AnnalsConfig | (() => AnnalsConfig | Promise<AnnalsConfig>);

/**
 * Types a config module's default export; returns its argument unchanged. Pass a function to
 * connect only when the CLI runs a command (and to report an unreachable database cleanly).
 *
 * @example
 * ```js
 * // annals.config.mjs
 * import pg from 'pg';
 * import { defineConfig } from 'annals';
 * import { PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
 * import { orderReadModel, orderRegistry } from './dist/orders.js';
 *
 * export default defineConfig(() => {
 *   const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
 *   return {
 *     eventStore: new PostgresEventStore({ pool, registry: orderRegistry() }),
 *     projectionStore: new PostgresProjectionStore({ pool }),
 *     projections: [orderReadModel],
 *     close: () => pool.end(),
 *   };
 * });
 * ```
 */
export function defineConfig<const TConfig extends AnnalsConfigExport>(config: TConfig): TConfig {
  return config;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
const hasMethods = (value: unknown, ...names: string[]) =>
  isObject(value) && names.every((name) => typeof value[name] === 'function');
const isFunction = (value: unknown) => typeof value === 'function';

/** One field of a config: whether it may be left out, and the check of its value. */
interface FieldCheck {
  readonly optional: boolean;
  readonly isValid: (value: unknown) => boolean;
  readonly message: string;
}

/** The config's fields in the order they are checked; the first problem is reported. */
const configFields: ReadonlyArray<readonly [keyof AnnalsConfig, FieldCheck]> = [
  [
    'eventStore',
    {
      optional: false,
      isValid: (value) => hasMethods(value, 'readAll', 'head', 'countAfter', 'load'),
      message: 'must be an event store (an IEventStore such as PostgresEventStore)',
    },
  ],
  [
    'projectionStore',
    {
      optional: false,
      isValid: (value) => hasMethods(value, 'transaction', 'loadCheckpoint', 'tryAcquireLease'),
      message: 'must be a projection store (such as PostgresProjectionStore)',
    },
  ],
  ['projections', { optional: false, isValid: Array.isArray, message: 'must be an array of projections' }],
  ['runner', { optional: true, isValid: isObject, message: 'must be an object' }],
  ['relays', { optional: true, isValid: Array.isArray, message: 'must be an array of { exchange }' }],
  ['migrate', { optional: true, isValid: isFunction, message: 'must be a function' }],
  ['close', { optional: true, isValid: isFunction, message: 'must be a function' }],
];

const isProjection = (value: unknown) =>
  isObject(value) && typeof value.name === 'string' && hasMethods(value, 'handlerFor');

/**
 * Resolves a config module's default export (calling it when it is a function) and checks its
 * shape. Throws {@link InvalidArgumentError} naming the first problem, such as
 * `config.projections[1] must be a projection made by defineProjection` or a projection name
 * listed twice.
 */
export async function resolveAnnalsConfig(exported: unknown): Promise<AnnalsConfig> {
  const value = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (!isObject(value)) {
    throw new InvalidArgumentError(
      'the config must be an object { eventStore, projectionStore, projections } or a function returning one',
    );
  }
  for (const [name, check] of configFields) {
    const field = value[name];
    if (field === undefined) {
      if (check.optional) continue;
      throw new InvalidArgumentError(`config.${name} is missing`);
    }
    if (!check.isValid(field)) throw new InvalidArgumentError(`config.${name} ${check.message}`);
  }
  const projections = value.projections as readonly unknown[];
  if (projections.length === 0) {
    throw new InvalidArgumentError('config.projections must list at least one projection');
  }
  const bad = projections.findIndex((projection) => !isProjection(projection));
  if (bad !== -1) {
    throw new InvalidArgumentError(
      `config.projections[${bad}] must be a projection made by defineProjection`,
    );
  }
  const firstIndex = new Map<string, number>();
  for (const [index, projection] of (projections as readonly { name: string }[]).entries()) {
    const first = firstIndex.get(projection.name);
    if (first !== undefined) {
      throw new InvalidArgumentError(
        `config.projections lists the projection "${projection.name}" twice (at [${first}] and [${index}]); give each projection its own name`,
      );
    }
    firstIndex.set(projection.name, index);
  }
  const relays = (value.relays ?? []) as readonly unknown[];
  const seenRelays = new Set<string>();
  for (const [index, relay] of relays.entries()) {
    const exchange = isObject(relay) ? (relay.exchange ?? DEFAULT_RELAY_EXCHANGE) : undefined;
    if (typeof exchange !== 'string' || exchange === '' || exchange.length > 94) {
      throw new InvalidArgumentError(
        `config.relays[${index}] must be { exchange?: string } with a non-empty exchange name of at most 94 characters; got ${JSON.stringify(relay)}`,
      );
    }
    if (seenRelays.has(exchange)) {
      throw new InvalidArgumentError(`config.relays lists the exchange "${exchange}" twice`);
    }
    seenRelays.add(exchange);
  }
  // The checked fields, and the objects themselves (not copies: stores keep their identity).
  return value as unknown as AnnalsConfig;
}
