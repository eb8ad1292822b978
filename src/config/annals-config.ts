import type { EventRegistry } from '../events/event-registry.js';
import type { AnnalsLogger } from '../observability/logger.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProjectionRunnerOptions } from '../projections/projection-runner-options.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import type { IEventStore } from '../store/event-store.js';

/**
 * The runner options a config may set for the runners the `annals` CLI creates (rebuilds, dead
 * letter retries, `annals run`): everything but the stores and projections.
 *
 * @category Configuration
 */
export type AnnalsRunnerOptions = Omit<
  ProjectionRunnerOptions<unknown>,
  'eventStore' | 'projectionStore' | 'projections'
>;

/**
 * Where the event store lives, as plain values: a PostgreSQL database (the `annals/postgres`
 * adapter opens it). The field names are `createPostgres`'s own, so
 * `createPostgres({ ...settings.eventStore, registry })` reads them.
 *
 * @category Configuration
 */
export interface EventStoreSettings {
  /** The events database: `postgres://user:password@host:5432/database`. */
  readonly connectionString: string;
  /**
   * The schema that holds annals' tables (lower-case letters, digits and `_`; at most 63 characters).
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
  /**
   * The most connections the pool opens.
   * @defaultValue 10
   */
  readonly maxConnections?: number;
}

/**
 * The RabbitMQ broker, as plain values: the field names are those of `EventRelay` and
 * `ProjectionConsumer` (`annals/amqp`), which read them as they are.
 *
 * @category Configuration
 */
export interface MessageBrokerSettings {
  /** The broker: `amqp://user:password@host:5672/vhost` (or `amqps://`). */
  readonly url: string;
  /**
   * The topic exchange the relay publishes every event to.
   * @defaultValue `'domain_events'`
   */
  readonly exchange?: string;
  /**
   * The prefix of each projection's queue: `<queuePrefix><projection name>`.
   * @defaultValue `'projection_'`
   */
  readonly queuePrefix?: string;
  /**
   * Unacknowledged messages per consumer (1 to 65535).
   * @defaultValue 10
   */
  readonly prefetch?: number;
  /**
   * The queue that holds the messages a consumer gave up on.
   * @defaultValue `'dlq_failed_events'`
   */
  readonly deadLetterQueue?: string;
}

/**
 * How projections are fed: by following the global log, or from RabbitMQ queues.
 *
 * @category Configuration
 */
export type ProjectionTransport = 'log' | 'broker';

/**
 * The projections and how they run, as plain values (besides the definitions themselves).
 *
 * @category Configuration
 */
export interface ProjectionsSettings {
  /** The projections, made by `defineProjection`; each name once. */
  readonly definitions: readonly Projection<any>[];
  /**
   * `'log'`: a `ProjectionRunner` follows the store's global log. `'broker'`: an `EventRelay`
   * publishes the log to `messageBroker.exchange` and a `ProjectionConsumer` per projection
   * consumes its queue (needs `messageBroker`).
   * @defaultValue `'log'`
   */
  readonly transport?: ProjectionTransport;
  /**
   * The read model's database (`postgres://…`), when it is not the events database. Checkpoints,
   * dead letters and processed-event records then live beside the read model, so a read-model
   * update and its record commit together.
   * @defaultValue the events database (`eventStore.connectionString`)
   */
  readonly targetDb?: string | undefined;
  /**
   * Events per batch of the log runner, and per page of the relay.
   * @defaultValue 50
   */
  readonly batchSize?: number;
  /**
   * Delay before a failed event is tried again, in milliseconds.
   * @defaultValue 1000
   */
  readonly retryDelayMs?: number;
  /**
   * Retries after the first failure before the event is dead-lettered.
   * @defaultValue 5
   */
  readonly maxRetryAttempts?: number;
}

/**
 * Idempotency, as plain values.
 *
 * @category Configuration
 */
export interface IdempotencySettings {
  /**
   * How long a command's record is kept for de-duplication, in hours.
   * @defaultValue 72
   */
  readonly commandTtlHours?: number;
}

/**
 * The configuration of a service's annals, read by the `annals` command line and by your code
 * ({@link resolveAnnalsConfig}). It has the seed's sections: `eventStore`, `messageBroker`,
 * `projections`, `idempotency`. Plain values (URLs, names, numbers) are enough; live objects stay
 * possible for those who compose the stores by hand (`eventStore` as an `IEventStore` together
 * with `projectionStore`, and `projections` as an array).
 *
 * Export it as the default export of `annals.config.{ts,mts,cts,js,mjs,cjs}`, directly or as a (possibly
 * async) function that returns it; see {@link defineConfig}.
 *
 * @category Configuration
 */
