import {
  LOG_START,
  type LogPosition,
  logPositionOf,
  type NewEvent,
  ProjectionRunner,
  type ProjectionStatus,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '../../support/postgres.js';
import { ledgerProjection, openStores } from './fixtures.js';

const db = usePostgres();

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);
const created = (index: number): NewEvent => ({
  type: 'OrderCreated',
  aggregateType: 'Order',
  payload: { customerId: `customer-${index}`, items: [] },
  timestamp: new Date(T0 + index * 1000),
});

/**
 * `runner.status(name)` once its head is `head` and its lag `lagEvents` (or the last status after
 * 10 s): right after an append, the readers' horizon can still hide it for a moment while a
 * transaction of another database that started before it ends (docs/postgres.md, "Right after
 * an append"); other files and other runs use the server meanwhile.
 */
async function statusOnceVisible(
  runner: { status(name: string): Promise<ProjectionStatus> },
  name: string,
  head: LogPosition,
  lagEvents: bigint,
): Promise<ProjectionStatus> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await runner.status(name);
    const visible =
      status.head.transactionId === head.transactionId &&
      status.head.globalPosition === head.globalPosition &&
      status.lagEvents === lagEvents;
    if (visible || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('status and lag on PostgreSQL', () => {
  it('reports lag in events and in event time while events arrive', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const stored: StoredEvent[] = [];
    const append = async (from: number, to: number) => {
      for (let index = from; index < to; index++) {
        const result = await eventStore.append(`lag-order-${index}`, 'no_stream', [created(index)]);
        stored.push(...result.events);
      }
    };
    await append(0, 30);

    const name = 'lag';
    const controller = new AbortController();
    let handled = 0;
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      batchSize: 10,
      projections: [
        ledgerProjection({
          name,
          before: () => {
            handled += 1;
            if (handled === 10) controller.abort(); // the catch-up ends after this batch
          },
        }),
      ],
    });

    // Nothing processed yet: the lag is the whole log, in time from the first event to the head.
    let status = await statusOnceVisible(runner, name, logPositionOf(stored[29]!), 30n);
    expect(status.checkpoint).toEqual(LOG_START);
    expect(status.lagEvents).toBe(30n);
    expect(status.lagMs).toBe(29_000);
    expect(status.lastEventTimestamp).toBeUndefined();
    expect(status.checkpointUpdatedAt).toBeUndefined();

    await runner.catchUp({ signal: controller.signal });
    status = await statusOnceVisible(runner, name, logPositionOf(stored[29]!), 20n);
    expect(status.checkpoint).toEqual(logPositionOf(stored[9]!));
    expect(status.head).toEqual(logPositionOf(stored[29]!));
    expect(status.lagEvents).toBe(20n);
    expect(status.lagMs).toBe(20_000);
    expect(status.lastEventTimestamp?.getTime()).toBe(T0 + 9_000);
    expect(status.checkpointUpdatedAt).toBeInstanceOf(Date);
    expect(status.deadLetters).toBe(0);

    // More events arrive: the head moves, the lag grows, the checkpoint stays.
    await append(30, 35);
    status = await statusOnceVisible(runner, name, logPositionOf(stored[34]!), 25n);
    expect(status.checkpoint).toEqual(logPositionOf(stored[9]!));
    expect(status.head).toEqual(logPositionOf(stored[34]!));
    expect(status.lagEvents).toBe(25n);
    expect(status.lagMs).toBe(25_000);

    await runner.catchUp();
    status = await statusOnceVisible(runner, name, logPositionOf(stored[34]!), 0n);
    expect(status.checkpoint).toEqual(status.head);
    expect(status.lagEvents).toBe(0n);
    expect(status.lagMs).toBe(0);
    expect(status.lastEventTimestamp?.getTime()).toBe(T0 + 34_000);
  });
});
