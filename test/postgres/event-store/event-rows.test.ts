import { ErrorCode, isAnnalsError, NO_STREAM } from 'annals';
import { type PgPool, PostgresEventStore } from 'annals/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeEventRows,
  type RawEventRow,
  toRawEvents,
} from '../../../src/postgres/event-store/event-rows.js';
import { hasServer, usePostgres } from '../../support/postgres.js';
import { added, registry, rejection, sleep, streamId } from './fixtures.js';

function row(overrides: Partial<RawEventRow> = {}): RawEventRow {
  return {
    eventId: 'e-1',
    aggregateId: 'cart-1',
    aggregateType: 'Cart',
    type: 'ItemAdded',
    version: 1,
    schemaVersion: 1,
    timestamp: new Date('2024-05-06T07:08:09.123Z'),
    payload: { sku: 'a', quantity: 1 },
    metadata: { correlationId: 'c' },
    globalPosition: '9007199254740993',
    transactionId: '18446744073709551615',
    ...overrides,
  };
}

describe('event rows', () => {
  it('become raw events in place, with exact positions past 2^53', () => {
    const rows = [
      row(),
      row({ timestamp: '2024-05-06 07:08:09.123+00', version: '2' as never }),
      row({ timestamp: '1714979289123' }),
      row({ timestamp: 1714979289123n }),
      row({ timestamp: -1 }),
    ];
    const raws = toRawEvents(rows);
    expect(raws).toBe(rows as unknown);
    expect(raws[0]!.globalPosition).toBe(2n ** 53n + 1n);
    expect(raws[0]!.transactionId).toBe(2n ** 64n - 1n);
    for (const raw of raws.slice(0, 4)) expect(raw.timestamp).toEqual(new Date('2024-05-06T07:08:09.123Z'));
    expect(raws[4]!.timestamp).toEqual(new Date('1969-12-31T23:59:59.999Z'));
    expect(raws[1]!.version).toBe(2);
  });

  it('are validated by the registry when decoded', () => {
    const [event] = decodeEventRows(registry(), [row()]);
    expect(event).toEqual({
      eventId: 'e-1',
      aggregateId: 'cart-1',
      aggregateType: 'Cart',
      type: 'ItemAdded',
      version: 1,
      schemaVersion: 1,
      timestamp: new Date('2024-05-06T07:08:09.123Z'),
      payload: { sku: 'a', quantity: 1 },
      metadata: { correlationId: 'c' },
      globalPosition: 2n ** 53n + 1n,
      transactionId: 2n ** 64n - 1n,
    });
    let error: unknown;
    try {
      decodeEventRows(registry(), [row({ payload: { sku: '', quantity: 1 } })]);
    } catch (caught) {
      error = caught;
    }
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
  });
});

describe('the store reads', () => {
  const db = usePostgres();
  let store: PostgresEventStore;
  const statements: Array<string | { name: string }> = [];

  beforeAll(() => {
    // Records how the store sends its reads of `events` to the pool: named or as plain text.
    const pool: PgPool = {
      ...db.pool,
      query: ((statement: string | { name: string; text: string; values: unknown[] }, values?: unknown[]) => {
        const text = typeof statement === 'string' ? statement : statement.text;
        if (/^SELECT .* FROM \S+\.events e WHERE/.test(text)) {
          statements.push(typeof statement === 'string' ? statement : { name: statement.name });
        }
        return typeof statement === 'string' ? db.pool.query(statement, values) : db.pool.query(statement);
      }) as PgPool['query'],
      connect: () => db.pool.connect(),
    };
    store = new PostgresEventStore({ pool, registry: registry(), schema: db.schema, horizon: 'cluster' });
  });
  afterAll(async () => {
    await store.close();
  });

  it('load and readAll run named statements on the pool, and load plain text on a caller connection', async () => {
    const id = streamId('rows');
    await store.append(id, NO_STREAM, [added('a'), added('b')]);
    statements.length = 0;
    expect((await store.load(id)).map((event) => event.version)).toEqual([1, 2]);
    await store.readAll({ limit: 1 });
    expect(statements).toEqual([
      { name: expect.stringMatching(/^annals_load_/) },
      { name: expect.stringMatching(/^annals_read_all_/) },
    ]);
    const inTransaction = await store.withTransaction(async (tx) => {
      await tx.append(id, 2, [added('c')]);
      return tx.load(id);
    });
    expect(inTransaction.map((event) => event.payload)).toEqual([
      { sku: 'a', quantity: 1 },
      { sku: 'b', quantity: 1 },
      { sku: 'c', quantity: 1 },
    ]);
  });

  it('timestamps read as epoch milliseconds: rounded down to the millisecond, BC dates included', async () => {
    // Rows another writer stored with microseconds, before 1970, at the ends of the range.
    const stamps: Array<[string, number]> = [
      ['1969-12-31 23:59:59.9995+00', -1],
      ['1970-01-01 00:00:00.0005+00', 0],
      ['2024-05-06 07:08:09.1239+00', Date.UTC(2024, 4, 6, 7, 8, 9, 123)],
      ['2024-05-06 07:08:09.5+00', Date.UTC(2024, 4, 6, 7, 8, 9, 500)],
      ['0001-01-01 00:00:00.0001+00 BC', -62_167_219_200_000],
      ['4713-01-01 00:00:00+00 BC', -210_863_520_000_000],
      ['9999-12-31 23:59:59.999999+00', Date.UTC(9999, 11, 31, 23, 59, 59, 999)],
    ];
    const id = streamId('stamps');
    await store.append(
      id,
      NO_STREAM,
      stamps.map((_, n) => added(`t${n}`)),
    );
    await db.pool.query(
      `UPDATE "${db.schema}".events e SET "timestamp" = ($2::text[])[e.version]::timestamptz WHERE aggregate_id = $1`,
      [id, stamps.map(([text]) => text)],
    );
    const expected = stamps.map(([, ms]) => ms);
    const loaded = await store.load(id);
    expect(loaded.map((event) => event.timestamp.getTime())).toEqual(expected);
    if (hasServer) {
      // What pg's own parsing of the text makes of them (PGlite's cannot parse BC dates).
      const { rows } = await db.pool.query<{ timestamp: Date }>(
        `SELECT "timestamp" FROM "${db.schema}".events WHERE aggregate_id = $1 ORDER BY version`,
        [id],
      );
      expect(rows.map((row) => row.timestamp.getTime())).toEqual(expected);
    }
    // The log reads them the same way (once the horizon shows them: a transaction of another
    // database ending mid-read can hide them for a moment).
    let fromLog: number[] = [];
    for (let attempt = 0; attempt < 100 && fromLog.length < stamps.length; attempt++) {
      if (attempt > 0) await sleep(50);
      const page = await store.readAll({ limit: 10_000 });
      fromLog = page.events
        .filter((event) => event.aggregateId === id)
        .map((event) => event.timestamp.getTime());
    }
    expect(fromLog).toEqual(expected);
  });

  it('a stored payload that fails its schema fails the load', async () => {
    const id = streamId('invalid');
    await store.append(id, NO_STREAM, [added('a')]);
    await db.pool.query(
      `UPDATE "${db.schema}".events SET payload = '{"sku":"","quantity":1}' WHERE aggregate_id = $1`,
      [id],
    );
    expect(isAnnalsError(await rejection(store.load(id)), ErrorCode.EventValidation)).toBe(true);
  });
});
