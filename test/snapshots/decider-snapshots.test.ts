import {
  createEvent,
  DeciderRepository,
  defineDecider,
  everyNEvents,
  InMemoryCommandLog,
  InMemorySnapshotStore,
  type RepositoryWarning,
  type SnapshotStore,
} from 'annals';
import { beforeEach, describe, expect, it } from 'vitest';
import { WalletState } from './snapshot-wallet.js';
import { MoneyDeposited, spyingStore, WalletOpened } from './wallet.js';
import { walletDecider, walletDeciderStats } from './wallet-decider.js';

function setup(options: { every?: number; snapshots?: SnapshotStore; schemaVersion?: number } = {}) {
  const spy = spyingStore();
  const snapshots = options.snapshots ?? new InMemorySnapshotStore();
  const warnings: RepositoryWarning[] = [];
  const wallets = new DeciderRepository(spy.store, {
    decider: walletDecider,
    snapshots: {
      store: snapshots,
      policy: everyNEvents(options.every ?? 3),
      schemaVersion: options.schemaVersion,
      schema: WalletState,
    },
    onWarning: (warning) => warnings.push(warning),
  });
  return { spy, snapshots, wallets, warnings };
}

/** Opens a wallet and makes `deposits` deposits of 1, one command each. */
async function history(wallets: ReturnType<typeof setup>['wallets'], id: string, deposits: number) {
  await wallets.execute(id, { type: 'open', owner: 'ada' });
  for (let index = 0; index < deposits; index++) await wallets.execute(id, { type: 'deposit', amount: 1 });
}

beforeEach(() => {
  walletDeciderStats.evolved = 0;
});

