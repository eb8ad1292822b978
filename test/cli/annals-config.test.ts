import {
  ConfigDefaults,
  defineConfig,
  defineProjection,
  ErrorCode,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProjectionStore,
  isAnnalsError,
  resolveAnnalsConfig,
} from 'annals';
import { describe, expect, it } from 'vitest';

const registry = new EventRegistry([]);
const eventStore = new InMemoryEventStore({ registry });
const projectionStore = new InMemoryProjectionStore({ initialState: {} });
const projection = defineProjection<object>()({ name: 'p', events: [], handlers: {} });
const events = { connectionString: 'postgres://annals:secret@db.example:5432/events' };
const broker = { url: 'amqp://guest:guest@127.0.0.1:5672' };

async function problem(exported: unknown): Promise<string> {
  const error = await resolveAnnalsConfig(exported).catch((caught: unknown) => caught);
  expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
  return (error as Error).message;
}

describe('the configuration with live stores (composed by hand)', () => {
  it('accepts a config object or a function (sync or async) returning one', async () => {
    const config = defineConfig({ eventStore, projectionStore, projections: [projection] });
    const resolved = await resolveAnnalsConfig(config);
    expect(resolved.eventStore).toBe(eventStore);
    expect(resolved.projectionStore).toBe(projectionStore);
    expect(resolved.transport).toBe('log');
    expect((await resolveAnnalsConfig(() => config)).eventStore).toBe(eventStore);
    expect((await resolveAnnalsConfig(defineConfig(async () => config))).projections).toEqual([projection]);
  });

  it('accepts a config without projections (missing or empty), for a service that only writes events', async () => {
    for (const projections of [undefined, [], { definitions: [] }]) {
      const resolved = await resolveAnnalsConfig({ eventStore, projectionStore, projections });
      expect(resolved.projections).toEqual([]);
      expect(resolved.transport).toBe('log');
    }
    const settings = await resolveAnnalsConfig(
      defineConfig({ registry, eventStore: { connectionString: 'postgres://db/events' } }),
    );
    expect(settings.projections).toEqual([]);
    expect(settings.eventStore).toEqual({
      connectionString: 'postgres://db/events',
      schema: 'annals',
      maxConnections: 10,
    });
  });

  it('names the problem of a config of the wrong shape', async () => {
    expect(await problem(42)).toMatch(/must be an object/);
    expect(await problem({ projectionStore, projections: [projection] })).toMatch(
      /^config\.eventStore is missing/,
    );
    expect(await problem({ eventStore, projections: [projection] })).toMatch(
      /^config\.projectionStore is missing: a live eventStore needs a live projection store/,
    );
    expect(await problem({ eventStore: 'x', projectionStore, projections: [projection] })).toMatch(
      /^config\.eventStore must be \{ connectionString, schema\?, maxConnections\? \} or an event store; got "x"/,
    );
    expect(await problem({ eventStore, projectionStore, projections: projection })).toMatch(
      /^config\.projections must be \{ definitions, transport\?, targetDb\?, \.\.\. \} or an array of projections; got one projection \(put it in an array\)$/,
    );
    expect(await problem({ eventStore, projectionStore, projections: [projection, { name: 'x' }] })).toBe(
      'config.projections[1] must be a projection made by defineProjection; got an object',
    );
    expect(await problem({ eventStore, projectionStore, projections: [projection], close: 'no' })).toBe(
      'config.close must be a function; got "no"',
    );
    expect(
      await problem({ eventStore, projectionStore, projections: [projection], logger: console.log }),
    ).toBe("config.logger must have debug, info, warn and error methods (pino's shape); got a function");
    expect(await problem({ eventStore, projectionStore, projections: [projection], evenStore: {} })).toMatch(
      /^config\.evenStore is not a field of the config \(known: eventStore, registry, /,
    );
  });

  it('rejects a projection listed twice, as the runner would', async () => {
    const other = defineProjection<object>()({ name: 'q', events: [], handlers: {} });
    const twin = defineProjection<object>()({ name: 'p', events: [], handlers: {} });
    expect(await problem({ eventStore, projectionStore, projections: [projection, other, twin] })).toBe(
      'config.projections lists the projection "p" twice (at [0] and [2]); give each projection its own name',
    );
  });
});

describe('the configuration in plain values (the seed’s sections)', () => {
  it('fills in the seed’s defaults', async () => {
    const resolved = await resolveAnnalsConfig(
      defineConfig({
        registry,
        eventStore: events,
        messageBroker: broker,
        projections: { definitions: [projection], transport: 'broker' },
      }),
    );
    expect(resolved.eventStore).toEqual({ ...events, schema: 'annals', maxConnections: 10 });
    expect(resolved.messageBroker).toEqual({
      url: broker.url,
      exchange: 'domain_events',
      queuePrefix: 'projection_',
      prefetch: 10,
      deadLetterQueue: 'dlq_failed_events',
    });
    expect(resolved.transport).toBe('broker');
    expect(resolved.targetDb).toBeUndefined();
    expect(resolved.idempotency).toEqual({ commandTtlHours: ConfigDefaults.commandTtlHours });
    expect(resolved.relays).toEqual([{ exchange: 'domain_events' }]);
    expect(resolved.registry).toBe(registry);
    expect(resolved.runner).toEqual({ logger: resolved.logger });
  });

  it('takes every value it is given; projections’ settings win over runner’s', async () => {
    const resolved = await resolveAnnalsConfig({
      registry,
      eventStore: { ...events, schema: 'orders', maxConnections: 4 },
      messageBroker: {
        ...broker,
        exchange: 'orders',
        queuePrefix: 'rm_',
        prefetch: 100,
        deadLetterQueue: 'dlq',
      },
      projections: {
        definitions: [projection],
        targetDb: 'postgresql://read@db.example/read_model',
        batchSize: 200,
        retryDelayMs: 0,
        maxRetryAttempts: 2,
      },
      idempotency: { commandTtlHours: 0.5 },
      runner: { batchSize: 7, pollIntervalMs: 250 },
      relays: [{ exchange: 'orders' }, { exchange: 'audit' }],
    });
    expect(resolved.runner).toEqual({
      logger: resolved.logger,
      batchSize: 200,
      pollIntervalMs: 250,
      retryDelayMs: 0,
      maxRetryAttempts: 2,
    });
    expect(resolved.targetDb).toBe('postgresql://read@db.example/read_model');
    expect(resolved.idempotency.commandTtlHours).toBe(0.5);
    expect(resolved.transport).toBe('log');
    expect(resolved.relays).toEqual([{ exchange: 'orders' }, { exchange: 'audit' }]);
  });

  it('gives one message naming the field of a bad URL or a negative prefetch, and never a password', async () => {
    const base = { registry, eventStore: events, projections: [projection] };
    expect(await problem({ ...base, messageBroker: { ...broker, prefetch: -1 } })).toBe(
      'config.messageBroker.prefetch must be a whole number from 1 to 65535; got -1',
    );
    expect(await problem({ ...base, messageBroker: { url: 'http://guest:hunter2@broker:5672' } })).toBe(
      'config.messageBroker.url must be a URL such as amqp://user:password@host:5672; got "http://guest:***@broker:5672/"',
    );
    expect(await problem({ ...base, eventStore: { connectionString: 'localhost:5432' } })).toMatch(
      /^config\.eventStore\.connectionString must be a URL such as postgres:\/\/user:password@host:5432\/database/,
    );
    const message = await problem({
      ...base,
      projections: { definitions: [projection], targetDb: 'mysql://root:hunter2@db/x' },
    });
    expect(message).toMatch(/^config\.projections\.targetDb must be a URL/);
    expect(message).not.toContain('hunter2');
  });

  it('lists every problem in one message, naming each field', async () => {
    const message = await problem({
      eventStore: { connectionString: 'postgres://db/events', schema: 'Orders', maxConnections: 0 },
      messageBroker: { url: 'amqp://broker', prefetch: 1.5, exchange: 'amq.topic', queue: 'x' },
      projections: { definitions: [projection], transport: 'kafka', batchSize: '50' },
      idempotency: { commandTtlHours: -1 },
    });
    expect(message).toBe(
      `the config has 9 problems: ${[
        'config.eventStore.schema must be 1-63 characters of lower-case letters, digits and underscores, starting with a letter or underscore; got "Orders"',
        'config.eventStore.maxConnections must be a whole number from 1 to 10000; got 0',
        'config.registry is missing: eventStore given as settings needs the EventRegistry to decode with',
        'config.messageBroker.queue is not a setting of the broker (url, exchange, queuePrefix, prefetch, deadLetterQueue)',
        'config.messageBroker.exchange must be 1 to 200 characters out of A-Z a-z 0-9 _ . : - and not start with "amq."; got "amq.topic"',
        'config.messageBroker.prefetch must be a whole number from 1 to 65535; got 1.5',
        "config.projections.transport must be 'log' or 'broker'; got \"kafka\"",
        'config.projections.batchSize must be a whole number from 1 to 10000; got "50"',
        'config.idempotency.commandTtlHours must be a positive number of hours; got -1',
      ].join('; ')}`,
    );
  });

  it('needs a broker for the broker transport, and settings for targetDb', async () => {
    expect(
      await problem({
        registry,
        eventStore: events,
        projections: { definitions: [projection], transport: 'broker' },
      }),
    ).toBe("config.projections.transport is 'broker', but the config has no messageBroker { url }");
    expect(
      await problem({
        eventStore,
        projectionStore,
        projections: { definitions: [projection], targetDb: 'postgres://db/read' },
      }),
    ).toBe(
      'config.projections.targetDb needs eventStore as settings; with a live eventStore, pass projectionStore',
    );
    expect(
      await problem({ registry, eventStore: events, projectionStore, projections: [projection] }),
    ).toMatch(/^config\.projectionStore is only for a live eventStore/);
  });
});
