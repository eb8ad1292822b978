/** The relay's option checks: they run before any connection, so no broker is needed. */
import { EventRegistry, InMemoryEventStore, InMemoryProjectionStore } from 'annals';
import { EventRelay, type EventRelayOptions } from 'annals/amqp';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../examples/order/events.js';

describe('EventRelay options (no broker needed)', () => {
  it('names the option that is wrong', () => {
    const eventStore = new InMemoryEventStore({ registry: new EventRegistry(orderEvents) });
    const checkpoints = new InMemoryProjectionStore({ initialState: {} });
    const connect = async () => {
      throw new Error('the relay must not connect while checking its options');
    };
    const base = { eventStore, checkpoints, connect };
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
});