describe('DeciderRepository with snapshots', () => {
  it('snapshots the state every N events and loads from it plus only the later events', async () => {
    const { spy, snapshots, wallets, warnings } = setup({ every: 3 });
    await history(wallets, 'w-1', 4); // versions 1..5; snapshot taken at version 3
    expect(await snapshots.load('w-1')).toMatchObject({
      aggregateId: 'w-1',
      aggregateType: 'Wallet',
      version: 3,
      schemaVersion: 1,
      state: { owner: 'ada', balance: 2 },
    });

    spy.loads.length = 0;
    walletDeciderStats.evolved = 0;
    const wallet = await wallets.load('w-1');
    expect(wallet.state).toEqual({ owner: 'ada', balance: 4 });
    expect(wallet).toMatchObject({ version: 5, persistedVersion: 5 });
    expect(walletDeciderStats.evolved).toBe(2); // only the two events after the snapshot
    expect(spy.loads).toEqual([{ aggregateId: 'w-1', options: { fromVersion: 4 } }]);
    expect(warnings).toEqual([]);

    // Commands run on the restored state.
    const result = await wallets.execute('w-1', { type: 'withdraw', amount: 4 });
    expect(result).toMatchObject({ version: 6, state: { balance: 0 } });
    expect((await snapshots.load('w-1'))?.version).toBe(6);
  });

  it('a snapshot of another schemaVersion is ignored (full replay, no warning); the next one is written at the new version', async () => {
    const { spy, snapshots, wallets } = setup({ every: 3 });
    await history(wallets, 'w-2', 4);
    const warnings: RepositoryWarning[] = [];
    const v2 = new DeciderRepository(spy.store, {
      decider: walletDecider,
      snapshots: { store: snapshots, policy: everyNEvents(3), schemaVersion: 2 },
      onWarning: (warning) => warnings.push(warning),
    });
    spy.loads.length = 0;
    expect((await v2.load('w-2')).state.balance).toBe(4);
    expect(spy.loads).toEqual([{ aggregateId: 'w-2', options: undefined }]);
    await v2.execute('w-2', { type: 'deposit', amount: 1 });
    expect(await snapshots.load('w-2')).toMatchObject({ version: 6, schemaVersion: 2 });
    expect(warnings).toEqual([]);
  });

  it('a stored state that fails the schema falls back to a full replay with a warning', async () => {
    const { spy, snapshots, wallets } = setup({ every: 100 });
    await history(wallets, 'w-3', 3);
    await snapshots.save({
      aggregateId: 'w-3',
      aggregateType: 'Wallet',
      version: 2,
      schemaVersion: 1,
      state: { owner: 42, balance: 'lots' },
      createdAt: new Date(),
    });
    const warnings: RepositoryWarning[] = [];
    const wallet = await new DeciderRepository(spy.store, {
      decider: walletDecider,
      snapshots: { store: snapshots, schema: WalletState },
      onWarning: (warning) => warnings.push(warning),
    }).load('w-3');
    expect(wallet.state).toEqual({ owner: 'ada', balance: 3 });
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_corrupt']);
  });

  it('toSnapshot and fromSnapshot store a state that is not JSON (a Set)', async () => {
    const tags = defineDecider({
      aggregateType: 'Tags',
      events: [WalletOpened, MoneyDeposited],
      initialState: () => ({ owner: '', tags: new Set<string>() }),
      evolve: (state, event) =>
        event.type === 'WalletOpened'
          ? { ...state, owner: event.payload.owner }
          : { ...state, tags: new Set([...state.tags, `+${event.payload.amount}`]) },
      decide: (command: { owner?: string; amount?: number }) =>
        command.owner
          ? createEvent(WalletOpened, { owner: command.owner })
          : createEvent(MoneyDeposited, { amount: command.amount ?? 1 }),
    });
    const spy = spyingStore();
    const snapshots = new InMemorySnapshotStore();
    const repository = new DeciderRepository(spy.store, {
      decider: tags,
      snapshots: {
        store: snapshots,
        policy: everyNEvents(2),
        toSnapshot: (state) => ({ owner: state.owner, tags: [...state.tags] }),
        fromSnapshot: (snapshot) => ({ owner: snapshot.owner, tags: new Set(snapshot.tags) }),
      },
      onWarning: (warning) => {
        throw new Error(warning.message);
      },
    });
    await repository.execute('t-1', { owner: 'ada' });
    await repository.execute('t-1', { amount: 1 });
    await repository.execute('t-1', { amount: 2 });
    expect(await snapshots.load('t-1')).toMatchObject({ version: 2, state: { owner: 'ada', tags: ['+1'] } });
    const loaded = await repository.load('t-1');
    expect(loaded.state.tags).toEqual(new Set(['+1', '+2']));
    expect(spy.loads.at(-1)).toEqual({ aggregateId: 't-1', options: { fromVersion: 3 } });
  });

  it('a de-duplicated command loads from the snapshot, and a repeat appends nothing', async () => {
    const spy = spyingStore();
    const snapshots = new InMemorySnapshotStore();
    const wallets = new DeciderRepository(spy.store, {
      decider: walletDecider,
      commands: new InMemoryCommandLog({ store: spy.store }),
      snapshots: { store: snapshots, policy: everyNEvents(2) },
    });
    const withId = (commandId: string) => ({ metadata: { commandId } });
    await wallets.execute('w-4', { type: 'open', owner: 'ada' }, withId('c-1'));
    await wallets.execute('w-4', { type: 'deposit', amount: 1 }, withId('c-2'));
    expect((await snapshots.load('w-4'))?.version).toBe(2);
    spy.loads.length = 0;
    await wallets.execute('w-4', { type: 'deposit', amount: 1 }, withId('c-3'));
    const again = await wallets.execute('w-4', { type: 'deposit', amount: 1 }, withId('c-3'));
    expect(spy.loads[0]).toEqual({ aggregateId: 'w-4', options: { fromVersion: 3 } });
    expect(again).toMatchObject({ duplicate: true, version: 3, state: { balance: 2 } });
    expect(await spy.store.streamVersion('w-4')).toBe(3);
  });
});
