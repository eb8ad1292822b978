import { ErrorCode, InMemoryProjectionStore, isAnnalsError, LOG_START } from 'annals';
import { describeProjectionStoreContract } from 'annals/testing';
import { describe, expect, it } from 'vitest';

interface MarkerState {
  markers: string[];
}

describeProjectionStoreContract<MarkerState>('InMemoryProjectionStore', {
  createStore: () => new InMemoryProjectionStore<MarkerState>({ initialState: { markers: [] } }),
  writeMarker: (state, marker) => {
    state.markers.push(marker);
  },
  readMarkers: (store) => (store as InMemoryProjectionStore<MarkerState>).state.markers,
});

describe('InMemoryProjectionStore', () => {
  it('ends a lease that is not renewed within leaseTtlMs', async () => {
    let now = 1_000;
    const store = new InMemoryProjectionStore({ initialState: {}, leaseTtlMs: 100, now: () => now });
    const first = await store.tryAcquireLease('p', 'a');
    now += 60;
    expect(await first!.renew()).toBe(true);
    now += 60;
    expect(await store.tryAcquireLease('p', 'b')).toBeUndefined();
    now += 41;
    const second = await store.tryAcquireLease('p', 'b');
    expect(second?.owner).toBe('b');
    expect(await first!.renew()).toBe(false);
    await first!.release();
    expect(await second!.renew()).toBe(true);
  });

  it('hands each unit of work a copy, and keeps the committed state until commit', async () => {
    const store = new InMemoryProjectionStore({ initialState: { rows: new Map<string, number>() } });
    let inside: Map<string, number> | undefined;
    await store.transaction(async (transaction) => {
      transaction.context.rows.set('a', 1);
      inside = transaction.context.rows;
      expect(store.state.rows.has('a')).toBe(false);
    });
    expect(store.state.rows.get('a')).toBe(1);
    expect(store.state.rows).toBe(inside);
  });

  it('runs units of work one at a time', async () => {
    const store = new InMemoryProjectionStore({ initialState: { count: 0 } });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (transaction) => {
          const read = transaction.context.count;
          await new Promise((resolve) => setTimeout(resolve, 1));
          transaction.context.count = read + 1;
        }),
      ),
    );
    expect(store.state.count).toBe(20);
  });

  it('refuses a transaction object used after its unit of work ended', async () => {
    const store = new InMemoryProjectionStore({ initialState: {} });
    const leaked = await store.transaction(async (transaction) => transaction);
    const error = await leaked.resetCheckpoint('p').catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect((await store.loadCheckpoint('p')).position).toEqual(LOG_START);
  });

  it('validates its options', () => {
    expect(() => new InMemoryProjectionStore({ initialState: {}, leaseTtlMs: 0 })).toThrow(/leaseTtlMs/);
    expect(() => new (InMemoryProjectionStore as any)({})).toThrow(/initialState/);
  });
});
