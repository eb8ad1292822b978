import { type DomainEvent, ErrorCode, isAnnalsError } from 'annals';
import { describe, expect, it } from 'vitest';
import { Account } from './fixtures.js';

const history = (id: string, ...events: Array<{ type: string; payload: unknown }>): DomainEvent[] =>
  events.map((event, index) => ({
    eventId: `${id}-${index + 1}`,
    aggregateId: id,
    aggregateType: 'Account',
    version: index + 1,
    schemaVersion: 1,
    timestamp: new Date(0),
    metadata: {},
    ...event,
  }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('AggregateRoot', () => {
  it('loads history in order and tracks versions', () => {
    const account = new Account('acc-1').loadFromHistory(
      history(
        'acc-1',
        { type: 'Opened', payload: { owner: 'ada' } },
        { type: 'Deposited', payload: { amount: 10 } },
      ),
    );
    expect(account.owner).toBe('ada');
    expect(account.balance).toBe(10);
    expect(account.version).toBe(2);
    expect(account.persistedVersion).toBe(2);
    expect(account.exists).toBe(true);
    expect(account.uncommittedEvents).toEqual([]);
  });

  it('raises events: applied at once, next versions, kept until committed', () => {
    const account = new Account('acc-2');
    account.open('bob');
    account.deposit(5);
    expect(account.balance).toBe(5);
    expect(account.version).toBe(2);
    expect(account.persistedVersion).toBe(0);
    expect(account.uncommittedEvents.map((event) => [event.type, event.version])).toEqual([
      ['Opened', 1],
      ['Deposited', 2],
    ]);
    expect(account.uncommittedEvents[0]).toMatchObject({ aggregateId: 'acc-2', aggregateType: 'Account' });
    account.markCommitted(2);
    expect(account.uncommittedEvents).toEqual([]);
    expect(account.persistedVersion).toBe(2);
  });

  it('refuses commands on an aggregate that does not exist, and creating one twice', () => {
    expect(
      isAnnalsError(
        thrown(() => new Account('acc-3').deposit(1)),
        ErrorCode.AggregateNotFound,
      ),
    ).toBe(true);
    const account = new Account('acc-3');
    account.open('c');
    expect(
      isAnnalsError(
        thrown(() => account.open('c')),
        ErrorCode.AggregateAlreadyExists,
      ),
    ).toBe(true);
  });

  it('validates payloads when raising', () => {
    const account = new Account('acc-4');
    account.open('d');
    const error = thrown(() => account.deposit(-3));
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect(account.uncommittedEvents).toHaveLength(1);
  });

  it('names an event type without a handler', () => {
    const error = thrown(() =>
      new Account('acc-5').loadFromHistory(history('acc-5', { type: 'Closed', payload: {} })),
    );
    expect(isAnnalsError(error, ErrorCode.MissingEventHandler)).toBe(true);
    expect(error).toMatchObject({ aggregateType: 'Account', eventType: 'Closed' });
  });

  it('does not look handlers up on the prototype chain', () => {
    const error = thrown(() =>
      new Account('acc-6').loadFromHistory(history('acc-6', { type: 'toString', payload: {} })),
    );
    expect(isAnnalsError(error, ErrorCode.MissingEventHandler)).toBe(true);
  });

  it('rejects gaps and foreign events in history instead of building wrong state', () => {
    const gap = history(
      'acc-7',
      { type: 'Opened', payload: { owner: 'e' } },
      { type: 'Deposited', payload: { amount: 1 } },
    );
    expect(
      isAnnalsError(
        thrown(() => new Account('acc-7').loadFromHistory([gap[1]!])),
        ErrorCode.CorruptData,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        thrown(() => new Account('other').loadFromHistory(gap)),
        ErrorCode.CorruptData,
      ),
    ).toBe(true);
    expect(
      isAnnalsError(
        thrown(() => new Account('')),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
  });
});
