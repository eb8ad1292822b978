/**
 * The relay on real RabbitMQ (a vhost of this file's own) and PostgreSQL (PGlite without
 * DATABASE_URL): every event published once, in log order, with its properties; restarts,
 * a broker-side close of its connection, two relays, and amqplib 0.10.
 */
import { EventRegistry, type NewEvent, StoreUnavailableError } from 'annals';
import {
  type AmqpConnect,
  type AmqpConnection,
  type AmqpMessage,
  connectAmqp,
  EventHeader,
  EventRelay,
  type EventRelayOptions,
} from 'annals/amqp';
import { migrate, PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { orderEvents } from '../../examples/order/events.js';
import { usePostgres, wholeLogIds } from '../support/postgres.js';
import { closeConnectionsNamed, describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres();
const rabbit = useRabbitVhost();

/** A writer that knows every Order event, and a relay registry that lacks `OrderCancelled`. */
const fullRegistry = new EventRegistry(orderEvents);
const relayRegistry = new EventRegistry(orderEvents.filter((event) => event.type !== 'OrderCancelled'));

let schemaCount = 0;
/** Fresh stores in a schema of their own, so each test has a log of its own. */
async function freshStores() {
  const schema = `${db.schema}_${++schemaCount}`;
  await migrate(db.pool, { schema });
  return {
    writer: new PostgresEventStore({ pool: db.pool, registry: fullRegistry, schema }),
    relayStore: new PostgresEventStore({ pool: db.pool, registry: relayRegistry, schema }),
    checkpoints: new PostgresProjectionStore({ pool: db.pool, schema }),
  };
}

function orderEventsFor(orderId: string, count: number, writer: number): NewEvent[] {
  return Array.from({ length: count }, (_, index) =>
    index === 0
      ? {
          type: 'OrderCreated',
          aggregateType: 'Order',
          payload: { customerId: `customer-${writer}`, items: [] },
          metadata: { correlationId: `corr-${orderId}`, causationId: `cause-${orderId}-${index}` },
        }
      : {
          type: 'OrderItemAdded',
          aggregateType: 'Order',
          payload: { productId: `sku-${index}`, quantity: 1, price: 1 },
          metadata: { correlationId: `corr-${orderId}` },
        },
  );
}

/** Appends `orders` orders of `perOrder` events from `writers` concurrent writers. */
async function appendConcurrently(
  writer: PostgresEventStore,
  {
    writers,
    orders,
    perOrder,
    prefix,
  }: { writers: number; orders: number; perOrder: number; prefix: string },
): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let o = 0; o < orders; o++) {
        const orderId = `${prefix}-w${w}-o${o}`;
        const events = orderEventsFor(orderId, perOrder, w);
        // Two appends per order: the log interleaves writers' transactions.
        await writer.append(orderId, 'no_stream', events.slice(0, 1));
        await writer.append(orderId, 1, events.slice(1));
      }
    }),
  );
}

/** Every event id of the log, in log order (read with the full registry), once all of it is readable. */
const logIds = (store: PostgresEventStore): Promise<string[]> => wholeLogIds(store, db.pool);

const openConnections: AmqpConnection[] = [];
const relays: EventRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
});
afterAll(async () => {
  await Promise.all(openConnections.splice(0).map((connection) => connection.close().catch(() => {})));
});

let exchangeCount = 0;
function nextExchange(): string {
  return `relay_test_${++exchangeCount}`;
}

/** A queue bound to `exchange` with `#`, collecting what arrives. Declares the exchange first. */
async function collect(exchange: string): Promise<AmqpMessage[]> {
  const connection = await connectAmqp({ url: rabbit.url, connectionName: `collector ${exchange}` });
  openConnections.push(connection);
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, '#');
  const received: AmqpMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
  return received;
}

function startRelay(
  options: Partial<EventRelayOptions> & Pick<EventRelayOptions, 'eventStore' | 'checkpoints'>,
) {
  const relay = new EventRelay({
    url: rabbit.url,
    batchSize: 10,
    pollIntervalMs: 50,
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 400,
    leaseRetryMs: 100,
    ...options,
  } as EventRelayOptions);
  relays.push(relay);
  relay.start();
  return relay;
}

const ids = (messages: readonly AmqpMessage[]) => messages.map((m) => m.properties.messageId ?? '');
const firstOccurrences = (values: readonly string[]) => [...new Set(values)];

