import {
  AggregateRepository,
  everyNEvents,
  InMemoryCommandLog,
  InMemorySnapshotStore,
  type RepositoryWarning,
  type Snapshot,
  type SnapshotStore,
} from 'annals';
import { beforeEach, describe, expect, it } from 'vitest';
import { SnapshotWallet } from './snapshot-wallet.js';
import { spyingStore, Wallet } from './wallet.js';

function setup(
  options: { every?: number; snapshots?: SnapshotStore; create?: (id: string) => SnapshotWallet } = {},
) {
  const spy = spyingStore();
  const snapshots = options.snapshots ?? new InMemorySnapshotStore();
  const warnings: RepositoryWarning[] = [];
  const wallets = new AggregateRepository(spy.store, {
    create: options.create ?? ((id) => new SnapshotWallet(id)),
    snapshots: { store: snapshots, policy: everyNEvents(options.every ?? 3) },
    onWarning: (warning) => warnings.push(warning),
  });
  return { spy, snapshots, wallets, warnings };
}

/** Opens a wallet and makes `deposits` deposits of 1, one command each. */
async function history(wallets: AggregateRepository<SnapshotWallet>, id: string, deposits: number) {
  await wallets.execute(id, (wallet) => wallet.open('ada'));
  for (let index = 0; index < deposits; index++) await wallets.execute(id, (wallet) => wallet.deposit(1));
}

/** A snapshot store that hands out a fixed snapshot and records saves. */
function fixedSnapshotStore(snapshot: Snapshot | undefined | (() => never)) {
  const saved: Snapshot[] = [];
  const store: SnapshotStore = {
    load: async () => (typeof snapshot === 'function' ? snapshot() : snapshot),
    save: async (value) => {
      saved.push(value);
    },
    delete: async () => {},
  };
  return { store, saved };
}

beforeEach(() => {
  SnapshotWallet.restores = 0;
});

