import {
  ANY,
  DuplicateEventError,
  defineEvent,
  EventRegistry,
  InMemoryEventStore,
  LOG_START,
  type NewEvent,
  NO_STREAM,
  SerializationError,
} from 'annals';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod3';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// `details` is left to the caller (z.any and friends hand back the caller's object itself).
const LineAdded = defineEvent({
  type: 'LineAdded',
  schema: z.object({ sku: z.string(), tags: z.array(z.string()), details: z.any() }),
});
const LineAdded3 = defineEvent({
  type: 'LineAdded3',
  schema: z3.object({ sku: z3.string(), tags: z3.array(z3.string()), details: z3.any() }),
});
const LineAddedV = defineEvent({
  type: 'LineAddedV',
  schema: v.object({ sku: v.string(), tags: v.array(v.string()), details: v.any() }),
});
const registry = () => new EventRegistry([LineAdded, LineAdded3, LineAddedV]);

function line(
  type: string,
  eventId?: string,
): NewEvent & {
  payload: { sku: string; tags: string[]; details: { note: { text: string } } };
  metadata: { tenant: { name: string } };
} {
  return {
    type,
    aggregateType: 'Cart',
    payload: { sku: 'a', tags: ['x'], details: { note: { text: 'as given' } } },
    metadata: { tenant: { name: 't-1' } },
    timestamp: new Date('2026-01-02T03:04:05.678Z'),
    ...(eventId === undefined ? {} : { eventId }),
  };
}

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const asGiven = {
  payload: { sku: 'a', tags: ['x'], details: { note: { text: 'as given' } } },
  metadata: { tenant: { name: 't-1' } },
};

describe('InMemoryEventStore: what callers hold cannot change stored events', () => {
  for (const type of ['LineAdded', 'LineAdded3', 'LineAddedV']) {
    it(`${type}: not through the appended payload, metadata or timestamp`, async () => {
      const store = new InMemoryEventStore({ registry: registry() });
      const event = line(type);
      await store.append('cart-1', NO_STREAM, [event]);
      event.payload.sku = 'changed';
      event.payload.tags.push('changed');
      event.payload.details.note.text = 'changed';
      event.metadata.tenant.name = 'changed';
      event.timestamp!.setTime(0);
      const [loaded] = await store.load('cart-1');
      expect(loaded).toMatchObject(asGiven);
      expect(loaded!.timestamp.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    });

    it(`${type}: not through the events an append, a load or a log read returned`, async () => {
      const store = new InMemoryEventStore({ registry: registry() });
      const appended = (await store.append('cart-1', NO_STREAM, [line(type)])).events;
      const loaded = await store.load('cart-1');
      const read = (await store.readAll()).events;
      const head = await store.head();
      for (const event of [...appended, ...loaded, ...read]) {
        const payload = event.payload as (typeof asGiven)['payload'];
        payload.tags.push('changed');
        payload.details.note.text = 'changed';
        (event.metadata.tenant as { name: string }).name = 'changed';
        event.timestamp.setTime(0);
      }
      head.timestamp!.setTime(0);
      const [again] = await store.load('cart-1');
      expect(again).toMatchObject(asGiven);
      expect(again!.timestamp.toISOString()).toBe('2026-01-02T03:04:05.678Z');
      expect((await store.head()).timestamp!.toISOString()).toBe('2026-01-02T03:04:05.678Z');
      // Each read hands out its own objects.
      const [other] = await store.load('cart-1');
      expect(other!.payload).not.toBe(again!.payload);
      expect((other!.payload as (typeof asGiven)['payload']).details).not.toBe(
        (again!.payload as (typeof asGiven)['payload']).details,
      );
    });
  }
});

describe('InMemoryEventStore: payloads are stored as JSON would store them', () => {
  it('reads back the JSON form of values that are not plain JSON data', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const details = {
      at: new Date('2026-01-02T00:00:00.000Z'),
      gone: undefined,
      list: [undefined, 1],
      nan: Number.NaN,
    };
    await store.append('cart-1', NO_STREAM, [
      { ...line('LineAdded'), payload: { sku: 'a', tags: [], details } },
    ]);
    const [loaded] = await store.load('cart-1');
    expect(loaded!.payload).toStrictEqual({
      sku: 'a',
      tags: [],
      details: { at: '2026-01-02T00:00:00.000Z', list: [null, 1], nan: null },
    });
  });

  it('refuses what JSON cannot hold, writing nothing', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const details of [10n, cycle, 'nul \u0000', { 'lone \ud800': 1 }]) {
      await expect(
        store.append('cart-1', ANY, [{ ...line('LineAdded'), payload: { sku: 'a', tags: [], details } }]),
      ).rejects.toBeInstanceOf(SerializationError);
    }
    await expect(
      store.append('cart-1', ANY, [{ ...line('LineAdded'), metadata: { big: 1n } }]),
    ).rejects.toBeInstanceOf(SerializationError);
    expect(await store.streamVersion('cart-1')).toBe(0);
  });
});

