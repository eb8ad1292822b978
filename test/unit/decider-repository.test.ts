import {
  DeciderRepository,
  ErrorCode,
  type IEventStore,
  InMemoryCommandLog,
  InMemoryEventBus,
  InMemoryEventStore,
  isAnnalsError,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { accountDecider } from './account-decider.js';
import { accountRegistry } from './fixtures.js';

const retry = { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 2 };

const setup = (maxAttempts = 5) => {
  const store = new InMemoryEventStore({ registry: accountRegistry() });
  const bus = new InMemoryEventBus();
  const accounts = new DeciderRepository(store, {
    decider: accountDecider,
    bus,
    retry: { ...retry, maxAttempts },
  });
  return { store, bus, accounts };
};

/** A store whose next append to `aggregateId` is preceded by another writer's deposit. */
function racingStore(store: IEventStore, aggregateId: string, races = 1) {
  let left = races;
  const racing: IEventStore = {
    append: async (id, expectedVersion, events) => {
      if (id === aggregateId && left > 0) {
        left--;
        await store.append(id, 'any', [
          { type: 'Deposited', aggregateType: 'Account', payload: { amount: 4 } },
        ]);
      }
      return store.append(id, expectedVersion, events);
    },
    load: (id, options) => store.load(id, options),
    streamVersion: (id) => store.streamVersion(id),
    readAll: (options) => store.readAll(options),
    head: () => store.head(),
    countAfter: (position) => store.countAfter(position),
    onAppended: (listener) => store.onAppended(listener),
    close: () => store.close(),
  };
  return racing;
}

describe('DeciderRepository', () => {
  it('decides a command, appends its events and returns the state', async () => {
    const { store, accounts } = setup();
    const result = await accounts.execute('acc-1', { type: 'openWithDeposit', owner: 'ada', amount: 20 });
    expect(result).toMatchObject({
      state: { owner: 'ada', balance: 20, open: true },
      version: 2,
      attempts: 1,
      duplicate: false,
    });
    expect(result.events.map((event) => [event.type, event.version, typeof event.globalPosition])).toEqual([
      ['Opened', 1, 'bigint'],
      ['Deposited', 2, 'bigint'],
    ]);
    expect(await store.streamVersion('acc-1')).toBe(2);
    const loaded = await accounts.load('acc-1');
    expect(loaded).toMatchObject({ version: 2, exists: true, state: { balance: 20 } });
    expect((await accounts.load('acc-none')).state).toEqual(accountDecider.initialState());
  });

  it('copies command metadata into every event and publishes them to the bus', async () => {
    const { store, bus, accounts } = setup();
    const seen: StoredEvent[] = [];
    bus.subscribe('*', (event) => {
      seen.push(event);
    });
    await accounts.execute(
      'acc-2',
      { type: 'open', owner: 'bob' },
      { metadata: { commandId: 'cmd-1', correlationId: 'req-9' } },
    );
    const [opened] = await store.load('acc-2');
    expect(opened!.metadata).toEqual({ commandId: 'cmd-1', causationId: 'cmd-1', correlationId: 'req-9' });
    expect(seen.map((event) => event.type)).toEqual(['Opened']);
  });

  it('retries a concurrency conflict: decide runs again on the fresh state', async () => {
    const inner = new InMemoryEventStore({ registry: accountRegistry() });
    const seeding = new DeciderRepository(inner, { decider: accountDecider });
    await seeding.execute('acc-3', { type: 'openWithDeposit', owner: 'c', amount: 6 });
    let decisions = 0;
    const counting = {
      ...accountDecider,
      decide: (...args: Parameters<typeof accountDecider.decide>) => {
        decisions++;
        return accountDecider.decide(...args);
      },
    };
    const accounts = new DeciderRepository(racingStore(inner, 'acc-3'), { decider: counting, retry });
    // Another writer deposits 4 between our load and our append: the first append conflicts, the
    // second decision runs on the fresh state (6 + 4).
    const result = await accounts.execute('acc-3', { type: 'withdraw', amount: 6 });
    expect(decisions).toBe(2);
    expect(result).toMatchObject({ attempts: 2, version: 4, state: { balance: 4 } });
    expect((await inner.load('acc-3')).map((event) => event.type)).toEqual([
      'Opened',
      'Deposited',
      'Deposited',
      'Withdrawn',
    ]);
  });

  it('gives up after maxAttempts with the last ConcurrencyError', async () => {
    const inner = new InMemoryEventStore({ registry: accountRegistry() });
    await new DeciderRepository(inner, { decider: accountDecider }).execute('acc-4', {
      type: 'open',
      owner: 'd',
    });
    const accounts = new DeciderRepository(racingStore(inner, 'acc-4', 10), {
      decider: accountDecider,
      retry: { ...retry, maxAttempts: 3 },
    });
    const error = await accounts.execute('acc-4', { type: 'deposit', amount: 1 }).catch((e: unknown) => e);
    expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
    expect(await inner.streamVersion('acc-4')).toBe(4); // three racing deposits, none of ours
  });

  it('concurrent commands on one aggregate all land, serialised by retries', async () => {
    const { store, accounts } = setup(50);
    await accounts.execute('acc-5', { type: 'open', owner: 'e' });
    await Promise.all(
      Array.from({ length: 10 }, () => accounts.execute('acc-5', { type: 'deposit', amount: 1 })),
    );
    expect((await accounts.load('acc-5')).state.balance).toBe(10);
    expect(await store.streamVersion('acc-5')).toBe(11);
  });

  it('does not retry errors of decide and appends nothing; a decision of no events appends nothing', async () => {
    const { store, accounts } = setup();
    await accounts.execute('acc-6', { type: 'open', owner: 'f' });
    const error = await accounts.execute('acc-6', { type: 'withdraw', amount: 100 }).catch((e: unknown) => e);
    expect(isAnnalsError(error, ErrorCode.DomainRule)).toBe(true);
    const noop = await accounts.execute('acc-6', { type: 'noop' });
    expect(noop).toMatchObject({ events: [], version: 1, attempts: 1 });
    expect(await store.streamVersion('acc-6')).toBe(1);
  });

  it('de-duplicates commands by id with a command log: a repeat returns the first result, appends nothing', async () => {
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    const accounts = new DeciderRepository(store, {
      decider: accountDecider,
      commands: new InMemoryCommandLog({ store }),
    });
    await accounts.execute('acc-7', { type: 'open', owner: 'g' }, { metadata: { commandId: 'open-7' } });
    const first = await accounts.execute(
      'acc-7',
      { type: 'deposit', amount: 5 },
      { metadata: { commandId: 'dep-7' } },
    );
    const again = await accounts.execute(
      'acc-7',
      { type: 'deposit', amount: 5 },
      { metadata: { commandId: 'dep-7' } },
    );
    expect(first).toMatchObject({ duplicate: false, version: 2, attempts: 1 });
    expect(again).toMatchObject({ duplicate: true, version: 2, attempts: 0, state: { balance: 5 } });
    expect(again.events.map((event) => event.eventId)).toEqual(first.events.map((event) => event.eventId));
    expect(await store.streamVersion('acc-7')).toBe(2);
  });

  it('refuses options without a decider', () => {
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    expect(() => new DeciderRepository(store, {} as never)).toThrow(/decider/);
    expect(
      () =>
        new DeciderRepository(store, {
          decider: accountDecider,
          snapshots: {
            store: { load: async () => undefined, save: async () => {}, delete: async () => {} },
            schemaVersion: 0,
          },
        }),
    ).toThrow(/schemaVersion/);
  });
});