describe('AggregateRepository with snapshots', () => {
  it('takes a snapshot every N events and loads from it plus only the later events', async () => {
    const { spy, snapshots, wallets, warnings } = setup({ every: 3 });
    await history(wallets, 'w-1', 4); // versions 1..5; snapshot taken at version 3
    const snapshot = await snapshots.load('w-1');
    expect(snapshot).toMatchObject({
      aggregateId: 'w-1',
      aggregateType: 'Wallet',
      version: 3,
      schemaVersion: 1,
    });
    expect(snapshot?.state).toEqual({ owner: 'ada', balance: 2 });

    spy.loads.length = 0;
    SnapshotWallet.restores = 0;
    const wallet = await wallets.load('w-1');
    expect(wallet.balance).toBe(4);
    expect(wallet.version).toBe(5);
    expect(SnapshotWallet.restores).toBe(1);
    expect(spy.loads).toEqual([{ aggregateId: 'w-1', options: { fromVersion: 4 } }]);
    expect(warnings).toEqual([]);
  });

  it('policy: the next snapshot comes N events after the previous one', async () => {
    const { snapshots, wallets } = setup({ every: 3 });
    await history(wallets, 'w-2', 5); // versions 1..6: snapshots at 3 and 6
    expect((await snapshots.load('w-2'))?.version).toBe(6);
    await wallets.execute('w-2', (wallet) => wallet.deposit(1)); // 7: no snapshot yet
    expect((await snapshots.load('w-2'))?.version).toBe(6);
    const wallet = await wallets.load('w-2');
    expect(wallet.balance).toBe(6);
    // A multi-event command that jumps past a multiple still counts events since the last snapshot.
    await wallets.execute('w-2', (loaded) => {
      loaded.deposit(1);
      loaded.deposit(1);
    });
    expect((await snapshots.load('w-2'))?.version).toBe(9);
  });

  it('everyNEvents counts from the last snapshot version', () => {
    const policy = everyNEvents(10);
    const context = { aggregateId: 'a', aggregateType: 'A', eventsAppended: 1 };
    expect(policy({ ...context, version: 9, lastSnapshotVersion: 0 })).toBe(false);
    expect(policy({ ...context, version: 10, lastSnapshotVersion: 0 })).toBe(true);
    expect(policy({ ...context, version: 19, lastSnapshotVersion: 10 })).toBe(false);
    expect(policy({ ...context, version: 25, lastSnapshotVersion: 10 })).toBe(true);
    expect(() => everyNEvents(0)).toThrow(expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }));
  });

  it('a snapshot at the head of the stream loads with no events after it', async () => {
    const { spy, wallets } = setup({ every: 3 });
    await history(wallets, 'w-3', 2); // versions 1..3; snapshot at 3
    spy.loads.length = 0;
    const wallet = await wallets.load('w-3');
    expect(wallet).toMatchObject({ balance: 2, version: 3, persistedVersion: 3 });
    expect(spy.loads).toEqual([{ aggregateId: 'w-3', options: { fromVersion: 4 } }]);
  });

  it('a snapshot of another snapshot schema version is ignored: full replay, no warning', async () => {
    const { spy, snapshots, wallets, warnings } = setup({ every: 3 });
    await history(wallets, 'w-4', 4);
    expect((await snapshots.load('w-4'))?.schemaVersion).toBe(1);
    SnapshotWallet.restores = 0;
    const wallet = await new AggregateRepository(spy.store, {
      create: (id) => Object.assign(new SnapshotWallet(id), { snapshotSchemaVersion: 2 }),
      snapshots: { store: snapshots, policy: everyNEvents(3) },
      onWarning: (warning) => warnings.push(warning),
    }).load('w-4');
    expect(wallet.balance).toBe(4);
    expect(SnapshotWallet.restores).toBe(0);
    expect(spy.loads.at(-1)).toEqual({ aggregateId: 'w-4', options: undefined });
    expect(warnings).toEqual([]);
  });

  it('after an ignored snapshot, the next save writes one at the new schema version', async () => {
    const { spy, snapshots, wallets } = setup({ every: 3 });
    await history(wallets, 'w-5', 4); // snapshot v1 at version 3
    const v2 = new AggregateRepository(spy.store, {
      create: (id) => Object.assign(new SnapshotWallet(id), { snapshotSchemaVersion: 2 }),
      snapshots: { store: snapshots, policy: everyNEvents(3) },
    });
    await v2.execute('w-5', (wallet) => wallet.deposit(1)); // version 6, 6 - 0 >= 3
    expect(await snapshots.load('w-5')).toMatchObject({ version: 6, schemaVersion: 2 });
  });

  it('a corrupt snapshot (state fails its schema) falls back to a full replay with a warning', async () => {
    const { spy, wallets } = setup({ every: 100 });
    await history(wallets, 'w-6', 3);
    const corrupt = fixedSnapshotStore({
      aggregateId: 'w-6',
      aggregateType: 'Wallet',
      version: 2,
      schemaVersion: 1,
      state: { owner: 42, balance: 'lots' },
      createdAt: new Date(),
    });
    const warnings: RepositoryWarning[] = [];
    const wallet = await new AggregateRepository(spy.store, {
      create: (id) => new SnapshotWallet(id),
      snapshots: { store: corrupt.store },
      onWarning: (warning) => warnings.push(warning),
    }).load('w-6');
    expect(wallet).toMatchObject({ owner: 'ada', balance: 3, version: 4 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'snapshot_corrupt', aggregateId: 'w-6' });
    expect(warnings[0]?.message).toContain('owner');
    expect(warnings[0]?.error).toMatchObject({ code: 'ANNALS_CORRUPT_DATA' });
  });

  it('a snapshot whose restore throws falls back to a full replay with a warning', async () => {
    const { spy, snapshots, wallets } = setup({ every: 3 });
    await history(wallets, 'w-7', 4);
    class BrokenRestore extends SnapshotWallet {
      protected override fromSnapshot(): void {
        this.balance = 1_000_000; // half-restored state must never leak out
        throw new TypeError('cannot read balance');
      }
    }
    const warnings: RepositoryWarning[] = [];
    const wallet = await new AggregateRepository(spy.store, {
      create: (id) => new BrokenRestore(id),
      snapshots: { store: snapshots },
      onWarning: (warning) => warnings.push(warning),
    }).load('w-7');
    expect(wallet.balance).toBe(4);
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_corrupt']);
    expect(warnings[0]?.error).toBeInstanceOf(TypeError);
  });

  it('a snapshot ahead of its stream, or of another aggregate, is corrupt: full replay', async () => {
    const { spy, wallets } = setup({ every: 100 });
    await history(wallets, 'w-8', 1); // version 2
    const base = { aggregateType: 'Wallet', schemaVersion: 1, createdAt: new Date() };
    for (const snapshot of [
      { ...base, aggregateId: 'w-8', version: 9, state: { owner: 'ada', balance: 999 } },
      { ...base, aggregateId: 'other', version: 1, state: { owner: 'eve', balance: 5 } },
    ]) {
      const warnings: RepositoryWarning[] = [];
      const wallet = await new AggregateRepository(spy.store, {
        create: (id) => new SnapshotWallet(id),
        snapshots: { store: fixedSnapshotStore(snapshot).store },
        onWarning: (warning) => warnings.push(warning),
      }).load('w-8');
      expect(wallet).toMatchObject({ owner: 'ada', balance: 1, version: 2 });
      expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_corrupt']);
    }
  });

  it('a snapshot store that fails to load: full replay with a warning', async () => {
    const { spy, wallets } = setup({ every: 100 });
    await history(wallets, 'w-9', 2);
    const failing = fixedSnapshotStore(() => {
      throw new Error('snapshot table missing');
    });
    const warnings: RepositoryWarning[] = [];
    const wallet = await new AggregateRepository(spy.store, {
      create: (id) => new SnapshotWallet(id),
      snapshots: { store: failing.store },
      onWarning: (warning) => warnings.push(warning),
    }).load('w-9');
    expect(wallet.balance).toBe(2);
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_load_failed']);
  });

  it('a failure to save a snapshot never fails the command', async () => {
    const spy = spyingStore();
    const warnings: RepositoryWarning[] = [];
    const wallets = new AggregateRepository(spy.store, {
      create: (id) => new SnapshotWallet(id),
      snapshots: {
        store: {
          load: async () => undefined,
          save: async () => {
            throw new Error('disk full');
          },
          delete: async () => {},
        },
        policy: everyNEvents(1),
      },
      onWarning: (warning) => warnings.push(warning),
    });
    const result = await wallets.execute('w-10', (wallet) => {
      wallet.open('ada');
      wallet.deposit(3);
    });
    expect(result.version).toBe(2);
    expect(await spy.store.streamVersion('w-10')).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'snapshot_save_failed', aggregateId: 'w-10' });
  });

  it('a state that fails its schema on save is not saved; the command succeeds', async () => {
    const { snapshots, wallets, warnings } = setup({ every: 1 });
    await wallets.execute('w-11', (wallet) => {
      wallet.open('ada');
      wallet.balance = Number.NaN; // breaks the state behind the handlers' back
    });
    expect(await snapshots.load('w-11')).toBeUndefined();
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_save_failed']);
  });

  it('aggregates without snapshot support are always replayed, the snapshot store is not asked', async () => {
    const spy = spyingStore();
    let asked = 0;
    const wallets = new AggregateRepository(spy.store, {
      create: (id) => new Wallet(id),
      snapshots: {
        store: {
          load: async () => {
            asked++;
            return undefined;
          },
          save: async () => {
            asked++;
          },
          delete: async () => {},
        },
        policy: everyNEvents(1),
      },
    });
    await wallets.execute('w-12', (wallet) => wallet.open('ada'));
    expect((await wallets.load('w-12')).owner).toBe('ada');
    expect(asked).toBe(0);
  });
});

