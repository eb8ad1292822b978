import { InvalidArgumentError } from '../errors.js';
import type { EventRegistry } from '../events/event-registry.js';
import { type AnnalsLogger, getDefaultLogger } from '../observability/logger.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import type { IEventStore } from '../store/event-store.js';
import type { AnnalsRunnerOptions, ProjectionTransport } from './annals-config.js';
import { redactUrl } from './redact-url.js';

/**
 * The defaults of the configuration's plain values (the seed's).
 *
 * @category Configuration
 */
export const ConfigDefaults = {
  /** `eventStore.schema`. */
  schema: 'annals',
  /** `eventStore.maxConnections`. */
  maxConnections: 10,
  /** `messageBroker.exchange`, and a `relays` entry's exchange. */
  exchange: 'domain_events',
  /** `messageBroker.queuePrefix`. */
  queuePrefix: 'projection_',
  /** `messageBroker.prefetch`. */
  prefetch: 10,
  /** `messageBroker.deadLetterQueue`. */
  deadLetterQueue: 'dlq_failed_events',
  /** `projections.transport`. */
  transport: 'log',
  /** `projections.batchSize`. */
  batchSize: 50,
  /** `projections.retryDelayMs`. */
  retryDelayMs: 1000,
  /** `projections.maxRetryAttempts`. */
  maxRetryAttempts: 5,
  /** `idempotency.commandTtlHours`. */
  commandTtlHours: 72,
} as const;

/**
 * {@link EventStoreSettings} with every default filled in.
 *
 * @category Configuration
 */
export interface ResolvedEventStoreSettings {
  /** The events database; see {@link EventStoreSettings.connectionString}. */
  readonly connectionString: string;
  /** The schema of annals' tables; default `'annals'`. */
  readonly schema: string;
  /** The most connections the pool opens; default 10. */
  readonly maxConnections: number;
}

/**
 * {@link MessageBrokerSettings} with every default filled in.
 *
 * @category Configuration
 */
export interface ResolvedMessageBrokerSettings {
  /** The broker's URL; see {@link MessageBrokerSettings.url}. */
  readonly url: string;
  /** The topic exchange the relay publishes to; default `'domain_events'`. */
  readonly exchange: string;
  /** The prefix of each projection's queue; default `'projection_'`. */
  readonly queuePrefix: string;
  /** Unacknowledged messages per consumer; default 10. */
  readonly prefetch: number;
  /** The queue of the messages a consumer gave up on; default `'dlq_failed_events'`. */
  readonly deadLetterQueue: string;
}

/**
 * A config checked and with its defaults filled in, as {@link resolveAnnalsConfig} returns it.
 * Either `eventStore` is settings (then `registry` is set) or it is a live store (then
 * `projectionStore` is set).
 *
 * @category Configuration
 */
export interface ResolvedAnnalsConfig {
  /** The event store: settings with defaults, or the live store of the config. */
  readonly eventStore: ResolvedEventStoreSettings | IEventStore;
  /** The registry, when the config has one. */
  readonly registry: EventRegistry | undefined;
  /** The live projection store, when the config composes by hand. */
  readonly projectionStore: ProjectionStore<any> | undefined;
  /** The projection definitions; empty when the config has none. */
  readonly projections: readonly Projection<any>[];
  /** How the projections are fed. */
  readonly transport: ProjectionTransport;
  /** The read model's database, when it is not the events database. */
  readonly targetDb: string | undefined;
  /** The broker, with defaults, when the config has one. */
  readonly messageBroker: ResolvedMessageBrokerSettings | undefined;
  /** Command de-duplication. */
  readonly idempotency: {
    /** How long a command's record is kept, in hours; default 72. */
    readonly commandTtlHours: number;
  };
  /** The config's logger, or the default logger. */
  readonly logger: AnnalsLogger;
  /**
   * The runner options: `runner`'s, with `projections`' `batchSize`, `retryDelayMs` and
   * `maxRetryAttempts` over them.
   */
  readonly runner: AnnalsRunnerOptions;
  /** The relays `annals status` shows (with `transport: 'broker'`, the config's relay first). */
  readonly relays: readonly {
    /** The exchange the relay publishes to. */
    readonly exchange: string;
  }[];
  /** The config's own `migrate`, if any. */
  readonly migrate: (() => Promise<unknown>) | undefined;
  /** The config's own `close`, if any. */
  readonly close: (() => Promise<void>) | undefined;
}

