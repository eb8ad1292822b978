import { InMemorySnapshotStore } from 'annals';
import { describeSnapshotStoreContract } from 'annals/testing';
import { describe, expect, it } from 'vitest';
import { SnapshotWallet } from './snapshot-wallet.js';

describeSnapshotStoreContract('InMemorySnapshotStore', { createStore: () => new InMemorySnapshotStore() });

describe('InMemorySnapshotStore', () => {
  it('counts what it holds', async () => {
    const store = new InMemorySnapshotStore();
    await store.save({
      aggregateId: 'w-1',
      aggregateType: 'Wallet',
      version: 1,
      schemaVersion: 1,
      state: {},
      createdAt: new Date(),
    });
    expect(store.size).toBe(1);
    await store.delete('w-1');
    expect(store.size).toBe(0);
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
    expect(() => new SnapshotWallet('w-3').restoreFromSnapshot({ version: 1, state: { owner: '' } })).toThrow(
      expect.objectContaining({ code: 'ANNALS_CORRUPT_DATA' }),
    );
  });
});
