import { InMemoryEventBus, type StoredEvent } from 'annals';
import { describe, expect, it } from 'vitest';

const event = (type: string, n: number): StoredEvent => ({
  eventId: `e${n}`,
  aggregateId: 'a',
  aggregateType: 'A',
  type,
  version: n,
  schemaVersion: 1,
  timestamp: new Date(0),
  payload: {},
  metadata: {},
  globalPosition: BigInt(n),
  transactionId: BigInt(n),
});

describe('InMemoryEventBus', () => {
  it('delivers in order to type listeners and to * listeners, until unsubscribed', async () => {
    const bus = new InMemoryEventBus();
    const seen: string[] = [];
    const stop = bus.subscribe('A', (e) => {
      seen.push(`A:${e.eventId}`);
    });
    bus.subscribe('*', async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(`*:${e.eventId}`);
    });
    await bus.publish([event('A', 1), event('B', 2)]);
    stop();
    await bus.publish([event('A', 3)]);
    expect(seen).toEqual(['A:e1', '*:e1', '*:e2', '*:e3']);
  });
});
