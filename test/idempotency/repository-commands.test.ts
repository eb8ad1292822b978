import {
  AggregateRepository,
  type CommandLog,
  DeciderRepository,
  DomainRuleError,
  ErrorCode,
  InMemoryCommandLog,
  InMemoryEventBus,
  InMemoryEventStore,
  isAnnalsError,
  type StoredEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { spyingStore, Wallet } from '../snapshots/wallet.js';
import { type AccountCommand, accountDecider } from '../unit/account-decider.js';
import { accountRegistry } from '../unit/fixtures.js';

function setup(options: { ttlHours?: number; clock?: () => Date } = {}) {
  const spy = spyingStore();
  const commands = new InMemoryCommandLog({ store: spy.store, ...options });
  const bus = new InMemoryEventBus();
  const published: StoredEvent[] = [];
  bus.subscribe('*', (event) => {
    published.push(event);
  });
  const wallets = new AggregateRepository(spy.store, {
    create: (id) => new Wallet(id),
    commands,
    bus,
    retry: { maxAttempts: 5, initialDelayMs: 0, maxDelayMs: 0 },
  });
  return { spy, commands, wallets, published };
}

const withId = (commandId: string) => ({ metadata: { commandId } });

describe('AggregateRepository with a command log', () => {
  it('a repeated command returns the first result and appends once', async () => {
    const { spy, wallets, published } = setup();
    await wallets.execute('w-1', (wallet) => wallet.open('ada'), withId('open-1'));
    let runs = 0;
    const deposit = (wallet: Wallet) => {
      runs++;
      wallet.deposit(10);
      return { receipt: `r-${runs}`, balance: wallet.balance };
    };
    const first = await wallets.execute('w-1', deposit, withId('deposit-1'));
    const second = await wallets.execute('w-1', deposit, withId('deposit-1'));

    expect(runs).toBe(1);
    expect(spy.appends).toBe(2);
    expect(first).toMatchObject({
      duplicate: false,
      attempts: 1,
      version: 2,
      value: { receipt: 'r-1', balance: 10 },
    });
    expect(second).toMatchObject({
      duplicate: true,
      attempts: 0,
      version: 2,
      value: { receipt: 'r-1', balance: 10 },
    });
    expect(second.events.map((event) => event.eventId)).toEqual(first.events.map((event) => event.eventId));
    expect(second.events[0]?.metadata.commandId).toBe('deposit-1');
    expect(second.aggregate.balance).toBe(10);
    expect(published.map((event) => event.type)).toEqual(['WalletOpened', 'MoneyDeposited']);
    expect((await wallets.load('w-1')).balance).toBe(10);
  });

  it('20 concurrent duplicates of one command: one append, all see its result', async () => {
    const { spy, wallets } = setup();
    await wallets.execute('w-2', (wallet) => wallet.open('bob'));
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        wallets.execute('w-2', (wallet) => wallet.deposit(5), withId('deposit-concurrent')),
      ),
    );
    expect(spy.appends).toBe(2);
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    expect(new Set(results.map((result) => result.version))).toEqual(new Set([2]));
    expect(new Set(results.map((result) => result.events[0]?.eventId)).size).toBe(1);
    expect((await wallets.load('w-2')).balance).toBe(5);
  });

  it('different command ids on one aggregate all run, with concurrency retries', async () => {
    const { wallets } = setup();
    await wallets.execute('w-3', (wallet) => wallet.open('cy'));
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, index) =>
        wallets.execute(
          'w-3',
          async (wallet) => {
            await new Promise((resolve) => setImmediate(resolve));
            wallet.deposit(1);
          },
          withId(`deposit-${index}`),
        ),
      ),
    );
    expect(results.every((result) => !result.duplicate)).toBe(true);
    expect(results.some((result) => result.attempts > 1)).toBe(true);
    expect((await wallets.load('w-3')).balance).toBe(4);
  });

  it('a command that fails with a domain error records nothing and can be retried', async () => {
    const { spy, commands, wallets } = setup();
    await wallets.execute('w-4', (wallet) => wallet.open('dee'));
    const withdraw = (wallet: Wallet) => wallet.withdraw(7);
    const error = await wallets
      .execute('w-4', withdraw, withId('withdraw-1'))
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.DomainRule)).toBe(true);
    expect(await commands.find('withdraw-1')).toBeUndefined();
    await wallets.execute('w-4', (wallet) => wallet.deposit(10), withId('deposit-1'));
    const retried = await wallets.execute('w-4', withdraw, withId('withdraw-1'));
    expect(retried.duplicate).toBe(false);
    expect(retried.aggregate.balance).toBe(3);
    expect(spy.appends).toBe(3);
  });

  it('a command that raised no events is recorded too', async () => {
    const { wallets } = setup();
    await wallets.execute('w-5', (wallet) => wallet.open('eve'));
    let runs = 0;
    const peek = (wallet: Wallet) => {
      runs++;
      return wallet.balance;
    };
    await wallets.execute('w-5', peek, withId('peek-1'));
    const repeat = await wallets.execute('w-5', peek, withId('peek-1'));
    expect(runs).toBe(1);
    expect(repeat).toMatchObject({ duplicate: true, value: 0, events: [], version: 1 });
  });

  it('a command id reused for another aggregate is an InvalidArgumentError', async () => {
    const { wallets } = setup();
    await wallets.execute('w-6', (wallet) => wallet.open('fay'), withId('open-shared'));
    const error = await wallets
      .execute('w-7', (wallet) => wallet.open('gus'), withId('open-shared'))
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect((error as Error).message).toContain('w-6');
    expect((await wallets.load('w-7')).exists).toBe(false);
  });

  it('a return value that is not JSON is rejected before anything is appended', async () => {
    const { spy, wallets, commands } = setup();
    const error = await wallets
      .execute(
        'w-8',
        (wallet) => {
          wallet.open('hal');
          return { balance: 10n }; // BigInt has no JSON form
        },
        withId('open-8'),
      )
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect(spy.appends).toBe(0);
    expect(await commands.find('open-8')).toBeUndefined();
  });

  it('without a command id, or without a log, commands are not de-duplicated', async () => {
    const { wallets } = setup();
    await wallets.execute('w-9', (wallet) => wallet.open('ida'));
    await wallets.execute('w-9', (wallet) => wallet.deposit(1));
    await wallets.execute('w-9', (wallet) => wallet.deposit(1));
    expect((await wallets.load('w-9')).balance).toBe(2);
  });

  it('after the record expired and was purged, the command id runs again', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { wallets, commands } = setup({ ttlHours: 72, clock: () => new Date(now) });
    await wallets.execute('w-10', (wallet) => wallet.open('jo'));
    await wallets.execute('w-10', (wallet) => wallet.deposit(2), withId('deposit-10'));
    now += 71 * 3_600_000;
    expect(
      (await wallets.execute('w-10', (wallet) => wallet.deposit(2), withId('deposit-10'))).duplicate,
    ).toBe(true);
    now += 1 * 3_600_000;
    expect(await commands.purgeExpired()).toBe(1);
    expect(
      (await wallets.execute('w-10', (wallet) => wallet.deposit(2), withId('deposit-10'))).duplicate,
    ).toBe(false);
    expect((await wallets.load('w-10')).balance).toBe(4);
  });

  it('domain errors thrown inside the log are not retried', async () => {
    const { wallets } = setup();
    await wallets.execute('w-11', (wallet) => wallet.open('kim'));
    let runs = 0;
    await expect(
      wallets.execute(
        'w-11',
        () => {
          runs++;
          throw new DomainRuleError('no');
        },
        withId('fail-11'),
      ),
    ).rejects.toSatisfy((error: unknown) => isAnnalsError(error, ErrorCode.DomainRule));
    expect(runs).toBe(1);
  });

  it('a duplicate whose twin commits between its check and its load gets the twin result without running', async () => {
    const spy = spyingStore();
    const shared = new InMemoryCommandLog({ store: spy.store });
    const twin = new AggregateRepository(spy.store, { create: (id) => new Wallet(id), commands: shared });
    let checks = 0;
    // The log of the late duplicate: its first check sees no record, and the twin commits right after.
    const racing: CommandLog = {
      find: async (commandId) => {
        checks++;
        const found = await shared.find(commandId);
        if (checks === 1) await twin.execute('w-12', (wallet) => wallet.open('lou'), withId('open-12'));
        return found;
      },
      runOnce: (commandId, work) => shared.runOnce(commandId, work),
      purgeExpired: () => shared.purgeExpired(),
    };
    const late = new AggregateRepository(spy.store, { create: (id) => new Wallet(id), commands: racing });
    let lateRuns = 0;
    const result = await late.execute(
      'w-12',
      (wallet) => {
        lateRuns++;
        wallet.open('lou');
      },
      withId('open-12'),
    );
    expect(result).toMatchObject({ duplicate: true, version: 1 });
    expect(lateRuns).toBe(0);
    expect(spy.appends).toBe(1);
  });

  it('20 concurrent executions of one command id run its function once: one append, 19 duplicates', async () => {
    const { spy, wallets } = setup();
    await wallets.execute('w-13', (wallet) => wallet.open('max'));
    let sideEffects = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        wallets.execute(
          'w-13',
          async (wallet) => {
            sideEffects++; // an e-mail, a payment: must happen once per command id
            await new Promise((resolve) => setTimeout(resolve, 5));
            wallet.deposit(5);
            return { charged: 5 };
          },
          withId('charge-13'),
        ),
      ),
    );
    expect(sideEffects).toBe(1);
    expect(spy.appends).toBe(2);
    expect(results.filter((result) => result.duplicate)).toHaveLength(19);
    expect(results.every((result) => result.version === 2 && result.value.charged === 5)).toBe(true);
    expect((await wallets.load('w-13')).balance).toBe(5);
  });

  it('a duplicate waits while the first run is in flight; when that run fails, the duplicate runs', async () => {
    const { spy, wallets } = setup();
    await wallets.execute('w-14', (wallet) => wallet.open('ned'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls: string[] = [];
    const first = wallets
      .execute(
        'w-14',
        async () => {
          calls.push('first');
          await gate;
          throw new DomainRuleError('the card was declined');
        },
        withId('charge-14'),
      )
      .catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = wallets.execute(
      'w-14',
      (wallet) => {
        calls.push('second');
        wallet.deposit(3);
      },
      withId('charge-14'),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(['first']); // the second waits for the first to settle
    release();
    expect(isAnnalsError(await first, ErrorCode.DomainRule)).toBe(true);
    expect(await second).toMatchObject({ duplicate: false, version: 2, attempts: 1 });
    expect(calls).toEqual(['first', 'second']);
    expect(spy.appends).toBe(2);
  });

  it('a command that conflicts is retried under its id and still records once', async () => {
    const { spy, wallets } = setup();
    await wallets.execute('w-15', (wallet) => wallet.open('oz'));
    let runs = 0;
    const result = await wallets.execute(
      'w-15',
      async (wallet) => {
        runs++;
        // Another writer moves the stream on while the first attempt decides.
        if (runs === 1)
          await spy.store.append('w-15', 1, [
            { type: 'MoneyDeposited', aggregateType: 'Wallet', payload: { amount: 1 } },
          ]);
        wallet.deposit(2);
      },
      withId('deposit-15'),
    );
    expect(runs).toBe(2);
    expect(result).toMatchObject({ duplicate: false, attempts: 2, version: 3 });
    expect(
      (await wallets.execute('w-15', (wallet) => wallet.deposit(2), withId('deposit-15'))).duplicate,
    ).toBe(true);
    expect((await wallets.load('w-15')).balance).toBe(3);
  });
});

describe('DeciderRepository with a command log', () => {
  it('20 concurrent executions of one command id decide once: one append, 19 duplicates', async () => {
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    let decisions = 0;
    const accounts = new DeciderRepository(store, {
      decider: {
        ...accountDecider,
        decide: (command: AccountCommand, state) => {
          decisions++;
          return accountDecider.decide(command, state);
        },
      },
      commands: new InMemoryCommandLog({ store }),
    });
    await accounts.execute('acc-1', { type: 'open', owner: 'pia' });
    decisions = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        accounts.execute('acc-1', { type: 'deposit', amount: 4 }, withId('dep-1')),
      ),
    );
    expect(decisions).toBe(1);
    expect(results.filter((result) => result.duplicate)).toHaveLength(19);
    expect(await store.streamVersion('acc-1')).toBe(2);
  });
});