/**
 * Whether a resolved config's event store is given as settings (plain values).
 *
 * @category Configuration
 */
export function isEventStoreSettings(
  eventStore: ResolvedAnnalsConfig['eventStore'],
): eventStore is ResolvedEventStoreSettings {
  return typeof (eventStore as Partial<ResolvedEventStoreSettings>).connectionString === 'string';
}

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const hasMethods = (value: unknown, ...names: string[]) =>
  isObject(value) && names.every((name) => typeof value[name] === 'function');
const shown = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (isObject(value)) return 'an object';
  return String(value);
};

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const BROKER_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Collects the problems of a config, one line each, naming the field. */
class Problems {
  readonly lines: string[] = [];

  add(path: string, message: string, ...got: [unknown?]): void {
    this.lines.push(`config.${path} ${message}${got.length > 0 ? `; got ${shown(got[0])}` : ''}`);
  }

  /** Records a problem and returns `fallback`, for expressions. */
  missing<T>(path: string, message: string, fallback: T): T {
    this.add(path, message);
    return fallback;
  }

  /** Checks an optional whole number in `[min, max]`; returns it or the default. */
  integer(fields: Fields, section: string, name: string, min: number, max: number, fallback: number): number {
    const value = fields[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.add(`${section}.${name}`, `must be a whole number from ${min} to ${max}`, value);
      return fallback;
    }
    return value;
  }

  /** Checks a URL of one of `protocols` (with a host); returns it. */
  url(path: string, value: unknown, protocols: readonly string[], example: string): string {
    let parsed: URL | undefined;
    if (typeof value === 'string') {
      try {
        parsed = new URL(value);
      } catch {
        parsed = undefined;
      }
    }
    if (!parsed || !protocols.includes(parsed.protocol) || parsed.hostname === '') {
      this.add(
        path,
        `must be a URL such as ${example}`,
        typeof value === 'string' ? redactUrl(value) : value,
      );
    }
    return value as string;
  }

  brokerName(path: string, value: unknown, fallback: string): string {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !BROKER_NAME_PATTERN.test(value) || value.startsWith('amq.')) {
      this.add(
        path,
        'must be 1 to 200 characters out of A-Z a-z 0-9 _ . : - and not start with "amq."',
        value,
      );
      return fallback;
    }
    return value;
  }

  /** Throws one {@link InvalidArgumentError} listing every problem (on one line), if there is any. */
  throwIfAny(): void {
    if (this.lines.length === 1) throw new InvalidArgumentError(this.lines[0]!);
    if (this.lines.length > 1) {
      throw new InvalidArgumentError(
        `the config has ${this.lines.length} problems: ${this.lines.join('; ')}`,
      );
    }
  }
}

/**
 * Resolves a config module's default export (calling it when it is a function), checks every
 * field and fills in the defaults. Throws one {@link InvalidArgumentError} naming each bad field
 * (`config.messageBroker.prefetch must be a whole number from 1 to 65535; got -1`); a password
 * in a URL is never repeated in a message.
 *
 * Your code reads the same config as the CLI: the settings' field names are those of the
 * adapters' options.
 *
 * @example
 * ```ts
 * import { resolveAnnalsConfig } from 'annals';
 * import { createPostgres } from 'annals/postgres';
 * import config from './annals.config.js';
 *
 * const settings = await resolveAnnalsConfig(config);
 * if (!('connectionString' in settings.eventStore)) throw new Error('expected plain settings');
 * const pg = await createPostgres({ ...settings.eventStore, registry: settings.registry! });
 * ```
 *
 * @category Configuration
 */