describe('InMemoryEventStore: ids the registry made', () => {
  it('are UUIDv7, and a retry with them is a duplicate; elsewhere they are refused', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const first = await store.append('cart-1', NO_STREAM, [line('LineAdded'), line('LineAdded')]);
    await store.append('cart-2', NO_STREAM, [line('LineAdded')]);
    const ids = first.events.map((event) => event.eventId);
    for (const id of ids) expect(id).toMatch(UUID_V7);

    const retry = await store.append(
      'cart-1',
      0,
      ids.map((id) => line('LineAdded', id)),
    );
    expect(retry.duplicate).toBe(true);
    expect(retry.events.map((event) => event.eventId)).toEqual(ids);
    expect(retry.nextExpectedVersion).toBe(2);
    const prefix = await store.append('cart-1', ANY, [line('LineAdded', ids[0])]);
    expect(prefix).toMatchObject({ duplicate: true, nextExpectedVersion: 1 });

    await expect(store.append('cart-3', NO_STREAM, [line('LineAdded', ids[1])])).rejects.toBeInstanceOf(
      DuplicateEventError,
    );
    await expect(
      store.append('cart-1', ANY, [line('LineAdded', ids[1]), line('LineAdded', ids[0])]),
    ).rejects.toBeInstanceOf(DuplicateEventError);
    expect(await store.streamVersion('cart-1')).toBe(2);
    expect(await store.streamVersion('cart-3')).toBe(0);
  });

  it('find given and made ids alike when they interleave', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const given: string[] = [];
    const made: string[] = [];
    for (let index = 0; index < 200; index++) {
      const id = `given-${index}`;
      given.push(id);
      await store.append(`cart-${index}`, NO_STREAM, [line('LineAdded', id), line('LineAdded')]);
      made.push((await store.load(`cart-${index}`))[1]!.eventId);
    }
    for (let index = 0; index < 200; index += 17) {
      const retry = await store.append(`cart-${index}`, ANY, [
        line('LineAdded', given[index]),
        line('LineAdded', made[index]),
      ]);
      expect(retry.duplicate).toBe(true);
      await expect(store.append('elsewhere', ANY, [line('LineAdded', made[index])])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
    // A made id given again for another stream, after the interleaving, is still found.
    const early = (await store.append('copy', NO_STREAM, [line('LineAdded')])).events[0]!.eventId;
    await expect(store.append('copy-2', NO_STREAM, [line('LineAdded', early)])).rejects.toBeInstanceOf(
      DuplicateEventError,
    );
  });

  it('finds every id, given in any order, among many runs of growing ids', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    // Ids that mostly grow, with some going back: stored in runs of growing ids and a map.
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const ids: string[] = [];
    for (let index = 0; index < 600; index++) {
      const id =
        next() % 4 === 0
          ? `id-${String(next() % 1000).padStart(4, '0')}-${index}`
          : `id-${String(index * 2).padStart(4, '0')}`;
      if (ids.includes(id)) continue;
      ids.push(id);
      await store.append(`cart-${index % 13}`, ANY, [line('LineAdded', id)]);
    }
    for (const id of ids) {
      await expect(store.append('elsewhere', ANY, [line('LineAdded', id)])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
    for (const absent of ['id-0001', 'id-0003', 'id-9999', 'a', 'zzz']) {
      const appended = await store.append('new', ANY, [line('LineAdded', absent)]);
      expect(appended.duplicate).toBe(false);
    }
    expect(await store.streamVersion('elsewhere')).toBe(0);
  });

  it('reads back ids of every length, made and given, in and after the block being filled', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const ids: string[] = [];
    for (let index = 0; index < 300; index++) {
      // Blocks of 64 ids whose lengths add up past 16 bits would not fit; 512 is the longest id.
      const length = index % 5 === 0 ? 512 : 1 + ((index * 37) % 512);
      const id =
        index % 7 === 0 ? undefined : `${index}-`.padEnd(length, String.fromCharCode(97 + (index % 26)));
      const appended = await store.append(`cart-${index % 3}`, ANY, [line('LineAdded', id)]);
      ids.push(appended.events[0]!.eventId);
    }
    const read = (await store.readAll({ limit: 1_000 })).events.map((event) => event.eventId);
    expect(read).toEqual(ids);
    for (const index of [0, 63, 64, 127, 128, 255, 256, 299]) {
      await expect(store.append('elsewhere', ANY, [line('LineAdded', ids[index])])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
  });

  it('works with a registry that is not this EventRegistry class (another copy of annals)', async () => {
    const inner = registry();
    const foreign = {
      encode: (event: NewEvent) => inner.encode(event),
      decode: inner.decode.bind(inner),
      get: inner.get.bind(inner),
      types: inner.types.bind(inner),
    } as unknown as EventRegistry;
    const store = new InMemoryEventStore({ registry: foreign });
    const appended = await store.append('cart-1', NO_STREAM, [line('LineAdded')]);
    const [loaded] = await store.load('cart-1');
    expect(loaded).toMatchObject(asGiven);
    const retry = await store.append('cart-1', ANY, [line('LineAdded', appended.events[0]!.eventId)]);
    expect(retry.duplicate).toBe(true);
  });
});

describe('InMemoryEventStore: timestamps and metadata as given', () => {
  it('keeps any timestamp to the millisecond, before 1970 and far ahead too', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    // Kept as two 32-bit integers: the multiple of 2^32 below it and the rest, so around both.
    const times = [
      -8.64e15,
      -(2 ** 32) - 1,
      -(2 ** 32),
      -(2 ** 31) - 1,
      -(2 ** 31),
      -1,
      0,
      1,
      16_777_215,
      16_777_216,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 1,
      Date.UTC(2026, 0, 2, 3, 4, 5, 678),
      8.64e15 - 1,
      8.64e15,
    ];
    await store.append(
      'cart-1',
      NO_STREAM,
      times.map((time) => ({ ...line('LineAdded'), timestamp: new Date(time) })),
    );
    expect((await store.load('cart-1')).map((event) => event.timestamp.getTime())).toEqual(times);
    expect((await store.readAll()).events.map((event) => event.timestamp.getTime())).toEqual(times);
    expect((await store.head()).timestamp!.getTime()).toBe(8.64e15);
  });

  it('reads back each event its own metadata, keys in their order, whatever came before', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const metadata = [
      { a: 1, b: 'x' },
      { a: 1, b: 'x' },
      { b: 'x', a: 1 },
      { a: 1, b: 'y' },
      { a: 1, b: 'x', c: null },
      { a: 1 },
      {},
      { a: 1, b: 'x' },
    ];
    await store.append(
      'cart-1',
      NO_STREAM,
      metadata.map((entry) => ({ ...line('LineAdded'), metadata: entry })),
    );
    const loaded = await store.load('cart-1');
    expect(loaded.map((event) => event.metadata)).toStrictEqual(metadata);
    expect(loaded.map((event) => Object.keys(event.metadata))).toEqual(
      metadata.map((entry) => Object.keys(entry)),
    );
    (loaded[0]!.metadata as { a: number }).a = 2;
    expect((await store.load('cart-1'))[1]!.metadata).toStrictEqual({ a: 1, b: 'x' });
  });
});