describe('snapshots and command de-duplication together', () => {
  it('a de-duplicated command loads from the snapshot and takes the next one', async () => {
    const spy = spyingStore();
    const snapshots = new InMemorySnapshotStore();
    const wallets = new AggregateRepository(spy.store, {
      create: (id) => new SnapshotWallet(id),
      commands: new InMemoryCommandLog({ store: spy.store }),
      snapshots: { store: snapshots, policy: everyNEvents(2) },
    });
    await wallets.execute('w-20', (wallet) => wallet.open('ada'), { metadata: { commandId: 'c-1' } });
    await wallets.execute('w-20', (wallet) => wallet.deposit(1), { metadata: { commandId: 'c-2' } });
    expect((await snapshots.load('w-20'))?.version).toBe(2);
    spy.loads.length = 0;
    await wallets.execute('w-20', (wallet) => wallet.deposit(1), { metadata: { commandId: 'c-3' } });
    await wallets.execute('w-20', (wallet) => wallet.deposit(1), { metadata: { commandId: 'c-3' } });
    expect(spy.loads[0]).toEqual({ aggregateId: 'w-20', options: { fromVersion: 3 } });
    expect(await spy.store.streamVersion('w-20')).toBe(3);
    await wallets.execute('w-20', (wallet) => wallet.deposit(1), { metadata: { commandId: 'c-4' } });
    expect((await snapshots.load('w-20'))?.version).toBe(4);
  });
});
