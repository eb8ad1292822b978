/**
 * The in-memory store keeps an id the registry made in its event's millisecond as a counter (the
 * text is written again on every read), and any other id as text. These tests drive the clock
 * (only `Date` is faked) so that ids are made in chosen milliseconds, and check that every id
 * reads back as the append returned it and is found again by its text.
 */
import {
  ANY,
  DuplicateEventError,
  defineEvent,
  EventRegistry,
  InMemoryEventStore,
  type NewEvent,
} from 'annals';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const Noted = defineEvent({ type: 'Noted', schema: z.object({ n: z.number() }) });

function noted(n: number, extra: Partial<NewEvent> = {}): NewEvent {
  return { type: 'Noted', aggregateType: 'Note', payload: { n }, ...extra };
}

// Ahead of any real clock (in 2074), so that the id generator (one per process) follows the fake
// one; two milliseconds before a multiple of 2^16, where an id's first 8 hex digits change.
const START_MS = 0x0300_0000_0000 - 2;

afterEach(() => {
  vi.useRealTimers();
});

describe('InMemoryEventStore: ids the registry made, kept as a millisecond and a counter', () => {
  it('read back as appended, found by their text, whatever the clock does', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(START_MS);
    const store = new InMemoryEventStore({ registry: new EventRegistry([Noted]) });
    const appended: { stream: string; id: string }[] = [];
    const append = async (stream: string, events: NewEvent[]) => {
      const result = await store.append(stream, ANY, events);
      for (const event of result.events) appended.push({ stream, id: event.eventId });
    };
    // Many ids in each millisecond, across the 2^16 boundary, in one append and in many.
    for (let step = 0; step < 6; step++) {
      for (let index = 0; index < 40; index++) await append(`note-${index % 7}`, [noted(index)]);
      await append('batch', [noted(1), noted(2), noted(3)]);
      vi.setSystemTime(START_MS + step + 1);
    }
    // A given timestamp in the generator's millisecond (kept as a counter too), and another.
    await append('dated', [noted(1, { timestamp: new Date(START_MS + 6) })]);
    await append('dated', [noted(2, { timestamp: new Date(START_MS - 1_000) })]);
    // The clock goes back: ids stay increasing, in a millisecond after their events' (kept as text).
    vi.setSystemTime(START_MS + 2);
    for (let index = 0; index < 5; index++) await append('late', [noted(index)]);
    // Given ids between and after the made ones.
    await append('given', [noted(1, { eventId: appended[0]!.id.replace(/.$/, 'x') })]);
    await append('given', [noted(2, { eventId: 'zz-given' })]);
    vi.setSystemTime(START_MS + 100);
    for (let index = 0; index < 5; index++) await append('after', [noted(index)]);

    const ids = appended.map((event) => event.id);
    const made = ids.filter((id) => UUID_V7.test(id));
    // The first ids carry the fake clock's millisecond.
    expect(made[0]!.replace('-', '').slice(0, 12)).toBe(START_MS.toString(16).padStart(12, '0'));
    expect(made.length).toBe(ids.length - 2);
    expect([...made].sort()).toEqual(made);
    expect(new Set(ids).size).toBe(ids.length);

    // readAll in pages (the millisecond of the id read last changes between pages), loads stream
    // by stream (interleaved milliseconds).
    const read: string[] = [];
    for (let page = await store.readAll({ limit: 17 }); page.events.length > 0; ) {
      read.push(...page.events.map((event) => event.eventId));
      page = await store.readAll({ after: page.next, limit: 17 });
    }
    expect(read).toEqual(ids);
    for (const stream of new Set(appended.map((event) => event.stream))) {
      const loaded = (await store.load(stream)).map((event) => event.eventId);
      expect(loaded).toEqual(appended.filter((event) => event.stream === stream).map((event) => event.id));
    }
    expect((await store.head()).position.globalPosition).toBe(BigInt(ids.length));

    // Every id is found by its text: again for its stream is a duplicate, elsewhere refused.
    for (const [index, { stream, id }] of appended.entries()) {
      if (index % 3 !== 0 && index < appended.length - 20) continue;
      const retry = await store.append(stream, ANY, [noted(0, { eventId: id })]);
      expect(retry.duplicate).toBe(true);
      expect(retry.events[0]!.eventId).toBe(id);
      await expect(store.append('elsewhere', ANY, [noted(0, { eventId: id })])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
    // Ids one digit away from made ones are not found.
    for (const id of [made[0]!, made[50]!, made.at(-1)!]) {
      const near = id.slice(0, -1) + (id.endsWith('0') ? '1' : '0');
      if (ids.includes(near)) continue;
      expect((await store.append('near', ANY, [noted(0, { eventId: near })])).duplicate).toBe(false);
    }
  });
});
