/**
 * The relay against a scripted connection (no broker needed): option errors, back-pressure
 * (`publish()` returning false), a nacked page, backoff, and the lease's fence on every save.
 */
import {
  type CheckpointUpdate,
  EventRegistry,
  InMemoryEventStore,
  InMemoryProjectionStore,
  type ProjectionStore,
  StoreUnavailableError,
} from 'annals';
import type { AmqpConfirmChannel, AmqpConnection, AmqpPublishOptions } from 'annals/amqp';
import { EventRelay, type EventRelayOptions } from 'annals/amqp';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../examples/order/events.js';
import { waitUntil } from './support.js';

interface Published {
  readonly exchange: string;
  readonly routingKey: string;
  readonly options: AmqpPublishOptions | undefined;
}

/** A scripted broker: what it accepts, when it applies back-pressure, whether it nacks. */
class FakeBroker {
  readonly published: Published[] = [];
  connects = 0;
  /** `publish()` returns false for these message numbers (1-based, over the whole run). */
  fullAt = new Set<number>();
  /** The next `waitForConfirms()` calls reject this many times. */
  nacks = 0;
  /** The next `connect()` calls fail this many times. */
  refusals = 0;
  drains = 0;

  connect = async (): Promise<AmqpConnection> => {
    this.connects += 1;
    if (this.refusals > 0) {
      this.refusals -= 1;
      throw new StoreUnavailableError('cannot reach the RabbitMQ broker at fake:5672');
    }
    const listeners = new Map<string, Array<(arg?: unknown) => void>>();
    const emit = (event: string, arg?: unknown) => {
      for (const listener of listeners.get(event) ?? []) listener(arg);
    };
    const on = (event: string, listener: (arg?: unknown) => void) => {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    };
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      emit('close');
    };
    const channel = {
      assertExchange: async () => ({}),
      publish: (exchange: string, routingKey: string, _content: Buffer, options?: AmqpPublishOptions) => {
        if (closed) throw new Error('Channel closed');
        this.published.push({ exchange, routingKey, options });
        if (this.fullAt.has(this.published.length)) {
          setTimeout(() => {
            this.drains += 1;
            emit('drain');
          }, 5);
          return false;
        }
        return true;
      },
      waitForConfirms: async () => {
        if (this.nacks > 0) {
          this.nacks -= 1;
          throw new Error('message nacked');
        }
      },
      on,
      close,
    } as unknown as AmqpConfirmChannel;
    return {
      createConfirmChannel: async () => channel,
      createChannel: async () => channel,
      close,
      on,
    } as unknown as AmqpConnection;
  };
}

const registry = new EventRegistry(orderEvents);

async function storeWith(events: number): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore({ registry });
  for (let i = 0; i < events; i++) {
    await store.append(`order-${i}`, 'no_stream', [
      { type: 'OrderCreated', aggregateType: 'Order', payload: { customerId: 'c', items: [] } },
    ]);
  }
  return store;
}

/** A projection store that records every checkpoint update it is asked to save. */
function recordingStore(): { store: ProjectionStore<unknown>; updates: CheckpointUpdate[] } {
  const inner = new InMemoryProjectionStore({ initialState: {} });
  const updates: CheckpointUpdate[] = [];
  const store: ProjectionStore<unknown> = {
    loadCheckpoint: (name) => inner.loadCheckpoint(name),
    tryAcquireLease: (name, owner) => inner.tryAcquireLease(name, owner),
    getDeadLetter: (id) => inner.getDeadLetter(id),
    listDeadLetters: (name, options) => inner.listDeadLetters(name, options),
    countDeadLetters: (name) => inner.countDeadLetters(name),
    transaction: (work) =>
      inner.transaction((transaction) =>
        work({
          context: transaction.context,
          saveCheckpoint: (name, update) => {
            updates.push(update);
            return transaction.saveCheckpoint(name, update);
          },
          resetCheckpoint: (name) => transaction.resetCheckpoint(name),
          addDeadLetter: (letter) => transaction.addDeadLetter(letter),
          removeDeadLetter: (id) => transaction.removeDeadLetter(id),
        }),
      ),
  };
  return { store, updates };
}

function relayOn(
  broker: FakeBroker,
  eventStore: InMemoryEventStore,
  checkpoints: ProjectionStore<unknown>,
  options: Partial<EventRelayOptions> = {},
) {
  return new EventRelay({
    eventStore,
    checkpoints,
    connect: broker.connect,
    batchSize: 5,
    pollIntervalMs: 20,
    reconnectDelayMs: 10,
    maxReconnectDelayMs: 40,
    ...options,
  });
}