export async function resolveAnnalsConfig(exported: unknown): Promise<ResolvedAnnalsConfig> {
  const value = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (!isObject(value) || Array.isArray(value)) {
    throw new InvalidArgumentError(
      'the config must be an object { eventStore, projections?, ... } or a function returning one',
    );
  }
  const problems = new Problems();
  const known = new Set([
    'eventStore',
    'registry',
    'projections',
    'projectionStore',
    'messageBroker',
    'idempotency',
    'runner',
    'relays',
    'migrate',
    'close',
    'logger',
  ]);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) problems.add(key, `is not a field of the config (known: ${[...known].join(', ')})`);
  }

  const registry = value.registry;
  if (registry !== undefined && !hasMethods(registry, 'encode', 'decode')) {
    problems.add('registry', 'must be an EventRegistry', registry);
  }

  // eventStore: settings or a live store.
  const eventStoreValue = value.eventStore;
  let eventStore: ResolvedAnnalsConfig['eventStore'] | undefined;
  if (eventStoreValue === undefined) {
    problems.add('eventStore', 'is missing: give { connectionString } or an event store');
  } else if (hasMethods(eventStoreValue, 'readAll', 'head', 'load', 'append')) {
    eventStore = eventStoreValue as unknown as IEventStore;
    if (value.projectionStore === undefined) {
      problems.add(
        'projectionStore',
        'is missing: a live eventStore needs a live projection store beside it',
      );
    }
  } else if (isObject(eventStoreValue) && !Array.isArray(eventStoreValue)) {
    eventStore = eventStoreSettings(problems, eventStoreValue);
    if (registry === undefined) {
      problems.add(
        'registry',
        'is missing: eventStore given as settings needs the EventRegistry to decode with',
      );
    }
    if (value.projectionStore !== undefined) {
      problems.add(
        'projectionStore',
        'is only for a live eventStore; with settings, the projection store is opened in projections.targetDb (or the events database)',
      );
    }
  } else {
    problems.add(
      'eventStore',
      'must be { connectionString, schema?, maxConnections? } or an event store',
      eventStoreValue,
    );
  }

  const projectionStore = value.projectionStore;
  if (
    projectionStore !== undefined &&
    !hasMethods(projectionStore, 'transaction', 'loadCheckpoint', 'tryAcquireLease')
  ) {
    problems.add(
      'projectionStore',
      'must be a projection store (such as PostgresProjectionStore)',
      projectionStore,
    );
  }

  const broker = messageBrokerSettings(problems, value.messageBroker);
  const section = projectionsSection(problems, value.projections, broker !== undefined, eventStore);
  const idempotency = isObject(value.idempotency) ? value.idempotency : {};
  if (value.idempotency !== undefined && (!isObject(value.idempotency) || Array.isArray(value.idempotency))) {
    problems.add('idempotency', 'must be { commandTtlHours? }', value.idempotency);
  }
  const ttl = idempotency.commandTtlHours;
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)) {
    problems.add('idempotency.commandTtlHours', 'must be a positive number of hours', ttl);
  }

  const runner = value.runner;
  if (runner !== undefined && (!isObject(runner) || Array.isArray(runner))) {
    problems.add('runner', 'must be an object of runner options', runner);
  }
  for (const name of ['migrate', 'close'] as const) {
    if (value[name] !== undefined && typeof value[name] !== 'function')
      problems.add(name, 'must be a function', value[name]);
  }
  const logger = value.logger;
  if (logger !== undefined && !hasMethods(logger, 'debug', 'info', 'warn', 'error')) {
    problems.add('logger', "must have debug, info, warn and error methods (pino's shape)", logger);
  }
  const relays = relayEntries(
    problems,
    value.relays,
    section.transport === 'broker' ? broker?.exchange : undefined,
  );

  problems.throwIfAny();
  return {
    eventStore: eventStore!,
    registry: registry as EventRegistry | undefined,
    projectionStore: projectionStore as ProjectionStore<any> | undefined,
    projections: section.definitions,
    transport: section.transport,
    targetDb: section.targetDb,
    messageBroker: broker,
    idempotency: { commandTtlHours: (ttl as number | undefined) ?? ConfigDefaults.commandTtlHours },
    logger: (logger as AnnalsLogger | undefined) ?? getDefaultLogger(),
    runner: {
      logger: (logger as AnnalsLogger | undefined) ?? getDefaultLogger(),
      ...(runner as AnnalsRunnerOptions | undefined),
      ...section.runner,
    },
    relays,
    migrate: value.migrate as (() => Promise<unknown>) | undefined,
    close: value.close as (() => Promise<void>) | undefined,
  };
}

