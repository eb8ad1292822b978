import {
  defineProjection,
  ErrorCode,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProcessedEventStore,
  isAnnalsError,
  isTransientError,
} from 'annals';
import { type AmqpConnect, BrokerDeadLetters, ProjectionConsumer } from 'annals/amqp';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../examples/order/events.js';

const registry = new EventRegistry([...orderEvents]);
const projection = defineProjection<undefined>()({
  name: 'order-count',
  events: orderEvents,
  handlers: { OrderCreated: () => {} },
});
const connect: AmqpConnect = () => Promise.reject(new Error('not used'));
const base = () => ({
  projection,
  processedEvents: new InMemoryProcessedEventStore(),
  context: () => undefined,
  eventStore: new InMemoryEventStore({ registry }),
  connect,
});

function invalid(options: Record<string, unknown>): string {
  try {
    new ProjectionConsumer({ ...base(), ...options } as never);
  } catch (error) {
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('ProjectionConsumer options (no broker needed)', () => {
  it('takes the defaults of the seed configuration', () => {
    const consumer = new ProjectionConsumer(base());
    expect(consumer.queue).toBe('projection_order-count');
    expect(consumer.retryQueue).toBe('projection_order-count.retry');
    expect(consumer.deadLetterQueue).toBe('dlq_failed_events');
    expect(consumer.exchange).toBe('domain_events');
    expect(consumer.consumerName).toBe('order-count');
    expect(consumer.status()).toMatchObject({ state: 'idle', inFlight: 0, acknowledged: 0 });
  });

  it.each([
    [{ prefetch: -1 }, '`prefetch` must be an integer from 1 to 65535; got -1'],
    [{ prefetch: 1.5 }, '`prefetch`'],
    [{ retryDelayMs: 0 }, '`retryDelayMs` must be an integer from 1'],
    [{ maxRetryAttempts: -1 }, '`maxRetryAttempts` must be an integer from 0'],
    [{ reconnectDelayMs: '1s' }, '`reconnectDelayMs`'],
    [{ exchange: 'amq.topic' }, '`exchange` must be 1 to 200 characters'],
    [{ exchange: 'has space' }, '`exchange`'],
    [{ deadLetterQueue: '' }, '`deadLetterQueue`'],
    [{ deadLetterQueue: 'projection_order-count' }, '`deadLetterQueue` must differ'],
    [{ queuePrefix: 'bad prefix ' }, '`queuePrefix`'],
    [{ connect: 'amqp://localhost' }, '`connect` must be a function'],
    [{ connect: undefined }, 'give `url` (amqp://…) or `connect`'],
    [{ url: 'amqp://localhost' }, 'give either `connect` or `url`, not both'],
    [{ connect: undefined, url: 'http://localhost' }, 'ProjectionConsumer: url'],
    [{ connect: undefined, url: 'amqp://localhost', connectionName: '' }, '`connectionName`'],
    [{ processedEvents: {} }, '`processedEvents` must be a ProcessedEventStore'],
    [{ context: undefined }, '`context` must be a function'],
    [{ eventStore: undefined }, '`eventStore` must be an IEventStore'],
    [{ eventStore: { load: () => [] } }, '`registry` must be an EventRegistry'],
    [{ projection: {} }, '`projection` must be a projection'],
    [{ onError: 'log' }, '`onError` must be a function'],
  ])('rejects %j with a clear InvalidArgumentError', (options, message) => {
    expect(invalid(options)).toContain(message);
  });

  it('with a url, connects through connectAmqp: an unreachable broker is a transient error at start', async () => {
    const consumer = new ProjectionConsumer({
      ...base(),
      connect: undefined,
      url: 'amqp://guest:guest@127.0.0.1:1',
      runSetup: false,
    });
    const error = await consumer.start().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isTransientError(error)).toBe(true);
    expect(consumer.status().state).toBe('stopped');
  });

  it('refuses a projection without handlers: there is nothing to bind', () => {
    const empty = defineProjection<undefined>()({ name: 'nothing', events: orderEvents, handlers: {} });
    expect(invalid({ projection: empty })).toContain('has no handlers');
  });

  it('BrokerDeadLetters.open checks its options before connecting', async () => {
    await expect(BrokerDeadLetters.open({ connect: undefined as never })).rejects.toThrow('`connect`');
    await expect(BrokerDeadLetters.open({ connect, deadLetterQueue: 'amq.dlq' })).rejects.toThrow(
      '`deadLetterQueue`',
    );
  });
});
