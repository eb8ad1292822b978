import { InMemorySnapshotStore, isInvalidArgumentError, type Snapshot } from 'annals';
import { describe, expect, it } from 'vitest';
import { SnapshotWallet } from './snapshot-wallet.js';

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  aggregateId: 'w-1',
  aggregateType: 'Wallet',
  version: 3,
  schemaVersion: 1,
  state: { owner: 'ada', balance: 2 },
  createdAt: new Date(Date.UTC(2026, 0, 1)),
  ...overrides,
});

describe('InMemorySnapshotStore', () => {
  it('keeps one snapshot per aggregate, replaced by each save, as a copy', async () => {
    const store = new InMemorySnapshotStore();
    const state = { owner: 'ada', balance: 2 };
    await store.save(snapshot({ state }));
    state.balance = 99; // the saved snapshot must not change with the aggregate
    expect(await store.load('w-1')).toEqual(snapshot());
    const loaded = await store.load('w-1');
    (loaded?.state as { balance: number }).balance = 7;
    expect((await store.load('w-1'))?.state).toEqual({ owner: 'ada', balance: 2 });

    await store.save(snapshot({ version: 2, state: { owner: 'ada', balance: 1 } }));
    expect((await store.load('w-1'))?.version).toBe(2);
    expect(await store.load('w-2')).toBeUndefined();
    await store.delete('w-1');
    expect(await store.load('w-1')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('rejects malformed snapshots and states that are not JSON, keeping the previous one', async () => {
    const store = new InMemorySnapshotStore();
    await store.save(snapshot());
    for (const bad of [
      snapshot({ version: 0 }),
      snapshot({ schemaVersion: 1.5 }),
      snapshot({ aggregateId: '' }),
      snapshot({ aggregateType: '' }),
      snapshot({ createdAt: new Date(Number.NaN) }),
      snapshot({ state: { big: 1n } }),
      snapshot({ state: undefined }),
    ]) {
      await expect(store.save(bad)).rejects.toSatisfy(isInvalidArgumentError);
    }
    expect(await store.load('w-1')).toEqual(snapshot());
  });
});

describe('SnapshotAggregateRoot', () => {
  it('takes a snapshot at its persisted version and restores a fresh aggregate from it', () => {
    const wallet = new SnapshotWallet('w-1');
    wallet.open('ada');
    wallet.deposit(5);
    expect(() => wallet.takeSnapshot()).toThrow(/uncommitted/);
    wallet.markCommitted(2);
    const taken = wallet.takeSnapshot(new Date(0));
    expect(taken).toEqual({
      aggregateId: 'w-1',
      aggregateType: 'Wallet',
      version: 2,
      schemaVersion: 1,
      state: { owner: 'ada', balance: 5 },
      createdAt: new Date(0),
    });
    const restored = new SnapshotWallet('w-1').restoreFromSnapshot(taken);
    expect(restored).toMatchObject({
      owner: 'ada',
      balance: 5,
      version: 2,
      persistedVersion: 2,
      exists: true,
    });
    restored.deposit(1);
    expect(restored.uncommittedEvents[0]?.version).toBe(3);
  });

  it('refuses to snapshot an empty aggregate and to restore into a used one or with a bad version', () => {
    expect(() => new SnapshotWallet('w-0').takeSnapshot()).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    const used = new SnapshotWallet('w-1');
    used.open('ada');
    expect(() => used.restoreFromSnapshot({ version: 1, state: { owner: 'a', balance: 0 } })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    expect(() => new SnapshotWallet('w-2').restoreFromSnapshot({ version: 0, state: {} })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    expect(() => new SnapshotWallet('w-3').restoreFromSnapshot({ version: 1, state: { owner: '' } })).toThrow(
      /fails its schema/,
    );
  });
});
