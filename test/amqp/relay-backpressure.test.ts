/**
 * The relay against a broker that pushes back, on real RabbitMQ and PostgreSQL (PGlite without
 * DATABASE_URL): a bound queue with `x-max-length` and `x-overflow: reject-publish` makes the
 * broker nack publishes; the relay keeps its checkpoint before the first nacked event and
 * publishes again until the queue has room, losing nothing. A page larger than the channel's
 * write buffer makes `publish` return false; the relay waits for `drain` and loses nothing.
 */
import amqplib from 'amqplib';
import type { ProjectionError } from 'annals';
import { type AmqpConnect, EventRelay, type EventRelayOptions } from 'annals/amqp';
import { migrate, PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import { afterEach, expect, it } from 'vitest';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { usePostgres } from '../support/postgres.js';
import { appendOrdersConcurrently, logEventIds } from './consumer-fixtures.js';
import { describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres();
const rabbit = useRabbitVhost();

const relays: EventRelay[] = [];
const connections: amqplib.ChannelModel[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  await Promise.all(connections.splice(0).map((connection) => connection.close().catch(() => {})));
});

/** A log, a relay checkpoint store and an exchange of the test's own. */
async function freshLog(label: string) {
  const schema = `${db.schema}_${label}`;
  await migrate(db.pool, { schema });
  return {
    eventStore: new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema }),
    checkpoints: new PostgresProjectionStore({ pool: db.pool, schema }),
    exchange: `backpressure_${label}`,
  };
}

/** A channel of a connection closed after the test. */
async function openChannel() {
  const connection = await amqplib.connect(rabbit.url);
  connection.on('error', () => {});
  connections.push(connection);
  return connection.createChannel();
}

function startRelay(options: EventRelayOptions): EventRelay {
  const relay = new EventRelay({ pollIntervalMs: 50, ...options });
  relays.push(relay);
  relay.start();
  return relay;
}

/** Consumes `queue` (acknowledging each message), pushing each message's id onto `ids`. */
async function drain(channel: amqplib.Channel, queue: string, ids: string[]): Promise<void> {
  await channel.prefetch(5);
  await channel.consume(queue, (message) => {
    if (!message) return;
    ids.push(message.properties.messageId as string);
    channel.ack(message);
  });
}

describeWithRabbit('EventRelay when the broker pushes back', () => {
  it('a full queue with reject-publish nacks: the checkpoint stays before the first nacked event; once the queue drains, everything arrives', async () => {
    const { eventStore, checkpoints, exchange } = await freshLog('nacks');
    const channel = await openChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const queue = 'backpressure_limited';
    const room = 20;
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-max-length': room, 'x-overflow': 'reject-publish' },
    });
    await channel.bindQueue(queue, exchange, '#');
    // The whole log is written before the relay starts: every page is a full one of 10.
    const total = await appendOrdersConcurrently(eventStore, {
      writers: 4,
      ordersPerWriter: 10,
      prefix: 'n',
    });
    const log = await logEventIds(eventStore, db.pool);
    expect(log).toHaveLength(total);

    const errors: ProjectionError[] = [];
    const relay = startRelay({
      eventStore,
      checkpoints,
      url: rabbit.url,
      connectionName: 'backpressure relay nacks',
      exchange,
      batchSize: 10,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      onError: (error) => errors.push(error),
    });
    const nacks = () => errors.filter((error) => /nack/i.test(error.message)).length;
    // Two pages fill the queue; the third is nacked, again and again while the queue is full.
    await waitUntil(() => nacks() >= 3, { what: 'three nacked attempts' });
    const blocked = await relay.status();
    expect(blocked.lagEvents).toBe(BigInt(total - room));
    expect(blocked.publishedEvents).toBe(room);
    expect((await channel.checkQueue(queue)).messageCount).toBe(room);
    expect(errors.every((error) => /nack/i.test(error.message))).toBe(true);

    // Room again: the relay publishes the nacked page again, and the rest.
    const received: string[] = [];
    await drain(channel, queue, received);
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, { what: 'the relay caught up' });
    await waitUntil(() => new Set(received).size === total, { what: `all ${total} events received` });
    // Every event arrived, some more than once: a page the broker nacked in part is published again
    // whole. (Not necessarily in log order: while the queue drains, a later event of a page can
    // find room where an earlier one was nacked, and the earlier one arrives with the next attempt.)
    expect([...new Set(received)].sort()).toEqual([...log].sort());
    const status = await relay.status();
    expect(status.publishedEvents).toBe(total);
    expect(status.checkpoint).toEqual(status.head);
  }, 30_000);

  it('a page larger than the channel’s write buffer: publish returns false, the relay waits for drain, and every event arrives once, in log order', async () => {
    const { eventStore, checkpoints, exchange } = await freshLog('drain');
    const channel = await openChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const queue = 'backpressure_backlog';
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchange, '#');
    // A backlog of 3,000 events published as one page: amqplib's channel buffers 1,024 frames on
    // each side of its stream before `publish` returns false.
    const total = await appendOrdersConcurrently(eventStore, {
      writers: 6,
      ordersPerWriter: 100,
      prefix: 'd',
    });
    const log = await logEventIds(eventStore, db.pool);

    // The relay's own amqplib connection, watched: how often its confirm channel's buffer was full.
    let bufferFull = 0;
    const connect: AmqpConnect = async () => {
      const connection = await amqplib.connect(rabbit.url, {
        clientProperties: { connection_name: 'backpressure relay drain' },
      });
      const createConfirmChannel = connection.createConfirmChannel.bind(connection);
      connection.createConfirmChannel = async () => {
        const confirmChannel = await createConfirmChannel();
        const publish = confirmChannel.publish.bind(confirmChannel);
        confirmChannel.publish = (...args: Parameters<typeof publish>) => {
          const written = publish(...args);
          if (!written) bufferFull++;
          return written;
        };
        return confirmChannel;
      };
      return connection;
    };
    const errors: ProjectionError[] = [];
    const relay = startRelay({
      eventStore,
      checkpoints,
      connect,
      exchange,
      batchSize: 3000,
      onError: (error) => errors.push(error),
    });
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, {
      timeoutMs: 20_000,
      what: 'the relay caught up',
    });
    expect(bufferFull).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect((await relay.status()).publishedEvents).toBe(total);
    const received: string[] = [];
    await drain(channel, queue, received);
    await waitUntil(() => received.length >= total, { what: `${total} messages received` });
    expect(received).toEqual(log);
    expect((await channel.checkQueue(queue)).messageCount).toBe(0);
  }, 30_000);
});