export interface AnnalsConfig {
  /**
   * The event store: where PostgreSQL is ({@link EventStoreSettings}, needs `registry`), or a
   * live store (an `IEventStore` such as `PostgresEventStore`, needs `projectionStore`).
   */
  readonly eventStore: IEventStore | EventStoreSettings;
  /**
   * The event definitions and upcasters. Needed when `eventStore` is given as settings.
   * @defaultValue none
   */
  readonly registry?: EventRegistry;
  /**
   * The projections: {@link ProjectionsSettings}, or just the array of definitions (the log
   * transport, with `runner`'s options). A service without projections leaves it out (or gives
   * an empty list): `annals migrate` works without; `status`, `rebuild`, `run` and `dead-letters`
   * say they need projections.
   * @defaultValue none
   */
  readonly projections?: readonly Projection<any>[] | ProjectionsSettings;
  /**
   * With a live `eventStore`: where checkpoints, dead letters and leases live (such as
   * `PostgresProjectionStore`). Not used with settings (see `projections.targetDb`).
   * @defaultValue none
   */
  readonly projectionStore?: ProjectionStore<any>;
  /**
   * The RabbitMQ broker; needed by `projections.transport: 'broker'`, and the default of
   * `annals dead-letters --broker`.
   * @defaultValue none
   */
  readonly messageBroker?: MessageBrokerSettings;
  /**
   * Command de-duplication.
   * @defaultValue `{ commandTtlHours: 72 }`
   */
  readonly idempotency?: IdempotencySettings;
  /**
   * Where the stores, runners, relay and consumers the CLI creates log (a pino logger, or
   * `consoleLogger()`...).
   * @defaultValue the default logger (`setDefaultLogger`; warnings and errors to the console)
   */
  readonly logger?: AnnalsLogger;
  /**
   * Further options of the runners the CLI creates (`pollIntervalMs`, `leaseRetryMs`, `onError`,
   * ...); `projections`' settings win over the same options here.
   * @defaultValue the runner's defaults
   */
  readonly runner?: AnnalsRunnerOptions;
  /**
   * The relays whose checkpoint and lag `annals status` shows, such as
   * `[{ exchange: 'domain_events' }]`. Their checkpoints live in the events database's projection
   * store. With `projections.transport: 'broker'` the relay of `messageBroker.exchange` is listed
   * without being named here.
   * @defaultValue none
   */
  readonly relays?: readonly AnnalsRelayConfig[];
  /**
   * What `annals migrate` runs. May return what it did (the PostgreSQL `migrate()` result) for
   * the CLI to print.
   * @defaultValue the migrations of the events database and of `targetDb` (with settings), or
   * `migrate()` of each live store that has one
   */
  readonly migrate?: () => Promise<unknown>;
  /**
   * Called once the CLI is done, to close connections of live stores.
   * @defaultValue `eventStore.close()` (with settings, the CLI closes what it opened)
   */
  readonly close?: () => Promise<void>;
}

/**
 * A relay (`EventRelay` of `annals/amqp`) whose lag `annals status` shows: its checkpoint lives
 * under `relay:<exchange>`.
 *
 * @category Configuration
 */
export interface AnnalsRelayConfig {
  /**
   * The exchange the relay publishes to.
   * @defaultValue `'domain_events'`
   */
  readonly exchange?: string;
}

/**
 * A config as a module may export it: the config, or a function (sync or async) that makes it.
 *
 * @category Configuration
 */
export type AnnalsConfigExport = AnnalsConfig | (() => AnnalsConfig | Promise<AnnalsConfig>);

/**
 * Types a config module's default export; returns its argument unchanged. Plain values are
 * enough: the CLI opens the databases and the broker they name. Pass a function to read the
 * environment only when a command runs.
 *
 * @example
 * ```ts
 * // annals.config.ts
 * import { defineConfig } from 'annals';
 * import { orderReadModel, orderRegistry } from './src/orders.js';
 *
 * export default defineConfig(() => ({
 *   registry: orderRegistry(),
 *   eventStore: { connectionString: process.env.DATABASE_URL! },
 *   messageBroker: { url: process.env.RABBITMQ_URL!, prefetch: 10 },
 *   projections: {
 *     definitions: [orderReadModel],
 *     transport: 'broker',
 *     targetDb: process.env.READ_MODEL_DATABASE_URL,
 *   },
 *   idempotency: { commandTtlHours: 72 },
 * }));
 * ```
 *
 * @category Configuration
 */
export function defineConfig<const TConfig extends AnnalsConfigExport>(config: TConfig): TConfig {
  return config;
}
