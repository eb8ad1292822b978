import { EventRegistry } from 'annals';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newEventId } from '../../src/events/event-id.js';
import { Account, Opened } from '../unit/fixtures.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp of a UUIDv7. */
const millisecondsOf = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe('newEventId', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('makes RFC 9562 UUIDv7 strings carrying the current time', () => {
    const before = Date.now();
    const id = newEventId();
    const after = Date.now();
    expect(id).toMatch(UUID_V7);
    expect(millisecondsOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisecondsOf(id)).toBeLessThanOrEqual(after);
  });

  it('makes a million ids that are unique and strictly increasing within the process', () => {
    const count = 1_000_000;
    const seen = new Set<string>();
    let previous = newEventId();
    let increasing = true;
    let valid = true;
    for (let index = 0; index < count; index++) {
      const id = newEventId();
      if (!(id > previous)) increasing = false;
      if (index % 1000 === 0 && !UUID_V7.test(id)) valid = false;
      seen.add(id);
      previous = id;
    }
    expect(increasing).toBe(true);
    expect(valid).toBe(true);
    expect(seen.size).toBe(count);
  });

  it('keeps increasing when the clock stands still or goes back', () => {
    const now = Date.now() + 60_000;
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now);
    const first = newEventId();
    const sameMillisecond = Array.from({ length: 10_000 }, () => newEventId());
    clock.mockReturnValue(now - 5_000);
    const afterSetBack = Array.from({ length: 10_000 }, () => newEventId());
    const ids = [first, ...sameMillisecond, ...afterSetBack];
    expect(ids.every((id, index) => index === 0 || id > ids[index - 1]!)).toBe(true);
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
    // Still stamped with the latest time seen, not the earlier one.
    expect(millisecondsOf(afterSetBack.at(-1)!)).toBeGreaterThanOrEqual(now);
  });

  it('takes a clock reading given by the caller, and still only increases', () => {
    const now = Date.now() + 120_000;
    const given = newEventId(now);
    expect(millisecondsOf(given)).toBe(now);
    const behind = [newEventId(now - 1_000), newEventId(), newEventId(now)];
    expect([given, ...behind].every((id, index, ids) => index === 0 || id > ids[index - 1]!)).toBe(true);
    for (const id of behind) expect(millisecondsOf(id)).toBe(now);
  });

  it('ends each id with the same per-process random part', () => {
    const suffixes = new Set(Array.from({ length: 100 }, () => newEventId().slice(24)));
    expect(suffixes.size).toBe(1);
  });

  it('gives events without an id one: the registry and aggregates', () => {
    const encoded = new EventRegistry([Opened]).encode({
      type: 'Opened',
      aggregateType: 'Account',
      payload: { owner: 'ann' },
    });
    expect(encoded.eventId).toMatch(UUID_V7);

    const account = new Account('acc-1');
    account.open('ann');
    account.deposit(5);
    const raised = account.uncommittedEvents.map((event) => event.eventId);
    expect(raised).toHaveLength(2);
    for (const id of raised) expect(id).toMatch(UUID_V7);
    expect(raised[1]! > raised[0]!).toBe(true);
  });
});