const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:'] as const;
const POSTGRES_EXAMPLE = 'postgres://user:password@host:5432/database';

function eventStoreSettings(problems: Problems, fields: Fields): ResolvedEventStoreSettings {
  for (const key of Object.keys(fields)) {
    if (!['connectionString', 'schema', 'maxConnections'].includes(key)) {
      problems.add(
        `eventStore.${key}`,
        'is not a setting of the event store (connectionString, schema, maxConnections)',
      );
    }
  }
  const connectionString =
    fields.connectionString === undefined
      ? problems.missing(
          'eventStore.connectionString',
          `is missing: the events database, such as ${POSTGRES_EXAMPLE}`,
          '',
        )
      : problems.url(
          'eventStore.connectionString',
          fields.connectionString,
          POSTGRES_PROTOCOLS,
          POSTGRES_EXAMPLE,
        );
  let schema: string = ConfigDefaults.schema;
  if (fields.schema !== undefined) {
    if (typeof fields.schema === 'string' && SCHEMA_PATTERN.test(fields.schema)) schema = fields.schema;
    else {
      problems.add(
        'eventStore.schema',
        'must be 1-63 characters of lower-case letters, digits and underscores, starting with a letter or underscore',
        fields.schema,
      );
    }
  }
  const maxConnections = problems.integer(
    fields,
    'eventStore',
    'maxConnections',
    1,
    10_000,
    ConfigDefaults.maxConnections,
  );
  return { connectionString, schema, maxConnections };
}

function messageBrokerSettings(
  problems: Problems,
  value: unknown,
): ResolvedMessageBrokerSettings | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || Array.isArray(value)) {
    problems.add(
      'messageBroker',
      'must be { url, exchange?, queuePrefix?, prefetch?, deadLetterQueue? }',
      value,
    );
    return undefined;
  }
  const names = ['url', 'exchange', 'queuePrefix', 'prefetch', 'deadLetterQueue'];
  for (const key of Object.keys(value)) {
    if (!names.includes(key))
      problems.add(`messageBroker.${key}`, `is not a setting of the broker (${names.join(', ')})`);
  }
  const example = 'amqp://user:password@host:5672';
  const url =
    value.url === undefined
      ? problems.missing('messageBroker.url', `is missing: the broker, such as ${example}`, '')
      : problems.url('messageBroker.url', value.url, ['amqp:', 'amqps:'], example);
  return {
    url,
    exchange: problems.brokerName('messageBroker.exchange', value.exchange, ConfigDefaults.exchange),
    queuePrefix: problems.brokerName(
      'messageBroker.queuePrefix',
      value.queuePrefix,
      ConfigDefaults.queuePrefix,
    ),
    prefetch: problems.integer(value, 'messageBroker', 'prefetch', 1, 65_535, ConfigDefaults.prefetch),
    deadLetterQueue: problems.brokerName(
      'messageBroker.deadLetterQueue',
      value.deadLetterQueue,
      ConfigDefaults.deadLetterQueue,
    ),
  };
}

interface ProjectionsSection {
  readonly definitions: readonly Projection<any>[];
  readonly transport: ProjectionTransport;
  readonly targetDb: string | undefined;
  readonly runner: Partial<Pick<AnnalsRunnerOptions, 'batchSize' | 'retryDelayMs' | 'maxRetryAttempts'>>;
}

