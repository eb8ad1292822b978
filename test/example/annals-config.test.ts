import { isEventStoreSettings, resolveAnnalsConfig } from 'annals';
import { afterEach, describe, expect, it, vi } from 'vitest';
import exampleConfig from '../../examples/order/annals.config.js';
import { ExampleDefaults } from '../../examples/order/infrastructure.js';

afterEach(() => vi.unstubAllEnvs());

describe("the example's annals.config.ts", () => {
  it('defaults to compose.yaml’s servers and the log when RABBITMQ_URL is unset', async () => {
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('READ_MODEL_DATABASE_URL', '');
    vi.stubEnv('RABBITMQ_URL', '');
    const config = await resolveAnnalsConfig(exampleConfig);
    expect(isEventStoreSettings(config.eventStore)).toBe(true);
    expect(config.eventStore).toMatchObject({
      connectionString: ExampleDefaults.eventsDatabaseUrl,
      schema: 'annals_example',
    });
    expect(config.targetDb).toBe(ExampleDefaults.readModelDatabaseUrl);
    expect(config.transport).toBe('log');
    expect(config.messageBroker).toBeUndefined();
    expect(config.projections.map((projection) => projection.name)).toEqual(['order-read-model']);
  });

  it('runs the projection on the broker when RABBITMQ_URL is set, with the seed’s values', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/postgres');
    vi.stubEnv('READ_MODEL_DATABASE_URL', '');
    vi.stubEnv('RABBITMQ_URL', ExampleDefaults.rabbitmqUrl);
    const config = await resolveAnnalsConfig(exampleConfig);
    expect(config.transport).toBe('broker');
    expect(config.targetDb).toBeUndefined();
    expect(config.messageBroker).toEqual({
      url: ExampleDefaults.rabbitmqUrl,
      exchange: 'domain_events',
      queuePrefix: 'projection_',
      prefetch: 10,
      deadLetterQueue: 'dlq_failed_events',
    });
    expect(config.runner).toMatchObject({ batchSize: 50, retryDelayMs: 1000, maxRetryAttempts: 5 });
    expect(config.idempotency.commandTtlHours).toBe(72);
  });
});
