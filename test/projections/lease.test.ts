import {
  compareLogPositions,
  ErrorCode,
  InMemoryProjectionStore,
  isAnnalsError,
  type ProjectionLease,
  ProjectionRunner,
} from 'annals';
import { describe, expect, it } from 'vitest';
import {
  cartProjection,
  emptyCartState,
  eventually,
  logEventIds,
  newEventStore,
  newProjectionStore,
  seedCarts,
  wrapStore,
} from './fixtures.js';
import { observeStore } from './observed-store.js';

/** A cart projection that records which runner applied each event. */
function tracked(label: string, appliedBy: Map<string, string[]>) {
  return cartProjection({
    beforeHandler: (event) => {
      appliedBy.set(event.eventId, [...(appliedBy.get(event.eventId) ?? []), label]);
    },
  });
}

describe('one active runner per projection', () => {
  it('lets only the lease holder process; the other takes over when it stops', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    const appliedBy = new Map<string, string[]>();
    const options = { eventStore, projectionStore, leaseRetryMs: 10, pollIntervalMs: 20 };
    const first = new ProjectionRunner({
      ...options,
      projections: [tracked('first', appliedBy)],
      owner: 'first',
    });
    const second = new ProjectionRunner({
      ...options,
      projections: [tracked('second', appliedBy)],
      owner: 'second',
    });
    first.start();
    await eventually(async () => (await first.status('carts')).state === 'running');
    second.start();
    await eventually(async () => (await second.status('carts')).state === 'waiting-for-lease');

    const before = await seedCarts(eventStore, 10, 'before');
    await first.catchUp();
    await second.catchUp(); // a waiting runner's catchUp() follows the stored checkpoint
    expect(before.map((id) => appliedBy.get(id))).toEqual(before.map(() => ['first']));
    expect((await second.status('carts')).state).toBe('waiting-for-lease');

    await first.stop();
    await eventually(async () => (await second.status('carts')).state === 'running');
    const after = await seedCarts(eventStore, 10, 'after');
    await second.catchUp();
    expect(after.map((id) => appliedBy.get(id))).toEqual(after.map(() => ['second']));
    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore));
    await second.stop();
  });

  it('takes over from a holder that died, once its lease expired', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore({ leaseTtlMs: 50 });
    const ids = await seedCarts(eventStore, 5);
    const dead = await projectionStore.tryAcquireLease('carts', 'crashed-process');
    expect(dead).toBeDefined(); // never renewed nor released: its process "died"
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [cartProjection()],
      leaseRetryMs: 10,
      leaseRenewMs: 10,
    });
    runner.start();
    expect((await runner.status('carts')).state).not.toBe('running');
    await eventually(() => projectionStore.state.applied.length === ids.length);
    expect(projectionStore.state.applied).toEqual(ids);
    expect((await runner.status('carts')).state).toBe('running');
    expect(await dead!.renew()).toBe(false);
    await runner.stop();
  });

  it('stops processing when its lease is lost', async () => {
    const eventStore = newEventStore();
    let failRenewals = false;
    const projectionStore = newProjectionStore();
    const renewals: boolean[] = [];
    let leases = 0;
    const store = wrapStore(projectionStore, {
      tryAcquireLease: async (projection, owner) => {
        const lease = await projectionStore.tryAcquireLease(projection, owner);
        if (!lease) return undefined;
        leases++;
        const fragile: ProjectionLease = {
          ...lease,
          renew: async () => {
            const held = !failRenewals && (await lease.renew());
            renewals.push(held);
            return held;
          },
          release: () => lease.release(),
        };
        return fragile;
      },
    });
    const errors: string[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: store,
      projections: [cartProjection()],
      leaseRenewMs: 5,
      leaseRetryMs: 5,
      onError: (error) => errors.push(error.message),
    });
    runner.start();
    await eventually(() => renewals.length > 0);
    failRenewals = true;
    await eventually(() => errors.some((message) => message.includes('lost its lease')));
    await eventually(() => leases >= 2); // it let go of the lease and took it again
    await seedCarts(eventStore, 2);
    failRenewals = false;
    await runner.catchUp();
    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore));
    await runner.stop();
  });

  it('never applies an event twice even when two runners overlap (broken leases)', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    // Leases that are never exclusive: the checkpoint's compare-and-set must keep effects exact.
    const store = wrapStore(projectionStore, {
      tryAcquireLease: async (projection, owner) => ({
        projection,
        owner,
        renew: async () => true,
        release: async () => {},
      }),
    });
    const ids = await seedCarts(eventStore, 60); // 180 events
    const errors: string[] = [];
    const runners = ['a', 'b', 'c'].map(
      (owner) =>
        new ProjectionRunner({
          eventStore,
          projectionStore: store,
          projections: [cartProjection()],
          owner,
          batchSize: 3,
          retryDelayMs: 1,
          maxRetryDelayMs: 2,
          onError: (error) => errors.push(error.message),
        }),
    );
    for (const runner of runners) runner.start();
    await eventually(() => projectionStore.state.applied.length >= ids.length);
    await Promise.all(runners.map((runner) => runner.stop()));
    expect(projectionStore.state.applied).toEqual(ids);
    expect(errors.length).toBeGreaterThan(0); // they did overlap
    expect(errors.every((message) => message.includes('checkpoint moved'))).toBe(true);
  });

  it('refuses catchUp() while another runner holds the lease', async () => {
    const eventStore = newEventStore();
    const projectionStore = newProjectionStore();
    await seedCarts(eventStore, 1);
    const held = await projectionStore.tryAcquireLease('carts', 'other');
    const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [cartProjection()] });
    const error = await runner.catchUp().catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.Projection)).toBe(true);
    expect((error as Error).message).toContain('another runner holds its lease');
    expect(projectionStore.state.applied).toEqual([]);
    await held!.release();
    await runner.catchUp();
    expect(projectionStore.state.applied).toHaveLength(3);
  });

  it('a runner whose lease expired mid-catch-up commits no batch after the new holder took it; the new holder never yields', async () => {
    const eventStore = newEventStore();
    let offsetMs = 0; // moves the store's clock, so that leases expire on demand
    const projectionStore = new InMemoryProjectionStore({
      initialState: emptyCartState(),
      leaseTtlMs: 1000,
      now: () => Date.now() + offsetMs,
    });
    const ids = await seedCarts(eventStore, 100); // 300 events
    const runner = (label: string, leaseRenewMs: number, pauseMs: number) => {
      const observed = observeStore(projectionStore, { pauseMs });
      const errors: string[] = [];
      const runner = new ProjectionRunner({
        eventStore,
        projectionStore: observed.store,
        projections: [cartProjection()],
        owner: label,
        batchSize: 5,
        leaseRetryMs: 5,
        leaseRenewMs,
        pollIntervalMs: 10,
        retryDelayMs: 1,
        onError: (error) => errors.push(error.message),
      });
      return { runner, observed, errors };
    };
    // a never renews in this test and is slow: its lease runs out while it is catching up.
    const a = runner('a', 60_000, 5);
    const b = runner('b', 5, 0);
    a.runner.start();
    await eventually(() => a.observed.commits.length >= 3);
    b.runner.start();
    await eventually(async () => (await b.runner.status('carts')).state === 'waiting-for-lease');
    offsetMs += 2000; // a's lease expires
    await eventually(() => projectionStore.state.applied.length === ids.length);

    expect(projectionStore.state.applied).toEqual(await logEventIds(eventStore)); // exactly once
    // The new holder took the lease once, was never refused a save, and kept the lease.
    expect(b.observed.leases).toHaveLength(1);
    expect(b.observed.refused()).toBe(0);
    expect(b.errors).toEqual([]);
    // The old runner committed nothing past where the new holder started...
    const from = b.observed.startedFrom[0]!.position;
    expect(a.observed.commits.filter((position) => compareLogPositions(position, from) > 0)).toEqual([]);
    expect(b.observed.leases[0]!.fence! > a.observed.leases[0]!.fence!).toBe(true);
    // ...and learnt from its first refused save that the lease is gone, without a renewal.
    await eventually(async () => (await a.runner.status('carts')).state === 'waiting-for-lease');
    expect(a.observed.refused()).toBeGreaterThan(0);
    expect(a.errors.some((message) => message.includes('checkpoint moved'))).toBe(true);
    await Promise.all([a.runner.stop(), b.runner.stop()]);
  });
});
