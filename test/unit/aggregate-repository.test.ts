import {
  AggregateRepository,
  ErrorCode,
  InMemoryEventBus,
  InMemoryEventStore,
  isAnnalsError,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { Account, accountRegistry } from './fixtures.js';

const setup = (maxAttempts = 5) => {
  const store = new InMemoryEventStore({ registry: accountRegistry() });
  const bus = new InMemoryEventBus();
  const repository = new AggregateRepository(store, {
    create: (id) => new Account(id),
    bus,
    retry: { maxAttempts, initialDelayMs: 1, maxDelayMs: 2 },
  });
  return { store, bus, repository };
};

describe('AggregateRepository', () => {
  it('runs a command, appends its events and returns the result', async () => {
    const { store, repository } = setup();
    const result = await repository.execute('acc-1', (account) => {
      account.open('ada');
      account.deposit(20);
      return 'done';
    });
    expect(result.value).toBe('done');
    expect(result.version).toBe(2);
    expect(result.attempts).toBe(1);
    expect(result.events.map((event) => event.type)).toEqual(['Opened', 'Deposited']);
    expect(result.aggregate.uncommittedEvents).toEqual([]);
    expect(await store.streamVersion('acc-1')).toBe(2);
    expect((await repository.load('acc-1')).balance).toBe(20);
  });

  it('copies command metadata into every event: command, causation and correlation ids', async () => {
    const { store, repository } = setup();
    await repository.execute('acc-2', (account) => account.open('bob'), {
      metadata: { commandId: 'cmd-1', correlationId: 'req-9', userId: 'u-1' },
    });
    await repository.execute('acc-2', (account) => account.deposit(1), { metadata: { commandId: 'cmd-2' } });
    const [opened, deposited] = await store.load('acc-2');
    expect(opened!.metadata).toEqual({
      commandId: 'cmd-1',
      causationId: 'cmd-1',
      correlationId: 'req-9',
      userId: 'u-1',
    });
    expect(deposited!.metadata).toEqual({ commandId: 'cmd-2', causationId: 'cmd-2', correlationId: 'cmd-2' });
  });

  it('retries on a concurrency conflict with fresh state', async () => {
    const { store, repository } = setup();
    await repository.execute('acc-3', (account) => {
      account.open('c');
      account.deposit(10);
    });
    let runs = 0;
    const result = await repository.execute('acc-3', async (account) => {
      runs++;
      if (runs === 1) {
        // Another writer withdraws between our load and our append.
        await store.append('acc-3', 2, [
          { type: 'Withdrawn', aggregateType: 'Account', payload: { amount: 4 } },
        ]);
      }
      account.withdraw(6);
    });
    expect(runs).toBe(2);
    expect(result.attempts).toBe(2);
    expect(result.aggregate.balance).toBe(0);
    expect(await store.streamVersion('acc-3')).toBe(4);
  });

  it('gives up after maxAttempts with the last ConcurrencyError', async () => {
    const { store, repository } = setup(3);
    await repository.execute('acc-4', (account) => account.open('d'));
    let runs = 0;
    const error = await repository
      .execute('acc-4', async (account) => {
        runs++;
        await store.append('acc-4', 'any', [
          { type: 'Deposited', aggregateType: 'Account', payload: { amount: 1 } },
        ]);
        account.deposit(1);
      })
      .catch((e: unknown) => e);
    expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
    expect(runs).toBe(3);
  });

  it('does not retry business rule errors and writes nothing for them', async () => {
    const { store, repository } = setup();
    await repository.execute('acc-5', (account) => account.open('e'));
    let runs = 0;
    const error = await repository
      .execute('acc-5', (account) => {
        runs++;
        account.withdraw(100);
      })
      .catch((e: unknown) => e);
    expect(isAnnalsError(error, ErrorCode.DomainRule)).toBe(true);
    expect(runs).toBe(1);
    expect(await store.streamVersion('acc-5')).toBe(1);
  });

  it('a command that raises nothing appends nothing', async () => {
    const { store, repository } = setup();
    await repository.execute('acc-6', (account) => account.open('f'));
    const result = await repository.execute('acc-6', () => undefined);
    expect(result.events).toEqual([]);
    expect(result.version).toBe(1);
    expect(await store.streamVersion('acc-6')).toBe(1);
  });

  it('publishes stored events to the bus after the append, and listener failures do not fail the command', async () => {
    const { bus, repository } = setup();
    const seen: StoredEvent[] = [];
    bus.subscribe('Deposited', (event) => {
      seen.push(event);
    });
    const failures: unknown[] = [];
    const failingBus = new InMemoryEventBus({ onListenerError: (error) => failures.push(error) });
    failingBus.subscribe('*', () => {
      throw new Error('listener broke');
    });
    failingBus.subscribe('Deposited', (event) => {
      seen.push(event);
    });
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    const withFailingBus = new AggregateRepository(store, {
      create: (id) => new Account(id),
      bus: failingBus,
    });
    await repository.execute('acc-7', (account) => {
      account.open('g');
      account.deposit(3);
    });
    const result = await withFailingBus.execute('acc-7b', (account) => account.open('g2'));
    expect(result.version).toBe(1);
    expect(failures).toHaveLength(1);
    expect(seen.map((event) => [event.type, event.version, typeof event.globalPosition])).toEqual([
      ['Deposited', 2, 'bigint'],
    ]);
  });

  it('concurrent commands on one aggregate all land, serialised by retries', async () => {
    const { store, repository } = setup(50);
    await repository.execute('acc-8', (account) => account.open('h'));
    await Promise.all(
      Array.from({ length: 10 }, () => repository.execute('acc-8', (account) => account.deposit(1))),
    );
    const account = await repository.load('acc-8');
    expect(account.balance).toBe(10);
    expect((await store.load('acc-8')).map((event) => event.version)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
  });
});