function projectionsSection(
  problems: Problems,
  value: unknown,
  hasBroker: boolean,
  eventStore: ResolvedAnnalsConfig['eventStore'] | undefined,
): ProjectionsSection {
  const empty: ProjectionsSection = { definitions: [], transport: 'log', targetDb: undefined, runner: {} };
  // No projections is a valid config (a service that only writes events): `annals migrate` needs
  // none; the commands that run projections say so themselves.
  if (value === undefined) return empty;
  if (Array.isArray(value)) return { ...empty, definitions: definitions(problems, 'projections', value) };
  if (!isObject(value) || isProjection(value)) {
    const got = isProjection(value) ? 'one projection (put it in an array)' : shown(value);
    problems.add(
      'projections',
      `must be { definitions, transport?, targetDb?, ... } or an array of projections; got ${got}`,
    );
    return empty;
  }
  const names = ['definitions', 'transport', 'targetDb', 'batchSize', 'retryDelayMs', 'maxRetryAttempts'];
  for (const key of Object.keys(value)) {
    if (!names.includes(key))
      problems.add(`projections.${key}`, `is not a setting of projections (${names.join(', ')})`);
  }
  const list = Array.isArray(value.definitions)
    ? definitions(problems, 'projections.definitions', value.definitions)
    : problems.missing(
        'projections.definitions',
        `must be an array of projections; got ${shown(value.definitions)}`,
        [] as readonly Projection<any>[],
      );
  let transport: ProjectionTransport = ConfigDefaults.transport;
  if (value.transport === 'log' || value.transport === 'broker') transport = value.transport;
  else if (value.transport !== undefined)
    problems.add('projections.transport', "must be 'log' or 'broker'", value.transport);
  if (transport === 'broker' && !hasBroker) {
    problems.add('projections.transport', "is 'broker', but the config has no messageBroker { url }");
  }
  let targetDb: string | undefined;
  if (value.targetDb !== undefined) {
    targetDb = problems.url('projections.targetDb', value.targetDb, POSTGRES_PROTOCOLS, POSTGRES_EXAMPLE);
    if (eventStore !== undefined && !isEventStoreSettings(eventStore)) {
      problems.add(
        'projections.targetDb',
        'needs eventStore as settings; with a live eventStore, pass projectionStore',
      );
    }
  }
  const runner: ProjectionsSection['runner'] = {};
  const batchSize = problems.integer(value, 'projections', 'batchSize', 1, 10_000, ConfigDefaults.batchSize);
  const retryDelayMs = problems.integer(
    value,
    'projections',
    'retryDelayMs',
    0,
    86_400_000,
    ConfigDefaults.retryDelayMs,
  );
  const maxRetryAttempts = problems.integer(
    value,
    'projections',
    'maxRetryAttempts',
    0,
    1_000,
    ConfigDefaults.maxRetryAttempts,
  );
  if (value.batchSize !== undefined) Object.assign(runner, { batchSize });
  if (value.retryDelayMs !== undefined) Object.assign(runner, { retryDelayMs });
  if (value.maxRetryAttempts !== undefined) Object.assign(runner, { maxRetryAttempts });
  return { definitions: list, transport, targetDb, runner };
}

const isProjection = (value: unknown) =>
  isObject(value) && typeof value.name === 'string' && hasMethods(value, 'handlerFor');

function definitions(problems: Problems, path: string, list: readonly unknown[]): readonly Projection<any>[] {
  const firstIndex = new Map<string, number>();
  for (const [index, projection] of list.entries()) {
    if (!isProjection(projection)) {
      problems.add(`${path}[${index}]`, 'must be a projection made by defineProjection', projection);
      continue;
    }
    const name = (projection as { name: string }).name;
    const first = firstIndex.get(name);
    if (first !== undefined) {
      problems.add(
        path,
        `lists the projection "${name}" twice (at [${first}] and [${index}]); give each projection its own name`,
      );
    } else firstIndex.set(name, index);
  }
  return list as readonly Projection<any>[];
}

function relayEntries(
  problems: Problems,
  value: unknown,
  brokerExchange: string | undefined,
): readonly { readonly exchange: string }[] {
  const relays: { exchange: string }[] = brokerExchange === undefined ? [] : [{ exchange: brokerExchange }];
  if (value === undefined) return relays;
  if (!Array.isArray(value)) {
    problems.add('relays', 'must be an array of { exchange? }', value);
    return relays;
  }
  for (const [index, relay] of value.entries()) {
    const exchange = isObject(relay) ? (relay.exchange ?? ConfigDefaults.exchange) : undefined;
    if (typeof exchange !== 'string' || !BROKER_NAME_PATTERN.test(exchange)) {
      problems.add(
        `relays[${index}]`,
        'must be { exchange?: string } with an exchange name of 1 to 200 characters out of A-Z a-z 0-9 _ . : -',
        relay,
      );
      continue;
    }
    if (relays.some((entry) => entry.exchange === exchange)) {
      if (exchange !== brokerExchange) problems.add('relays', `lists the exchange "${exchange}" twice`);
      continue;
    }
    relays.push({ exchange });
  }
  return relays;
}
