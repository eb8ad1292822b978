import { ANY, NO_STREAM, STREAM_EXISTS } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshAppendResult,
  isoTimestamp,
  prepareAppend,
} from '../../../src/postgres/event-store/append-input.js';
import { usePostgres } from '../../support/postgres.js';
import { added, noted, registry, streamId } from './fixtures.js';

const db = usePostgres();
let store: PostgresEventStore;

beforeAll(() => {
  store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
});
afterAll(async () => {
  await store.close();
});

const AWKWARD = [
  'quote " and backslash \\ and \\" together',
  'line\nbreak\ttab \u2028 \u2029',
  'emoji 🎉 and ünïcödé and \u{10FFFF}',
  '{"looks":"like json"}',
  '',
];

describe('multi-event appends (rows sent as one JSON document)', () => {
  it('store every column exactly as given, and return what load returns', async () => {
    const id = streamId('json-rows');
    const events = [
      ...AWKWARD.map((text, n) => ({
        ...noted(text, { n, nested: { list: [1, 2.5, -3e-7, null, true], text } }),
        metadata: { correlationId: text, deep: { n } },
        timestamp: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999 - n)),
      })),
      {
        ...added('x'),
        aggregateType: 'Cart " \\ type',
        timestamp: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
      },
      { ...added('y'), timestamp: new Date(Date.UTC(1, 0, 1) - 1) },
    ];
    const result = await store.append(id, NO_STREAM, events);
    const loaded = await store.load(id);
    expect(loaded).toEqual(result.events);
    expect(loaded.map((event) => event.version)).toEqual(events.map((_, n) => n + 1));
    expect(loaded.map((event) => event.timestamp.getTime())).toEqual(
      events.map((event) => event.timestamp.getTime()),
    );
    expect(loaded.slice(0, AWKWARD.length).map((event) => (event.payload as { text: string }).text)).toEqual(
      AWKWARD,
    );
    expect(loaded[AWKWARD.length]!.aggregateType).toBe('Cart " \\ type');
  });

  it('follow every expected-version mode', async () => {
    const id = streamId('json-modes');
    expect((await store.append(id, NO_STREAM, [added('a'), added('b')])).nextExpectedVersion).toBe(2);
    expect((await store.append(id, 2, [added('c'), added('d')])).nextExpectedVersion).toBe(4);
    expect((await store.append(id, ANY, [added('e'), added('f')])).nextExpectedVersion).toBe(6);
    expect((await store.append(id, STREAM_EXISTS, [added('g'), added('h')])).nextExpectedVersion).toBe(8);
    expect((await store.load(id)).map((event) => (event.payload as { sku: string }).sku).join('')).toBe(
      'abcdefgh',
    );
  });
});

describe('isoTimestamp', () => {
  it('is toISOString for every date annals can store', () => {
    const edges = [
      0,
      -1,
      Date.UTC(999, 11, 31, 23, 59, 59, 999),
      Date.UTC(1000, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    ];
    for (const ms of [...edges, Date.UTC(-4712, 0, 1), Date.UTC(10000, 0, 1)]) {
      expect(isoTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
    }
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
          fc.integer({ min: Date.UTC(-4712, 0, 1), max: 8.64e15 }),
        ),
        (ms) => {
          expect(isoTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('freshAppendResult', () => {
  const result = (metadata: Array<Record<string, unknown> | undefined>) => {
    const prepared = prepareAppend(
      registry(),
      'cart-1',
      NO_STREAM,
      metadata.map((entry, n) => ({ ...added(`s${n}`), metadata: entry })),
      false,
    );
    return freshAppendResult(prepared, {
      next_version: metadata.length,
      transaction_id: '18446744073709551615',
      positions: metadata.map((_, n) => String(2n ** 53n + BigInt(n))),
    });
  };

  it('gives every event its own copy of shared metadata', () => {
    const shared = { correlationId: 'c', n: 1, ok: true, none: null };
    const { events } = result([shared, shared, shared]);
    expect(events.map((event) => event.metadata)).toEqual([shared, shared, shared]);
    expect(new Set(events.map((event) => event.metadata)).size).toBe(3);
    expect(events.some((event) => event.metadata === shared)).toBe(false);
    (events[0]!.metadata as Record<string, unknown>).correlationId = 'changed';
    expect(events[1]!.metadata.correlationId).toBe('c');
  });

  it('copies nested metadata deeply, and metadata as stored (through JSON)', () => {
    const nested = { deep: { list: [1] }, when: new Date(0) };
    const { events } = result([nested, nested, undefined]);
    expect(events[0]!.metadata).toEqual({ deep: { list: [1] }, when: '1970-01-01T00:00:00.000Z' });
    expect(events[0]!.metadata.deep).not.toBe(events[1]!.metadata.deep);
    expect(events[2]!.metadata).toEqual({});
    expect(events.map((event) => event.globalPosition)).toEqual([2n ** 53n, 2n ** 53n + 1n, 2n ** 53n + 2n]);
    expect(events[0]!.transactionId).toBe(2n ** 64n - 1n);
  });

  it('takes positions as a text array or joined by commas', () => {
    const prepared = prepareAppend(registry(), 'cart-1', NO_STREAM, [added('a'), added('b')], false);
    const row = { next_version: 2, transaction_id: '7' };
    const joined = freshAppendResult(prepared, { ...row, positions: '9007199254740993,9007199254740995' });
    expect(joined.events.map((event) => event.globalPosition)).toEqual([2n ** 53n + 1n, 2n ** 53n + 3n]);
    const array = freshAppendResult(prepared, { ...row, positions: ['1', '2'] });
    expect(array.events.map((event) => event.globalPosition)).toEqual([1n, 2n]);
    expect(() => freshAppendResult(prepared, { ...row, positions: '1' })).toThrow(/1 positions for 2 events/);
  });

  it('keeps the key __proto__ of metadata as a plain key', () => {
    const metadata = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, unknown>;
    const { events } = result([metadata, metadata]);
    for (const event of events) {
      expect(Object.getPrototypeOf(event.metadata)).toBe(Object.prototype);
      expect(Object.keys(event.metadata)).toEqual(['__proto__', 'a']);
    }
  });
});
