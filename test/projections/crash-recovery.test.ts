import { ProjectionRunner, type ProjectionStore } from 'annals';
import { describe, expect, it } from 'vitest';
import {
  type CartState,
  cartProjection,
  eventually,
  logEventIds,
  newEventStore,
  newProjectionStore,
  random,
  seedCarts,
  wrapStore,
} from './fixtures.js';

type CrashPoint = 'before-commit' | 'after-commit';

/**
 * A projection store that "crashes" around commits: after the handlers ran and the checkpoint was
 * written in the unit of work but before it commits (the unit is rolled back), or after it
 * committed but before the runner hears of it.
 */
function crashingStore(inner: ProjectionStore<CartState>, points: readonly CrashPoint[], seed: number) {
  const next = random(seed);
  const crashes: Record<CrashPoint, number> = { 'before-commit': 0, 'after-commit': 0 };
  const crash = (point: CrashPoint) => {
    if (!points.includes(point) || next() > 0.3) return;
    crashes[point]++;
    throw new Error(`simulated crash ${point}`);
  };
  const store = wrapStore(inner, {
    transaction: async (work) => {
      const result = await inner.transaction(async (transaction) => {
        const value = await work(transaction);
        crash('before-commit');
        return value;
      });
      crash('after-commit');
      return result;
    },
  });
  return { store, crashes };
}

describe('crashes between the handlers and the checkpoint', () => {
  for (const points of [['before-commit'], ['after-commit'], ['before-commit', 'after-commit']] as const) {
    it(`applies every event exactly once across restarts (${points.join(' + ')})`, async () => {
      const eventStore = newEventStore();
      const memory = newProjectionStore();
      const ids = await seedCarts(eventStore, 40); // 120 events
      const poison = ids[50]!;
      const { store, crashes } = crashingStore(memory, points, 42);
      let restarts = 0;
      // Each failed catch-up is a process that died; the next loop turn is its restart.
      for (;;) {
        const runner = new ProjectionRunner({
          eventStore,
          projectionStore: store,
          projections: [
            cartProjection({
              beforeHandler: (event) => {
                if (event.eventId === poison) throw new Error('poison');
              },
            }),
          ],
          batchSize: 7,
          retryDelayMs: 1,
          maxRetryAttempts: 1,
        });
        try {
          await runner.catchUp();
          break;
        } catch (error) {
          expect((error as Error).message).toMatch(/simulated crash/);
          restarts++;
          expect(restarts).toBeLessThan(500);
        }
      }
      expect(restarts).toBeGreaterThan(0);
      for (const point of points) expect(crashes[point]).toBeGreaterThan(0);
      expect(memory.state.applied).toEqual(ids.filter((id) => id !== poison));
      const letters = await memory.listDeadLetters('carts');
      expect(letters.map((letter) => letter.event.eventId)).toEqual([poison]);
      expect((await memory.loadCheckpoint('carts')).position).toEqual((await eventStore.head()).position);
    });
  }

  it('a started runner recovers from crashes on its own, reloading its checkpoint', async () => {
    const eventStore = newEventStore();
    const memory = newProjectionStore();
    const ids = await seedCarts(eventStore, 30);
    const { store, crashes } = crashingStore(memory, ['before-commit', 'after-commit'], 7);
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: store,
      projections: [cartProjection()],
      batchSize: 5,
      retryDelayMs: 1,
      maxRetryDelayMs: 2,
    });
    runner.start();
    await eventually(() => memory.state.applied.length >= ids.length);
    await runner.stop();
    expect(crashes['before-commit'] + crashes['after-commit']).toBeGreaterThan(0);
    expect(memory.state.applied).toEqual(ids);
    expect(memory.state.applied).toEqual(await logEventIds(eventStore));
  });
});
