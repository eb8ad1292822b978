import {
  defineProjection,
  ErrorCode,
  type InMemoryEventStore,
  InMemoryProjectionStore,
  isAnnalsError,
  type NewEvent,
  type ProjectionLease,
  ProjectionRunner,
  type RebuildProgress,
} from 'annals';
import { describe, expect, it } from 'vitest';
import {
  type CartState,
  cartEvents,
  cartProjection,
  checkedOut,
  emptyCartState,
  handledTypes,
  itemAdded,
  newEventStore,
  newProjectionStore,
  noted,
  opened,
  random,
  seedCarts,
} from './fixtures.js';

/**
 * Appends about `count` random cart events in random appends of 1–3 events over 200 carts;
 * `versions` holds the carts' stream versions across calls.
 */
async function randomHistory(
  store: InMemoryEventStore,
  versions: Map<string, number>,
  count: number,
  seed: number,
): Promise<number> {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  let appended = 0;
  while (appended < count) {
    const id = `cart-${Math.floor(next() * 200)}`;
    const version = versions.get(id) ?? 0;
    const events: NewEvent[] = version === 0 ? [opened(`customer-${Math.floor(next() * 50)}`)] : [];
    const more = 1 + Math.floor(next() * 3);
    for (let index = events.length; index < more; index++) {
      const roll = next();
      if (roll < 0.75)
        events.push(itemAdded(pick(['a', 'b', 'c', 'd']), 1 + Math.floor(next() * 4), pick([1, 2.5, 9.99])));
      else if (roll < 0.9) events.push(noted(`note ${appended}`));
      else events.push(checkedOut());
    }
    const result = await store.append(id, version, events);
    versions.set(id, result.nextExpectedVersion);
    appended += events.length;
  }
  return appended;
}