describeWithRabbit('EventRelay on RabbitMQ', () => {
  let stores: Awaited<ReturnType<typeof freshStores>>;
  beforeAll(async () => {
    stores = await freshStores();
  });

  it('publishes every event of concurrent writers once, in log order, with its properties, headers and routing key (undecodable ones too)', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    const relay = startRelay({ eventStore: relayStore, checkpoints, exchange, batchSize: 7 });
    await Promise.all([
      appendConcurrently(writer, { writers: 4, orders: 5, perOrder: 3, prefix: 'a' }),
      // An event the relay's registry cannot read travels in its stored form.
      writer.append('a-cancelled', 'no_stream', [
        { type: 'OrderCancelled', aggregateType: 'Order', payload: { reason: 'test' } },
      ]),
    ]);
    const log = await logIds(writer);
    expect(log).toHaveLength(4 * 5 * 3 + 1);
    await waitUntil(() => received.length >= log.length, { what: 'every event published' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing more arrives
    expect(ids(received)).toEqual(log);

    const [first] = await writer.load('a-w0-o0', { toVersion: 1 });
    const message = received.find((m) => m.properties.messageId === first!.eventId)!;
    expect(message.fields.routingKey).toBe('Order.OrderCreated');
    expect(message.fields.exchange).toBe(exchange);
    expect(message.properties).toMatchObject({
      messageId: first!.eventId,
      correlationId: 'corr-a-w0-o0',
      type: 'OrderCreated',
      contentType: 'application/json',
      timestamp: Math.floor(first!.timestamp.getTime() / 1000),
      headers: {
        [EventHeader.aggregateId]: 'a-w0-o0',
        [EventHeader.aggregateType]: 'Order',
        [EventHeader.version]: 1,
        [EventHeader.schemaVersion]: first!.schemaVersion,
        [EventHeader.logPosition]: `${first!.transactionId}:${first!.globalPosition}`,
        [EventHeader.causationId]: 'cause-a-w0-o0-0',
      },
    });
    expect((message as unknown as { properties: { deliveryMode?: number } }).properties.deliveryMode).toBe(2);
    expect(JSON.parse(message.content.toString())).toMatchObject({
      eventId: first!.eventId,
      aggregateId: 'a-w0-o0',
      payload: { customerId: 'customer-0', items: [] },
      globalPosition: first!.globalPosition.toString(),
    });
    const cancelled = received.find((m) => m.properties.type === 'OrderCancelled')!;
    expect(cancelled.fields.routingKey).toBe('Order.OrderCancelled');
    expect(JSON.parse(cancelled.content.toString()).payload).toEqual({ reason: 'test' });

    const status = await relay.status();
    expect(status).toMatchObject({
      relay: `relay:${exchange}`,
      exchange,
      state: 'running',
      lagEvents: 0n,
      lagMs: 0,
      publishedEvents: log.length,
      lastError: undefined,
    });
    expect(status.checkpoint).toEqual(status.head);
  });

  it('restarted mid-stream, it publishes nothing twice and loses nothing', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    const first = startRelay({ eventStore: relayStore, checkpoints, exchange });
    const appending = appendConcurrently(writer, { writers: 3, orders: 10, perOrder: 4, prefix: 'b' });
    await waitUntil(() => received.length >= 30, { what: 'the first relay published a few pages' });
    await first.stop();
    expect((await first.status()).state).toBe('stopped');
    const second = startRelay({ eventStore: relayStore, checkpoints, exchange });
    await appending;
    const log = await logIds(writer);
    await waitUntil(async () => (await second.status()).lagEvents === 0n, {
      what: 'the second relay caught up',
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // stop() ends after the page in flight, checkpointed: the second relay starts right after it.
    expect(ids(received)).toEqual(log);
  });

  it('with checkpoint saves slower than the pages, it keeps publishing and still checkpoints the end of the log', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    // The real store, each save 150 ms late: a page is confirmed while the save before it runs.
    let saves = 0;
    const slowTransaction: typeof checkpoints.transaction = async (work) => {
      saves += 1;
      await new Promise((resolve) => setTimeout(resolve, 150));
      return checkpoints.transaction(work);
    };
    const slow = new Proxy(checkpoints, {
      get: (target, property) => {
        if (property === 'transaction') return slowTransaction;
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await appendConcurrently(writer, { writers: 2, orders: 5, perOrder: 4, prefix: 'slow' });
    const log = await logIds(writer);
    const relay = startRelay({ eventStore: relayStore, checkpoints: slow, exchange });
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, {
      what: 'the relay caught up, its checkpoint at the head',
    });
    const stored = await checkpoints.loadCheckpoint(`relay:${exchange}`);
    expect(stored.position).toEqual((await writer.head()).position);
    // Fewer saves than pages: pages confirmed during a save were covered by the next one.
    const pages = Math.ceil(log.length / 10);
    expect(saves).toBeLessThan(pages);
    await relay.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ids(received)).toEqual(log);
  });

  it('reconnects after the broker closes its connection and goes on without loss', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    const errors: string[] = [];
    const connectionName = `relay under test ${exchange}`;
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const relay = startRelay({
      eventStore: relayStore,
      checkpoints,
      exchange,
      connectionName,
      onError: (error) => errors.push(error.message),
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (fields, message) => warnings.push({ fields, message }),
        error: () => undefined,
      },
    });
    const appending = appendConcurrently(writer, { writers: 3, orders: 10, perOrder: 4, prefix: 'c' });
    await waitUntil(() => received.length >= 20, { what: 'the relay published a few pages' });
    expect(
      await closeConnectionsNamed(connectionName, { vhost: rabbit.vhost, reason: 'relay fault test' }),
    ).toBe(1);
    await appending;
    // Events appended after the close can only be published on a new connection.
    await appendConcurrently(writer, { writers: 2, orders: 3, perOrder: 3, prefix: 'c-after' });
    const log = await logIds(writer);
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, { what: 'the relay caught up' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const published = ids(received);
    // Nothing lost, first deliveries in log order; at most the page in flight (10) came twice.
    expect(firstOccurrences(published)).toEqual(log);
    expect(published.length - log.length).toBeLessThanOrEqual(10);
    expect(errors.join('\n')).toMatch(/CONNECTION_FORCED|closed/);
    const status = await relay.status();
    expect(status.state).toBe('running');
    expect(status.lastError?.message).toMatch(/lost the broker/);
    // Logged as a warning naming the relay and its exchange.
    const lost = warnings.find((warning) => /lost the broker/.test(warning.message));
    expect(lost?.fields).toMatchObject({ relay: `relay:${exchange}`, exchange });
    expect(warnings.map((warning) => warning.message)).toEqual(errors);
  });

  it('with two relays, only the lease holder publishes', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    const one = startRelay({ eventStore: relayStore, checkpoints, exchange, owner: 'relay-one' });
    await waitUntil(async () => (await one.status()).state === 'running', { what: 'relay one running' });
    const two = startRelay({ eventStore: relayStore, checkpoints, exchange, owner: 'relay-two' });
    await appendConcurrently(writer, { writers: 2, orders: 5, perOrder: 3, prefix: 'd' });
    const log = await logIds(writer);
    await waitUntil(async () => (await one.status()).lagEvents === 0n, { what: 'relay one caught up' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ids(received)).toEqual(log);
    expect((await two.status()).state).toBe('waiting-for-lease');
    expect((await two.status()).publishedEvents).toBe(0);
    // When the holder stops, the other takes over from the checkpoint.
    await one.stop();
    await writer.append('d-after', 'no_stream', orderEventsFor('d-after', 1, 0));
    const all = await logIds(writer);
    await waitUntil(() => received.length >= all.length, { what: 'relay two took over' });
    expect(ids(received)).toEqual(all);
    expect((await two.status()).publishedEvents).toBe(1);
  });

  it('works with amqplib 0.10 through its own connect', async () => {
    const { writer, relayStore, checkpoints } = stores;
    const exchange = nextExchange();
    const received = await collect(exchange);
    const name = 'amqplib010';
    const amqplib010 = (await import(name)) as {
      connect(url: string, options?: Record<string, unknown>): Promise<AmqpConnection>;
    };
    const version = (
      (await import(`${name}/package.json`, { with: { type: 'json' } })) as {
        default: { version: string };
      }
    ).default.version;
    expect(version).toMatch(/^0\.10\./);
    const connect: AmqpConnect = () =>
      amqplib010.connect(rabbit.url, { clientProperties: { connection_name: 'relay on amqplib 0.10' } });
    const relay = startRelay({ eventStore: relayStore, checkpoints, exchange, url: undefined, connect });
    await appendConcurrently(writer, { writers: 2, orders: 3, perOrder: 3, prefix: 'e' });
    const log = await logIds(writer);
    await waitUntil(() => received.length >= log.length, { what: 'every event published' });
    expect(ids(received)).toEqual(log);
    expect((await relay.status()).publishedEvents).toBe(log.length);
  });
});

describeWithRabbit('connectAmqp', () => {
  it('names the option of a bad URL and the broker it cannot reach', async () => {
    await expect(connectAmqp({ url: 'http://localhost' })).rejects.toThrow(/url must be an amqp:\/\//);
    expect(() => new EventRelay({ eventStore: stores0(), checkpoints: checkpoints0(), url: 'nope' })).toThrow(
      /EventRelay: url must be an amqp:\/\//,
    );
    const error = await connectAmqp({ url: 'amqp://guest:secret@127.0.0.1:1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(String(error)).toMatch(/cannot reach the RabbitMQ broker at 127\.0\.0\.1:1/);
    expect(String(error)).not.toContain('secret');
  });
});

// Stand-ins that satisfy the constructor's shape checks (it fails before using them).
function stores0() {
  return { readAll: () => {}, onAppended: () => () => {} } as unknown as EventRelayOptions['eventStore'];
}
function checkpoints0() {
  return {
    loadCheckpoint: () => {},
    tryAcquireLease: () => {},
  } as unknown as EventRelayOptions['checkpoints'];
}
