import {
  AggregateRepository,
  defineEvent,
  ErrorCode,
  EventRegistry,
  InMemoryEventStore,
  isAnnalsError,
  type RawStoredEvent,
  UpcastError,
  UpcasterRegistry,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MoneyDeposited, MoneyWithdrawn, Wallet, WalletOpened } from '../snapshots/wallet.js';

/** A customer's name: v1 `{ name }`, v2 `{ firstName, lastName }`, v3 adds `title` (default ''). */
const CustomerRenamed = defineEvent({
  type: 'CustomerRenamed',
  schemaVersion: 3,
  schema: z.object({ firstName: z.string(), lastName: z.string(), title: z.string() }),
});

const v1ToV2 = {
  type: 'CustomerRenamed',
  fromSchemaVersion: 1,
  upcast: (payload: { name: string }) => {
    const [firstName = '', ...rest] = payload.name.split(' ');
    return { firstName, lastName: rest.join(' ') };
  },
};
const v2ToV3 = {
  type: 'CustomerRenamed',
  fromSchemaVersion: 2,
  upcast: (payload: { firstName: string; lastName: string }) => ({ ...payload, title: '' }),
};

function raw(
  schemaVersion: number,
  payload: unknown,
  overrides: Partial<RawStoredEvent> = {},
): RawStoredEvent {
  return {
    eventId: `evt-v${schemaVersion}`,
    aggregateId: 'customer-1',
    aggregateType: 'Customer',
    type: 'CustomerRenamed',
    version: 1,
    schemaVersion,
    timestamp: new Date(0),
    payload,
    metadata: {},
    globalPosition: 1n,
    transactionId: 1n,
    ...overrides,
  };
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('UpcasterRegistry', () => {
  it('chains steps v1 → v2 → v3 and the registry validates the result at the current version', () => {
    const registry = new EventRegistry([CustomerRenamed], {
      upcasters: new UpcasterRegistry([v1ToV2, v2ToV3]),
    });
    const fromV1 = registry.decode(raw(1, { name: 'Ada King Lovelace' }));
    expect(fromV1.payload).toEqual({ firstName: 'Ada', lastName: 'King Lovelace', title: '' });
    expect(fromV1.schemaVersion).toBe(3);
    const fromV2 = registry.decode(raw(2, { firstName: 'Alan', lastName: 'Turing' }));
    expect(fromV2.payload).toEqual({ firstName: 'Alan', lastName: 'Turing', title: '' });
    const current = registry.decode(raw(3, { firstName: 'G', lastName: 'H', title: 'Dr' }));
    expect(current.payload).toEqual({ firstName: 'G', lastName: 'H', title: 'Dr' });
  });

  it('hands each step the stored event with its original payload and version', () => {
    const seen: Array<{ payload: unknown; stored: unknown; version: number }> = [];
    const upcasters = new UpcasterRegistry()
      .register({
        type: 'CustomerRenamed',
        fromSchemaVersion: 1,
        upcast: (payload, event) => {
          seen.push({ payload, stored: event.payload, version: event.schemaVersion });
          return v1ToV2.upcast(payload);
        },
      })
      .register({
        type: 'CustomerRenamed',
        fromSchemaVersion: 2,
        upcast: (payload, event) => {
          seen.push({ payload, stored: event.payload, version: event.schemaVersion });
          return v2ToV3.upcast(payload);
        },
      });
    new EventRegistry([CustomerRenamed], { upcasters }).decode(raw(1, { name: 'A B' }));
    expect(seen).toEqual([
      { payload: { name: 'A B' }, stored: { name: 'A B' }, version: 1 },
      { payload: { firstName: 'A', lastName: 'B' }, stored: { name: 'A B' }, version: 1 },
    ]);
  });

  it('a missing link is an UpcastError naming the event, the type, the versions and the missing step', () => {
    const registry = new EventRegistry([CustomerRenamed], { upcasters: new UpcasterRegistry([v1ToV2]) });
    const error = catchError(() => registry.decode(raw(1, { name: 'A B' }, { eventId: 'evt-missing' })));
    expect(isAnnalsError(error, ErrorCode.Upcast)).toBe(true);
    expect(error).toBeInstanceOf(UpcastError);
    expect(error).toMatchObject({
      eventId: 'evt-missing',
      eventType: 'CustomerRenamed',
      fromSchemaVersion: 1,
      toSchemaVersion: 3,
    });
    expect((error as Error).message).toContain('evt-missing');
    expect((error as Error).message).toContain('from schema version 2 to 3');
  });

  it('an event newer than the code is an UpcastError, through the registry and called directly', () => {
    const upcasters = new UpcasterRegistry([v1ToV2, v2ToV3]);
    const registry = new EventRegistry([CustomerRenamed], { upcasters });
    const viaRegistry = catchError(() => registry.decode(raw(4, {}, { eventId: 'evt-future' })));
    expect(viaRegistry).toMatchObject({
      code: 'ANNALS_UPCAST',
      eventId: 'evt-future',
      fromSchemaVersion: 4,
      toSchemaVersion: 3,
    });
    const direct = catchError(() => upcasters.upcast(raw(4, {}, { eventId: 'evt-future' }), 3));
    expect(direct).toMatchObject({ code: 'ANNALS_UPCAST', eventId: 'evt-future', fromSchemaVersion: 4 });
    expect((direct as Error).message).toContain('newer than this code');
  });

  it('an upcaster that throws is an UpcastError with the cause', () => {
    const boom = new TypeError('name is not a string');
    const upcasters = new UpcasterRegistry([
      {
        type: 'CustomerRenamed',
        fromSchemaVersion: 1,
        upcast: () => {
          throw boom;
        },
      },
      v2ToV3,
    ]);
    const registry = new EventRegistry([CustomerRenamed], { upcasters });
    const error = catchError(() => registry.decode(raw(1, { name: 42 }, { eventId: 'evt-throws' })));
    expect(error).toMatchObject({ code: 'ANNALS_UPCAST', eventId: 'evt-throws', fromSchemaVersion: 1 });
    expect((error as Error).cause).toBe(boom);
    expect((error as Error).message).toContain('name is not a string');
  });

  it('an upcaster that returns undefined or a promise is an UpcastError', () => {
    const forgot = new UpcasterRegistry([
      { type: 'CustomerRenamed', fromSchemaVersion: 2, upcast: () => undefined },
    ]);
    expect(catchError(() => forgot.upcast(raw(2, {}), 3))).toMatchObject({ code: 'ANNALS_UPCAST' });
    const asynchronous = new UpcasterRegistry([
      { type: 'CustomerRenamed', fromSchemaVersion: 2, upcast: async () => ({}) },
    ]);
    const error = catchError(() => asynchronous.upcast(raw(2, {}), 3));
    expect((error as Error).message).toContain('synchronous');
  });

  it('an upcast result that fails the current schema is an EventValidationError naming the event', () => {
    const wrong = new UpcasterRegistry([
      v1ToV2,
      {
        type: 'CustomerRenamed',
        fromSchemaVersion: 2,
        upcast: (payload: object) => ({ ...payload, title: 7 }),
      },
    ]);
    const registry = new EventRegistry([CustomerRenamed], { upcasters: wrong });
    const error = catchError(() => registry.decode(raw(1, { name: 'A B' }, { eventId: 'evt-invalid' })));
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect(error).toMatchObject({ eventId: 'evt-invalid', eventType: 'CustomerRenamed' });
    expect((error as { issues: Array<{ path: unknown[] }> }).issues[0]?.path).toEqual(['title']);
  });

  it('rejects a second step for the same type and version, and malformed steps', () => {
    const upcasters = new UpcasterRegistry([v1ToV2]);
    const duplicate = catchError(() => upcasters.register({ ...v1ToV2 }));
    expect(isAnnalsError(duplicate, ErrorCode.InvalidArgument)).toBe(true);
    expect((duplicate as Error).message).toContain('CustomerRenamed');
    expect((duplicate as Error).message).toContain('from schema version 1 to 2');
    expect(
      isAnnalsError(
        catchError(() => upcasters.register({ ...v2ToV3, fromSchemaVersion: 0 })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => upcasters.register({ ...v2ToV3, type: '' })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        catchError(() => upcasters.register({ ...v2ToV3, upcast: 'no' as never })),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(upcasters.has('CustomerRenamed', 1)).toBe(true);
    expect(upcasters.has('CustomerRenamed', 2)).toBe(false);
  });

  it('verify() reports gaps, steps that never run and unknown types', () => {
    const registry = new EventRegistry([CustomerRenamed]);
    expect(() => new UpcasterRegistry([v1ToV2, v2ToV3]).verify(registry)).not.toThrow();
    const gap = catchError(() => new UpcasterRegistry([v1ToV2]).verify(registry));
    expect((gap as Error).message).toContain('no upcaster from schema version 2 to 3');
    const stale = catchError(() =>
      new UpcasterRegistry([v1ToV2, v2ToV3, { ...v2ToV3, fromSchemaVersion: 3 }]).verify(registry),
    );
    expect((stale as Error).message).toContain('from schema version 3 never runs');
    const unknown = catchError(() => new UpcasterRegistry([{ ...v1ToV2, type: 'Nope' }]).verify(registry));
    expect(isAnnalsError(unknown, ErrorCode.InvalidArgument)).toBe(true);
    expect((unknown as Error).message).toContain('"Nope"');
  });
});

describe('upcasting on the read paths of a store', () => {
  /** `MoneyDeposited` v1 stored cents as `{ cents }`; v2 is `{ amount }` in units. */
  const DepositedV1 = defineEvent({
    type: MoneyDeposited.type,
    schema: z.object({ cents: z.number().int().positive() }),
  });
  const DepositedV2 = defineEvent({
    type: MoneyDeposited.type,
    schemaVersion: 2,
    schema: MoneyDeposited.schema,
  });
  const upcasters = new UpcasterRegistry().register({
    type: 'MoneyDeposited',
    fromSchemaVersion: 1,
    upcast: (payload: { cents: number }) => ({ amount: payload.cents / 100 }),
  });

  /** The wallet as the v2 code writes it: deposits raise the v2 definition. */
  class WalletV2 extends Wallet {
    override deposit(amount: number) {
      this.raise(DepositedV2, { amount });
    }
  }

  /**
   * One store whose rows survive a deployment: v1 code writes them, then the registry is swapped
   * for v2 code with the upcaster, as when new code starts over an existing database.
   */
  async function deployedOverV1Rows(options: { upcasters?: UpcasterRegistry } = { upcasters }) {
    let current = new EventRegistry([WalletOpened, DepositedV1, MoneyWithdrawn]);
    const registry = {
      encode: (event: Parameters<EventRegistry['encode']>[0]) => current.encode(event),
      decode: (row: RawStoredEvent) => current.decode(row),
    } as unknown as EventRegistry;
    const store = new InMemoryEventStore({ registry });
    await store.append('w-1', 'no_stream', [
      { type: 'WalletOpened', aggregateType: 'Wallet', payload: { owner: 'ada' } },
      { type: 'MoneyDeposited', aggregateType: 'Wallet', payload: { cents: 2500 } },
      { type: 'MoneyDeposited', aggregateType: 'Wallet', payload: { cents: 150 } },
    ]);
    current = new EventRegistry([WalletOpened, DepositedV2, MoneyWithdrawn], options);
    return store;
  }

  it('a repository loads a v1 history as the current version and appends at the current version', async () => {
    const store = await deployedOverV1Rows();
    const repository = new AggregateRepository(store, { create: (id) => new WalletV2(id) });
    expect((await repository.load('w-1')).balance).toBe(26.5);
    const result = await repository.execute('w-1', (wallet) => wallet.deposit(3.5));
    expect(result.aggregate.balance).toBe(30);
    const history = await store.load('w-1');
    expect(history.map((event) => [event.type, event.schemaVersion, event.payload])).toEqual([
      ['WalletOpened', 1, { owner: 'ada' }],
      ['MoneyDeposited', 2, { amount: 25 }],
      ['MoneyDeposited', 2, { amount: 1.5 }],
      ['MoneyDeposited', 2, { amount: 3.5 }],
    ]);
    // A load of the mixed-version history (two v1 rows, one v2 row) gives the same state again.
    expect((await repository.load('w-1')).balance).toBe(30);
  });

  it('the global log is upcast too', async () => {
    const store = await deployedOverV1Rows();
    const { events } = await store.readAll();
    expect(events.map((event) => event.payload)).toEqual([{ owner: 'ada' }, { amount: 25 }, { amount: 1.5 }]);
  });

  it('new code cannot write an old schema version', async () => {
    const store = await deployedOverV1Rows();
    const error = await store
      .append('w-1', 3, [
        { type: 'MoneyDeposited', aggregateType: 'Wallet', payload: { cents: 1 }, schemaVersion: 1 },
      ])
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect(await store.streamVersion('w-1')).toBe(3);
  });

  it('v2 code deployed without the upcaster fails the load with an UpcastError, never a wrong state', async () => {
    const store = await deployedOverV1Rows({});
    const repository = new AggregateRepository(store, { create: (id) => new WalletV2(id) });
    const error = await repository.load('w-1').catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.Upcast)).toBe(true);
    expect(error).toMatchObject({ eventType: 'MoneyDeposited', fromSchemaVersion: 1, toSchemaVersion: 2 });
    expect((error as UpcastError).eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect((error as Error).message).toContain('no upcasters are registered');
  });
});