describe('EventRelay (scripted connection)', () => {
  it('names the option that is wrong', async () => {
    const eventStore = await storeWith(0);
    const { store } = recordingStore();
    const base = { eventStore, checkpoints: store, connect: new FakeBroker().connect };
    const cases: Array<[Partial<EventRelayOptions>, RegExp]> = [
      [{ batchSize: 0 }, /EventRelay: batchSize must be an integer from 1 to 10000; got 0/],
      [{ exchange: 'amq.topic' }, /EventRelay: exchange must be/],
      [{ exchange: 'x'.repeat(95) }, /EventRelay: exchange must be at most 94 characters/],
      [{ pollIntervalMs: -1 }, /EventRelay: pollIntervalMs must be a finite number > 0; got -1/],
      [{ reconnectDelayMs: 100, maxReconnectDelayMs: 50 }, /maxReconnectDelayMs must be >= reconnectDelayMs/],
      [{ url: 'amqp://x' }, /give either connect or url, not both/],
      [{ connect: undefined }, /give url \(amqp:\/\/…\) or connect/],
      [
        { connect: undefined, url: 'localhost:5672' },
        /EventRelay: url must be an amqp:\/\/ or amqps:\/\/ URL/,
      ],
      [{ connect: undefined, url: 'amqp://user:hunter2@' }, /EventRelay: url must be/],
    ];
    for (const [options, message] of cases) {
      expect(() => new EventRelay({ ...base, ...options } as EventRelayOptions)).toThrow(message);
    }
    expect(() => new EventRelay({ ...base, connect: undefined, url: 'amqp://user:hunter2@' })).not.toThrow(
      /hunter2/,
    );
  });

  it('waits for drain when publish() returns false, publishes in log order and passes the fence', async () => {
    const broker = new FakeBroker();
    broker.fullAt = new Set([2, 7, 8, 13]);
    const eventStore = await storeWith(17);
    const { store, updates } = recordingStore();
    const relay = relayOn(broker, eventStore, store);
    relay.start();
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, { what: 'caught up' });
    await relay.stop();
    const log = (await eventStore.readAll({ limit: 100 })).events.map((event) => event.eventId);
    expect(broker.published.map((p) => p.options?.messageId)).toEqual(log);
    expect(broker.published.every((p) => p.exchange === 'domain_events')).toBe(true);
    expect(broker.drains).toBe(4);
    // Four pages of 5 and one of 2, each saved with the lease's fence.
    expect(updates).toHaveLength(4);
    expect(updates.every((update) => typeof update.fence === 'bigint')).toBe(true);
    expect((await relay.status()).state).toBe('stopped');
  });

  it('republishes a nacked page, backing off with doubling delays up to the cap while failures follow each other', async () => {
    const broker = new FakeBroker();
    broker.nacks = 1;
    broker.refusals = 3;
    const eventStore = await storeWith(8);
    const { store } = recordingStore();
    const errors: string[] = [];
    const relay = relayOn(broker, eventStore, store, { onError: (error) => errors.push(error.message) });
    relay.start();
    await waitUntil(async () => (await relay.status()).lagEvents === 0n, { what: 'caught up' });
    await relay.stop();
    // Three refused connects (10, 20, 40 ms), then a nacked first page (the fourth failure in a
    // row: capped at 40 ms; only a confirmed page resets the backoff), then success.
    expect(errors.map((message) => /retrying in (\d+) ms/.exec(message)?.[1])).toEqual([
      '10',
      '20',
      '40',
      '40',
    ]);
    expect(errors[0]).toMatch(/cannot reach the RabbitMQ broker at fake:5672/);
    expect(errors[3]).toMatch(/message nacked/);
    const ids = broker.published.map((p) => p.options?.messageId);
    const log = (await eventStore.readAll({ limit: 100 })).events.map((event) => event.eventId);
    // The nacked page (5 events) came twice; nothing is missing; first deliveries in log order.
    expect(ids).toEqual([...log.slice(0, 5), ...log]);
    // The channel survived the nack: the page is republished on the same connection.
    expect(broker.connects).toBe(4);
  });

  it('waits for the lease while another relay holds it, and wakes on appends', async () => {
    const broker = new FakeBroker();
    const eventStore = await storeWith(3);
    const { store } = recordingStore();
    const holder = relayOn(broker, eventStore, store, { owner: 'one', pollIntervalMs: 60_000 });
    holder.start();
    await waitUntil(async () => (await holder.status()).lagEvents === 0n, { what: 'caught up' });
    const other = relayOn(broker, eventStore, store, { owner: 'two', leaseRetryMs: 20 });
    other.start();
    await waitUntil(async () => (await other.status()).state === 'waiting-for-lease', { what: 'waiting' });
    // onAppended wakes the holder long before its 60 s poll.
    await eventStore.append('order-late', 'no_stream', [
      { type: 'OrderCreated', aggregateType: 'Order', payload: { customerId: 'c', items: [] } },
    ]);
    await waitUntil(() => broker.published.length === 4, {
      what: 'the late event published',
      timeoutMs: 2000,
    });
    expect((await other.status()).publishedEvents).toBe(0);
    await Promise.all([holder.stop(), other.stop()]);
  });
});
