import { createEvent, DeciderAggregate, defineDecider, ErrorCode, isAnnalsError } from 'annals';
import { describe, expect, it } from 'vitest';
import { accountDecider } from './account-decider.js';
import { Deposited, Opened } from './fixtures.js';

describe('defineDecider', () => {
  it('returns the decider, frozen, with its event definitions', () => {
    expect(accountDecider.aggregateType).toBe('Account');
    expect(accountDecider.events.map((definition) => definition.type)).toEqual([
      'Opened',
      'Deposited',
      'Withdrawn',
    ]);
    expect(Object.isFrozen(accountDecider)).toBe(true);
  });

  it('refuses a decider without aggregate type, events or functions, or with an event listed twice', () => {
    const valid = {
      aggregateType: 'A',
      events: [Opened],
      initialState: () => ({}),
      evolve: (state: object) => state,
      decide: () => [],
    };
    for (const broken of [
      { ...valid, aggregateType: '' },
      { ...valid, events: [] },
      { ...valid, events: [Opened, Opened] },
      { ...valid, evolve: undefined },
    ]) {
      expect(() => defineDecider(broken as never)).toThrow(
        expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('createEvent', () => {
  it('builds a decided event from a definition', () => {
    expect(createEvent(Deposited, { amount: 5 })).toEqual({ type: 'Deposited', payload: { amount: 5 } });
    expect(createEvent(Opened, { owner: 'ada' }, { reason: 'signup' })).toEqual({
      type: 'Opened',
      payload: { owner: 'ada' },
      metadata: { reason: 'signup' },
    });
  });
});

describe('DeciderAggregate', () => {
  it('decides on the state, validates and applies the events, and keeps them uncommitted', () => {
    const account = new DeciderAggregate(accountDecider, 'acc-1');
    expect(account).toMatchObject({ aggregateType: 'Account', version: 0, exists: false });
    expect(account.state).toEqual({ owner: '', balance: 0, open: false });

    const opened = account.decide({ type: 'openWithDeposit', owner: 'ada', amount: 20 });
    expect(opened.map((event) => [event.type, event.version, event.payload])).toEqual([
      ['Opened', 1, { owner: 'ada' }],
      ['Deposited', 2, { amount: 20 }],
    ]);
    expect(account.decide({ type: 'withdraw', amount: 5 })).toHaveLength(1);
    expect(account.state).toEqual({ owner: 'ada', balance: 15, open: true });
    expect(account.uncommittedEvents.map((event) => event.type)).toEqual([
      'Opened',
      'Deposited',
      'Withdrawn',
    ]);
    expect(account.uncommittedEvents[0]).toMatchObject({ aggregateId: 'acc-1', aggregateType: 'Account' });
    expect(account.decide({ type: 'noop' })).toEqual([]);
  });

  it('evolves from history like any aggregate', () => {
    const source = new DeciderAggregate(accountDecider, 'acc-2');
    source.decide({ type: 'openWithDeposit', owner: 'bob', amount: 3 });
    const loaded = new DeciderAggregate(accountDecider, 'acc-2').loadFromHistory(source.uncommittedEvents);
    expect(loaded).toMatchObject({ version: 2, persistedVersion: 2, exists: true });
    expect(loaded.state.balance).toBe(3);
  });

  it('lets errors of decide through and raises nothing', () => {
    const account = new DeciderAggregate(accountDecider, 'acc-3');
    expect(() => account.decide({ type: 'deposit', amount: 1 })).toThrow(
      expect.objectContaining({ code: 'ANNALS_DOMAIN_RULE' }),
    );
    expect(account.uncommittedEvents).toEqual([]);
  });

  it('validates decided payloads with the event definitions', () => {
    const account = new DeciderAggregate(accountDecider, 'acc-4');
    let error: unknown;
    try {
      account.decide({ type: 'open', owner: '' });
    } catch (caught) {
      error = caught;
    }
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect(account.uncommittedEvents).toEqual([]);
  });

  it('refuses an event type that is not among the decider events, and a missing decision', () => {
    const sloppy = defineDecider({
      aggregateType: 'Sloppy',
      events: [Opened],
      initialState: () => 0,
      evolve: (state) => state + 1,
      decide: (command: 'foreign' | 'nothing') =>
        (command === 'foreign' ? createEvent(Deposited, { amount: 1 }) : undefined) as never,
    });
    expect(() => new DeciderAggregate(sloppy, 's-1').decide('foreign')).toThrow(
      expect.objectContaining({ code: 'ANNALS_MISSING_EVENT_HANDLER' }),
    );
    expect(() => new DeciderAggregate(sloppy, 's-1').decide('nothing')).toThrow(/decide returned undefined/);
  });

  it('refuses an evolve that returns nothing (a mutating reducer)', () => {
    const mutating = defineDecider({
      aggregateType: 'Mutating',
      events: [Opened],
      initialState: () => ({ owner: '' }),
      evolve: (state, event) => {
        state.owner = event.payload.owner;
        return undefined as never;
      },
      decide: (owner: string) => createEvent(Opened, { owner }),
    });
    expect(() => new DeciderAggregate(mutating, 'm-1').decide('ada')).toThrow(/evolve returned undefined/);
  });
});