// A payload of primitives only: the store keeps its values, not an object.
const ItemAdded = defineEvent({
  type: 'ItemAdded',
  schema: z.object({ sku: z.string(), quantity: z.number(), gift: z.boolean(), note: z.string().nullable() }),
});
const CartNoted = defineEvent({ type: 'CartNoted', schema: z.object({ note: z.string() }).passthrough() });
const flatRegistry = () => new EventRegistry([ItemAdded, CartNoted, LineAdded]);
const item = (n: number): NewEvent => ({
  type: 'ItemAdded',
  aggregateType: 'Cart',
  payload: { sku: `sku-${n}`, quantity: n / 4, gift: n % 2 === 0, note: n % 3 === 0 ? null : 'as given' },
});

describe('InMemoryEventStore: flat payloads (primitives only)', () => {
  it('reads back what was given, whatever callers do to the objects they hold', async () => {
    const store = new InMemoryEventStore({ registry: flatRegistry() });
    const given = item(3);
    const appended = await store.append('cart-1', NO_STREAM, [given]);
    (given.payload as { sku: string }).sku = 'changed';
    (appended.events[0]!.payload as { sku: string }).sku = 'changed';
    const [loaded] = await store.load('cart-1');
    expect(loaded!.payload).toStrictEqual({ sku: 'sku-3', quantity: 0.75, gift: false, note: null });
    (loaded!.payload as { quantity: number }).quantity = 99;
    const read = (await store.readAll()).events[0]!;
    expect(read.payload).toStrictEqual({ sku: 'sku-3', quantity: 0.75, gift: false, note: null });
    expect(read.payload).not.toBe(loaded!.payload);
    expect(read.eventId).toBe(appended.events[0]!.eventId);
  });

  it('keeps flat and nested payloads, and payloads of several layouts, side by side', async () => {
    const store = new InMemoryEventStore({ registry: flatRegistry() });
    const expected: unknown[] = [];
    for (let n = 0; n < 30; n++) {
      const event: NewEvent =
        n % 3 === 0
          ? item(n)
          : n % 3 === 1
            ? { ...line('LineAdded'), payload: { sku: `line-${n}`, tags: [`t${n}`], details: { n } } }
            : // Keys of its own, in another order each time: each is a layout of its own.
              {
                type: 'CartNoted',
                aggregateType: 'Cart',
                payload: n % 2 === 0 ? { [`k${n}`]: n, note: `n-${n}` } : { note: `n-${n}`, [`k${n}`]: n },
              };
      // As validated: the schema puts its known keys first.
      const appended = await store.append(`cart-${n % 4}`, ANY, [event]);
      expected.push(roundTrip(appended.events[0]!.payload));
    }
    const read = (await store.readAll()).events;
    expect(read.map((event) => event.payload)).toStrictEqual(expected);
    expect(read.map((event) => Object.keys(event.payload as object))).toEqual(
      expected.map((payload) => Object.keys(payload as object)),
    );
    const loaded = await store.load('cart-2');
    expect(loaded.map((event) => event.payload)).toStrictEqual(expected.filter((_, n) => n % 4 === 2));
  });

  it('writes nothing of an append that fails after some of its payloads were read', async () => {
    const store = new InMemoryEventStore({ registry: flatRegistry() });
    await store.append('cart-1', NO_STREAM, [item(1)]);
    const bad = { type: 'ItemAdded', aggregateType: 'Cart', payload: { sku: 1 } };
    await expect(store.append('cart-1', 1, [item(2), item(3), bad])).rejects.toThrow();
    await expect(store.append('cart-1', 5, [item(2), item(3)])).rejects.toThrow();
    await store.append('cart-1', 1, [item(4)]);
    const loaded = await store.load('cart-1');
    expect(loaded.map((event) => (event.payload as { sku: string }).sku)).toEqual(['sku-1', 'sku-4']);
    expect((await store.readAll()).events).toHaveLength(2);
  });

  it('keeps a long log of them: values, numbers and streams past their first chunks', async () => {
    const store = new InMemoryEventStore({ registry: flatRegistry() });
    const total = 12_000;
    const ids: string[] = [];
    for (let n = 0; n < total; n += 40) {
      const appended = await store.append(
        n % 400 === 0 ? 'long' : `cart-${n}`,
        ANY,
        Array.from({ length: 40 }, (_, offset) => item(n + offset)),
      );
      ids.push(...appended.events.map((event) => event.eventId));
    }
    let after = LOG_START;
    let index = 0;
    for (;;) {
      const page = await store.readAll({ after, limit: 1_000 });
      for (const event of page.events) {
        expect(event.eventId).toBe(ids[index]);
        expect(event.payload).toStrictEqual(roundTrip(item(index).payload));
        index++;
      }
      after = page.next;
      if (page.caughtUp) break;
    }
    expect(index).toBe(total);
    const long = await store.load('long');
    expect(long).toHaveLength(1_200);
    expect(long.map((event) => event.version)).toEqual(Array.from({ length: 1_200 }, (_, i) => i + 1));
    expect(long.at(-1)!.payload).toStrictEqual(roundTrip(item(11_639).payload));
    for (const at of [0, 4_095, 4_096, 8_191, 8_192, 11_999]) {
      await expect(store.append('elsewhere', ANY, [{ ...item(0), eventId: ids[at] }])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
  });
});

describe('InMemoryEventStore: a log longer than one chunk of rows', () => {
  it('loads, reads, counts and finds ids across chunks as within one', async () => {
    const store = new InMemoryEventStore({ registry: registry() });
    const total = 10_000;
    const ids: string[] = [];
    for (let index = 0; index < total; index += 50) {
      const events = Array.from({ length: 50 }, (_, offset) => ({
        ...line('LineAdded', (index + offset) % 7 === 0 ? `given-${index + offset}` : undefined),
        payload: { sku: `sku-${index + offset}`, tags: [], details: { n: index + offset } },
      }));
      const appended = await store.append(`cart-${(index / 50) % 3}`, ANY, events);
      ids.push(...appended.events.map((event) => event.eventId));
    }
    const streams = await Promise.all([0, 1, 2].map((n) => store.load(`cart-${n}`)));
    expect(streams.map((events) => events.length).reduce((a, b) => a + b)).toBe(total);
    for (const events of streams) {
      expect(events.map((event) => event.version)).toEqual(events.map((_, index) => index + 1));
    }
    const range = await store.load('cart-1', { fromVersion: 1_500, toVersion: 1_700 });
    expect(range.map((event) => event.version)).toEqual(Array.from({ length: 201 }, (_, i) => 1_500 + i));

    const read: string[] = [];
    let after = LOG_START;
    for (;;) {
      const page = await store.readAll({ after, limit: 999 });
      for (const event of page.events) {
        expect(event.globalPosition).toBe(BigInt(read.length + 1));
        expect((event.payload as { sku: string }).sku).toBe(`sku-${read.length}`);
        read.push(event.eventId);
      }
      after = page.next;
      if (page.caughtUp) break;
    }
    expect(read).toEqual(ids);
    expect((await store.head()).position.globalPosition).toBe(BigInt(total));
    expect(await store.countAfter({ transactionId: 100n, globalPosition: 5_000n })).toBe(
      BigInt(total - 5_000),
    );

    for (const index of [0, 4_095, 4_096, 8_191, 8_192, 9_999]) {
      await expect(store.append('elsewhere', ANY, [line('LineAdded', ids[index])])).rejects.toBeInstanceOf(
        DuplicateEventError,
      );
    }
    const first = Math.floor(8_200 / 50) * 50;
    const retry = await store.append(
      `cart-${(first / 50) % 3}`,
      ANY,
      ids.slice(first, first + 50).map((id) => line('LineAdded', id)),
    );
    expect(retry.duplicate).toBe(true);
    expect(retry.events.map((event) => event.globalPosition)).toEqual(
      Array.from({ length: 50 }, (_, i) => BigInt(first + i + 1)),
    );
  });
});

describe('InMemoryEventStore: reads', () => {
  it('hand out new objects on every read, and report an event that no longer validates as stored', async () => {
    let valid = true;
    const Checked = defineEvent({
      type: 'Checked',
      schema: z.object({ n: z.number() }).refine(() => valid, 'refused by the schema of the day'),
    });
    const store = new InMemoryEventStore({ registry: new EventRegistry([Checked]) });
    const event = (n: number): NewEvent => ({ type: 'Checked', aggregateType: 'Check', payload: { n } });
    await store.append('check-1', NO_STREAM, [event(1), event(2)]);

    const [first] = await store.load('check-1');
    (first as { payload: { n: number } }).payload.n = 99;
    (first as { metadata: Record<string, unknown> }).metadata.changed = true;
    const [again] = await store.load('check-1');
    expect(again).not.toBe(first);
    expect(again).toMatchObject({ payload: { n: 1 }, metadata: {} });

    valid = false;
    const page = await store.readAll({ onUndecodable: 'report' });
    expect(page.events).toEqual([]);
    expect(page.undecodable?.map((failure) => failure.raw.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(page.undecodable?.map((failure) => failure.raw.schemaVersion)).toEqual([1, 1]);
    await expect(store.load('check-1')).rejects.toMatchObject({ code: 'ANNALS_EVENT_VALIDATION' });

    valid = true;
    expect((await store.readAll()).events.map((read) => read.payload)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