describe('rebuilds', () => {
  it('rebuild gives the same read model as the live build, over thousands of random events', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      pollIntervalMs: 5,
    });
    runner.start();
    // Live: events arrive in chunks while the runner follows the log.
    let total = 0;
    const versions = new Map<string, number>();
    for (let chunk = 0; chunk < 6; chunk++) {
      total += await randomHistory(eventStore, versions, 500, 1000 + chunk);
      if (chunk % 2 === 1) await runner.catchUp();
    }
    await runner.catchUp();
    await runner.stop();
    expect(total).toBeGreaterThanOrEqual(3000);
    const live = structuredClone(projectionStore.state);
    expect(Object.keys(live.carts).length).toBeGreaterThan(150);

    const result = await runner.rebuild('carts');
    // Processed: the events of the projection's types; the others (CartNoted) are skipped unread.
    const handled = (await eventStore.readAll({ limit: 10_000, types: handledTypes })).events.length;
    expect(handled).toBeLessThan(total);
    expect(result.processed).toBe(handled);
    expect(projectionStore.state).toEqual(live);

    // A fresh store built in one catch-up agrees too.
    const fresh = newProjectionStore();
    await new ProjectionRunner({
      eventStore,
      projectionStore: fresh,
      projections: [cartProjection()],
    }).catchUp();
    expect(fresh.state).toEqual(live);
  });

  it('reports progress: done, total, rate and time left', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await seedCarts(eventStore, 40); // 120 events
    let clock = 1_000_000;
    // Every handled event takes 2 ms on this clock.
    const projection = cartProjection({
      beforeHandler: () => {
        clock += 2;
      },
    });
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [projection],
      batchSize: 50,
      now: () => clock,
    });
    await runner.catchUp();
    const reports: RebuildProgress[] = [];
    const result = await runner.rebuild('carts', { onProgress: (progress) => reports.push(progress) });
    expect(reports.map((report) => report.processed)).toEqual([0, 50, 100, 120]);
    expect(reports.every((report) => report.total === 120 && report.projection === 'carts')).toBe(true);
    expect(reports[0]).toMatchObject({ elapsedMs: 0, eventsPerSecond: 0, estimatedRemainingMs: undefined });
    expect(reports[1]).toMatchObject({ elapsedMs: 100, eventsPerSecond: 500, estimatedRemainingMs: 140 });
    expect(reports[2]).toMatchObject({ elapsedMs: 200, eventsPerSecond: 500, estimatedRemainingMs: 40 });
    expect(reports[3]).toMatchObject({ elapsedMs: 240, eventsPerSecond: 500, estimatedRemainingMs: 0 });
    expect(result).toEqual({ projection: 'carts', processed: 120, durationMs: 240, deadLetters: 0 });
    expect(projectionStore.state.applied).toHaveLength(120);
  });

  it('runs reset, resets the checkpoint and runs setup in one unit of work, dropping dead letters', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const ids = await seedCarts(eventStore, 3);
    let poisoned = true;
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [
        cartProjection({
          beforeHandler: (event) => {
            if (poisoned && event.eventId === ids[2]) throw new Error('poison');
          },
        }),
      ],
      retryDelayMs: 1,
      maxRetryAttempts: 0,
    });
    await runner.catchUp();
    expect(await projectionStore.countDeadLetters('carts')).toBe(1);
    poisoned = false;
    const result = await runner.rebuild('carts');
    expect(result.deadLetters).toBe(0);
    expect(projectionStore.state.applied).toEqual(ids);
  });

  it('keeps the old read model when the reset unit of work fails', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await seedCarts(eventStore, 2);
    const projection = defineProjection<CartState>()({
      name: 'carts',
      events: cartEvents,
      handlers: {
        CartOpened: (event, state) => {
          state.applied.push(event.eventId);
        },
      },
      reset: (state) => {
        state.applied = [];
      },
      setup: () => {
        if (failSetup) throw new Error('setup failed');
      },
    });
    let failSetup = false;
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [projection] });
    await runner.catchUp();
    const before = structuredClone(projectionStore.state);
    const checkpoint = await projectionStore.loadCheckpoint('carts');
    failSetup = true;
    await expect(runner.rebuild('carts')).rejects.toThrow('setup failed');
    expect(projectionStore.state).toEqual(before);
    expect(await projectionStore.loadCheckpoint('carts')).toEqual(checkpoint);
    expect((await runner.status('carts')).lastError?.message).toContain('setup failed');
  });

  it('a rebuild whose lease was taken over before its reset keeps the read model, checkpoint and dead letters', async () => {
    const eventStore = newEventStore();
    let clock = 1_000_000;
    const projectionStore = new InMemoryProjectionStore({
      initialState: emptyCartState(),
      leaseTtlMs: 1000,
      now: () => clock,
    });
    const ids = await seedCarts(eventStore, 3);
    let poisoned = true;
    let rival: ProjectionLease | undefined;
    const projection = cartProjection({
      beforeHandler: (event) => {
        if (poisoned && event.eventId === ids[2]) throw new Error('poison');
      },
    });
    // After the rebuild took the lease and before its unit of work (it counts the events then),
    // it stalls past the lease's TTL and another runner takes the lease over.
    let armed = false;
    const countAfter = eventStore.countAfter.bind(eventStore);
    eventStore.countAfter = async (...args) => {
      if (armed) {
        armed = false;
        clock += 5000;
        rival = await projectionStore.tryAcquireLease('carts', 'rival');
      }
      return countAfter(...args);
    };
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [projection],
      retryDelayMs: 1,
      maxRetryAttempts: 0,
    });
    await runner.catchUp();
    poisoned = false;
    const before = structuredClone(projectionStore.state);
    const checkpoint = await projectionStore.loadCheckpoint('carts');
    armed = true;
    const error = await runner.rebuild('carts').catch((caught: unknown) => caught);
    expect(rival).toBeDefined();
    expect(isAnnalsError(error, ErrorCode.Projection)).toBe(true);
    expect((error as Error).message).toContain('lost its lease');
    expect(projectionStore.state).toEqual(before);
    expect(await projectionStore.loadCheckpoint('carts')).toEqual(checkpoint);
    expect(await projectionStore.countDeadLetters('carts')).toBe(1);
    await rival?.release();
  });

  it('refuses to rebuild without a reset hook, while started, or while another runner holds the lease', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const noReset = defineProjection<CartState>()({ name: 'no-reset', events: cartEvents, handlers: {} });
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection(), noReset],
    });
    const errors = [
      await runner.rebuild('no-reset').catch((caught: unknown) => caught),
      await (async () => {
        runner.start();
        try {
          return await runner.rebuild('carts').catch((caught: unknown) => caught);
        } finally {
          await runner.stop();
        }
      })(),
      await (async () => {
        const held = await projectionStore.tryAcquireLease('carts', 'elsewhere');
        try {
          return await runner.rebuild('carts').catch((caught: unknown) => caught);
        } finally {
          await held?.release();
        }
      })(),
    ];
    expect(errors.every((error: unknown) => isAnnalsError(error, ErrorCode.Projection))).toBe(true);
    expect(errors.map((error) => (error as Error).message)).toEqual([
      expect.stringContaining('no `reset` hook'),
      expect.stringContaining('stop the runner'),
      expect.stringContaining('another runner holds its lease'),
    ]);
  });
});
