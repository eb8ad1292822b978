import {
  ANY,
  compareLogPositions,
  ErrorCode,
  isAnnalsError,
  LOG_START,
  NO_STREAM,
  type StoredEvent,
} from 'annals';
import { migrate, PostgresEventStore } from 'annals/postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventStoreSql } from '../../../src/postgres/event-store/event-store-sql.js';
import { settledHead } from '../../../src/testing/contract/fixtures.js';
import { usePostgres } from '../../support/postgres.js';
import { added, noted, registry, rejection, streamId } from './fixtures.js';

const db = usePostgres();
let store: PostgresEventStore;

beforeAll(() => {
  store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
});
afterAll(async () => {
  await store.close();
});

async function countEvents(schema = db.schema): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".events`);
  return rows[0]!.n;
}

async function readWholeLog(target: PostgresEventStore, limit: number): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  let after = LOG_START;
  for (;;) {
    const page = await target.readAll({ after, limit });
    seen.push(...page.events);
    after = page.next;
    if (page.caughtUp) return seen;
  }
}

describe('the global log', () => {
  it('is ordered numerically, also where positions gain a digit', async () => {
    // The file's schema is fresh, so these positions run across 9 -> 10 and 99 -> 100.
    for (let n = 0; n < 12; n++) await store.append(streamId('digits'), NO_STREAM, [added(`d${n}`)]);
    await store.append(
      streamId('digits'),
      NO_STREAM,
      Array.from({ length: 95 }, (_, n) => added(`b${n}`)),
    );
    // Read until the log shows every committed event: a transaction of another database
    // (another test file's) ending mid-read can hold it back for a moment.
    await vi.waitFor(
      async () => {
        const seen = await readWholeLog(store, 7);
        expect(seen.length).toBe(await countEvents());
        for (let index = 1; index < seen.length; index++) {
          expect(compareLogPositions(seen[index - 1]!, seen[index]!)).toBeLessThan(0);
        }
        const positions = seen.map((event) => event.globalPosition);
        expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
        const head = await store.head();
        expect(head.position).toEqual({
          transactionId: seen.at(-1)!.transactionId,
          globalPosition: seen.at(-1)!.globalPosition,
        });
        expect(await store.countAfter(LOG_START)).toBe(BigInt(seen.length));
      },
      { timeout: 10_000, interval: 20 },
    );
  });

  it('keeps positions exact past 2^53', async () => {
    const schema = `${db.schema}_big`;
    await migrate(db.pool, { schema });
    try {
      const start = 2n ** 53n + 1n;
      await db.pool.query(
        `ALTER TABLE "${schema}".events ALTER COLUMN global_position RESTART WITH ${start}`,
      );
      const big = new PostgresEventStore({ pool: db.pool, registry: registry(), schema });
      const result = await big.append(streamId('big'), NO_STREAM, [added('a'), added('b'), added('c')]);
      expect(result.events.map((event) => event.globalPosition)).toEqual([start, start + 1n, start + 2n]);
      const loaded = await big.load(result.aggregateId);
      expect(loaded.map((event) => event.globalPosition)).toEqual([start, start + 1n, start + 2n]);
      // Once the log shows them (see 'is ordered numerically').
      await vi.waitFor(
        async () => {
          const page = await big.readAll({ after: { transactionId: 0n, globalPosition: 0n }, limit: 2 });
          expect(page.events.map((event) => event.globalPosition)).toEqual([start, start + 1n]);
          expect(await big.countAfter(page.next)).toBe(1n);
          expect((await big.head()).position.globalPosition).toBe(start + 2n);
        },
        { timeout: 10_000, interval: 20 },
      );
      await big.close();
    } finally {
      await db.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  it('rejects malformed positions and limits', async () => {
    for (const after of [
      { transactionId: 1, globalPosition: 1n },
      { transactionId: -1n, globalPosition: 0n },
      { transactionId: 0n, globalPosition: 2n ** 63n },
      'start',
    ]) {
      expect(
        isAnnalsError(await rejection(store.readAll({ after: after as never })), ErrorCode.InvalidArgument),
      ).toBe(true);
    }
    expect(isAnnalsError(await rejection(store.readAll({ limit: 0 })), ErrorCode.InvalidArgument)).toBe(true);
    expect(isAnnalsError(await rejection(store.countAfter({} as never)), ErrorCode.InvalidArgument)).toBe(
      true,
    );
  });
});

describe('log pages', () => {
  it('of every size read the same events as the whole log, in order', async () => {
    const id = streamId('page-sizes');
    await store.append(
      id,
      NO_STREAM,
      Array.from({ length: 120 }, (_, n) => added(`p${n}`)),
    );
    const whole = (await readWholeLog(store, 10_000)).map((event) => event.eventId);
    expect(whole.length).toBeGreaterThanOrEqual(120);
    // Limits on both sides of each bound a page's statement is chosen by (10, 100, 1,000).
    for (const limit of [1, 9, 10, 11, 99, 100, 101, 1000, 1001]) {
      const paged = (await readWholeLog(store, limit)).map((event) => event.eventId);
      expect(paged.slice(0, whole.length), `limit ${limit}`).toEqual(whole);
      const first = await store.readAll({ limit });
      expect(first.events.map((event) => event.eventId)).toEqual(whole.slice(0, limit));
    }
  });

  it('keep one plan per connection: the generic plan, an index scan in log order', async () => {
    // Planned again for every page, a page of the log cost up to a millisecond more. A bare
    // `LIMIT $3` was planned again once the log held more than ten times the limit (by the
    // planner's estimate): a schema of its own holds 50,000 rows here.
    const schema = `${db.schema}_pages`;
    await migrate(db.pool, { schema });
    const client = await db.pool.connect();
    try {
      await client.query(
        `INSERT INTO "${schema}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, "timestamp") ` +
          "SELECT 's' || (n / 100), 'A', n % 100 + 1, 'e' || n, 'T', 1, '{}', now() FROM generate_series(0, 49999) AS n",
      );
      await client.query(`ANALYZE "${schema}".events`);
      for (const scope of ['database', 'cluster'] as const) {
        for (const limit of [7, 100, 1000]) {
          const statement = eventStoreSql(`"${schema}"`, scope).readAllRaw(limit);
          await client.query(`PREPARE annals_test_page(text, text, integer) AS ${statement.text}`);
          // PostgreSQL plans the first five executions for their values, then keeps the generic
          // plan unless it costs more than those did.
          for (let run = 0; run < 6; run++)
            await client.query(`EXECUTE annals_test_page('0', '0', ${limit})`);
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN EXECUTE annals_test_page('0', '0', ${limit})`,
          );
          await client.query('DEALLOCATE annals_test_page');
          const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
          expect(plan, `${scope}, limit ${limit}`).toMatch(/Index Scan using events_log_order_idx/);
          // A generic plan keeps the parameters; a plan for the values shows them.
          expect(plan, `${scope}, limit ${limit}`).toMatch(/ROW\(\(\$1\)/);
          expect(plan, `${scope}, limit ${limit}`).not.toMatch(/Seq Scan on events|Sort/);
        }
      }
    } finally {
      await client.query('DEALLOCATE annals_test_page').catch(() => {});
      client.release();
      await db.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });
});

describe("the one-event fast path's statements", () => {
  it('probe the stream index even in a generic plan made while the table is small', async () => {
    // Each connection keeps the plan of a named statement: a sequential scan chosen while the
    // table was small would be kept as it grows.
    const sql = eventStoreSql(`"${db.schema}"`);
    const client = await db.pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const statement of [sql.insertOneAt, sql.insertOneAfterLast]) {
        await client.query(
          'PREPARE annals_test_one(text, integer, text, text, text, integer, text, text, text) AS ' +
            statement.text,
        );
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          "EXPLAIN EXECUTE annals_test_one('a', 1, 'e', 'A', 'T', 1, '{}', '{}', '2026-01-01T00:00:00Z')",
        );
        await client.query('DEALLOCATE annals_test_one');
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        expect(plan).toMatch(/Index (Only )?Scan (Backward )?using events_stream_version_key/);
        expect(plan).not.toMatch(/Seq Scan/);
      }
    } finally {
      await client.query('RESET plan_cache_mode').catch(() => {});
      await client.query('DEALLOCATE annals_test_one').catch(() => {});
      client.release();
    }
  });

  it('write version 1 of a new stream, and the version right after an exact one, or nothing', async () => {
    const id = streamId('fast-path');
    const first = await store.append(id, NO_STREAM, [added('one')]);
    expect(first.nextExpectedVersion).toBe(1);
    await expect(store.append(id, NO_STREAM, [added('again')])).rejects.toMatchObject({
      code: ErrorCode.Concurrency,
      actualVersion: 1,
    });
    const second = await store.append(id, 1, [added('two')]);
    expect(second.nextExpectedVersion).toBe(2);
    // Behind the stream (version 2 is taken) and ahead of it (version 5 is not stored).
    await expect(store.append(id, 1, [added('late')])).rejects.toMatchObject({ actualVersion: 2 });
    await expect(store.append(id, 5, [added('ahead')])).rejects.toMatchObject({ actualVersion: 2 });
    const stored = await store.load(id);
    expect(stored.map((event) => [event.version, (event.payload as { sku: string }).sku])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    // What the append returned is what was stored, position and transaction included.
    expect(second.events[0]).toEqual(stored[1]);
  });
});

describe('reading rows the registry cannot decode', () => {
  it('an unknown event type on read is an UnknownEventTypeError, on load and on readAll', async () => {
    const id = streamId('unknown-read');
    const before = await settledHead(store);
    await db.pool.query(
      `INSERT INTO "${db.schema}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
       VALUES ($1, 'Cart', 1, $2, 'NoLongerExists', 1, '{}', '{}', now())`,
      [id, `${id}-e1`],
    );
    const onLoad = await rejection(store.load(id));
    expect(isAnnalsError(onLoad, ErrorCode.UnknownEventType)).toBe(true);
    expect(onLoad).toMatchObject({ eventType: 'NoLongerExists', eventId: `${id}-e1` });
    await vi.waitFor(
      async () =>
        expect(
          isAnnalsError(
            await rejection(store.readAll({ after: before.position })),
            ErrorCode.UnknownEventType,
          ),
        ).toBe(true),
      { timeout: 10_000, interval: 20 },
    );
  });

  it('a stored payload that fails its schema is an EventValidationError on read', async () => {
    const id = streamId('invalid-read');
    await db.pool.query(
      `INSERT INTO "${db.schema}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, metadata, "timestamp")
       VALUES ($1, 'Cart', 1, $2, 'ItemAdded', 1, '{"sku": "", "quantity": -3}', '{}', now())`,
      [id, `${id}-e1`],
    );
    expect(isAnnalsError(await rejection(store.load(id)), ErrorCode.EventValidation)).toBe(true);
  });
});

describe('input PostgreSQL cannot store: typed errors, nothing written', () => {
  it('NUL in a payload or metadata, and lone surrogates, are SerializationErrors', async () => {
    const before = await countEvents();
    const id = streamId('nul');
    const cases = [
      [added('ok'), noted('nul \u0000 inside')],
      [added('ok'), { ...added('meta'), metadata: { note: 'nul \u0000' } }],
      [added('ok'), noted('lone \ud800 surrogate')],
    ];
    for (const events of cases) {
      const error = await rejection(store.append(id, NO_STREAM, events));
      expect(isAnnalsError(error, ErrorCode.Serialization), String(error)).toBe(true);
    }
    expect(await store.streamVersion(id)).toBe(0);
    expect(await countEvents()).toBe(before);
    // A backslash followed by "u0000" is ordinary text and is stored.
    await store.append(id, NO_STREAM, [noted('\\u0000 is fine')]);
    expect((await store.load(id))[0]!.payload).toEqual({ text: '\\u0000 is fine' });
  });

  it('NUL in an id, or a timestamp before 4713 BC, is an InvalidArgumentError', async () => {
    const before = await countEvents();
    expect(
      isAnnalsError(
        await rejection(store.append('cart\u0000x', NO_STREAM, [added('a')])),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    const nulId = added('a', { eventId: 'id\u0000' });
    expect(
      isAnnalsError(
        await rejection(store.append(streamId('x'), NO_STREAM, [nulId])),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    const ancient = added('a', { timestamp: new Date(Date.UTC(-5000, 0, 1)) });
    expect(
      isAnnalsError(
        await rejection(store.append(streamId('x'), NO_STREAM, [ancient])),
        ErrorCode.InvalidArgument,
      ),
    ).toBe(true);
    expect(await countEvents()).toBe(before);
  });

  it('a version beyond the integer range is a plain conflict', async () => {
    const id = streamId('huge');
    await store.append(id, NO_STREAM, [added('a')]);
    const error = await rejection(store.append(id, Number.MAX_SAFE_INTEGER, [added('b')]));
    expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
    expect(error).toMatchObject({ actualVersion: 1 });
    expect(await store.load(id, { fromVersion: 2 ** 40 })).toEqual([]);
  });
});

describe('idempotent retries on every path', () => {
  it('an "any" retry (the write would pass the version check) returns the original result', async () => {
    const id = streamId('retry-any');
    const events = [added('a', { eventId: `${id}-1` }), added('b', { eventId: `${id}-2` })];
    const first = await store.append(id, ANY, events);
    const again = await store.append(id, ANY, events);
    expect(again).toMatchObject({ duplicate: true, nextExpectedVersion: 2 });
    expect(again.events.map((event) => event.globalPosition)).toEqual(
      first.events.map((event) => event.globalPosition),
    );
    const single = added('c', { eventId: `${id}-3` });
    await store.append(id, ANY, [single]);
    expect((await store.append(id, ANY, [single])).duplicate).toBe(true);
    expect(await store.streamVersion(id)).toBe(3);
  });

  it('an "any" append of an id stored in another stream is a DuplicateEventError, nothing written', async () => {
    const id = streamId('foreign-any');
    await store.append(id, ANY, [added('a', { eventId: `${id}-1` })]);
    const other = streamId('foreign-other');
    await store.append(other, NO_STREAM, [added('x')]);
    expect(
      isAnnalsError(
        await rejection(store.append(other, ANY, [added('a', { eventId: `${id}-1` })])),
        ErrorCode.DuplicateEvent,
      ),
    ).toBe(true);
    expect(await store.streamVersion(other)).toBe(1);
  });

  it('inside a transaction a retry is recognised without aborting the transaction', async () => {
    const id = streamId('retry-tx');
    const events = [added('a', { eventId: `${id}-1` })];
    await store.append(id, ANY, events);
    const after = streamId('retry-tx-after');
    const result = await store.withTransaction(async (tx) => {
      const again = await tx.append(id, ANY, events);
      await tx.append(after, NO_STREAM, [added('b')]);
      return again;
    });
    expect(result.duplicate).toBe(true);
    expect(await store.streamVersion(after)).toBe(1);
  });
});

describe('withTransaction', () => {
  it('commits appends and the caller’s own SQL together', async () => {
    await db.pool.query(`CREATE TABLE IF NOT EXISTS "${db.schema}".side_effects (note text)`);
    const id = streamId('tx-commit');
    const result = await store.withTransaction(async (tx) => {
      const appended = await tx.append(id, NO_STREAM, [added('a'), added('b')]);
      await tx.client.query(`INSERT INTO "${db.schema}".side_effects (note) VALUES ($1)`, [id]);
      expect((await tx.load(id)).map((event) => event.version)).toEqual([1, 2]);
      expect(await tx.streamVersion(id)).toBe(2);
      return appended;
    });
    expect(result.nextExpectedVersion).toBe(2);
    expect(await store.streamVersion(id)).toBe(2);
    const notes = await db.pool.query(`SELECT note FROM "${db.schema}".side_effects WHERE note = $1`, [id]);
    expect(notes.rows).toHaveLength(1);
  });

  it('rolls both back when the work throws, and rethrows its error', async () => {
    await db.pool.query(`CREATE TABLE IF NOT EXISTS "${db.schema}".side_effects (note text)`);
    const id = streamId('tx-rollback');
    const failure = new Error('business failure');
    const error = await rejection(
      store.withTransaction(async (tx) => {
        await tx.append(id, NO_STREAM, [added('a')]);
        await tx.client.query(`INSERT INTO "${db.schema}".side_effects (note) VALUES ($1)`, [id]);
        throw failure;
      }),
    );
    expect(error).toBe(failure);
    expect(await store.streamVersion(id)).toBe(0);
    const notes = await db.pool.query(`SELECT note FROM "${db.schema}".side_effects WHERE note = $1`, [id]);
    expect(notes.rows).toHaveLength(0);
  });

  it('a conflict inside aborts the transaction: nothing of it is committed', async () => {
    const id = streamId('tx-conflict');
    await store.append(id, NO_STREAM, [added('a')]);
    const other = streamId('tx-other');
    const error = await rejection(
      store.withTransaction(async (tx) => {
        await tx.append(other, NO_STREAM, [added('x')]);
        await tx.append(id, NO_STREAM, [added('b')]);
      }),
    );
    expect(isAnnalsError(error, ErrorCode.Concurrency)).toBe(true);
    expect(error).toMatchObject({ actualVersion: 1 });
    expect(await store.streamVersion(other)).toBe(0);
  });

  it('a caught conflict cannot be committed: StoreFailedError (25P02), nothing stored', async () => {
    const id = streamId('tx-caught');
    await store.append(id, NO_STREAM, [added('a')]);
    const other = streamId('tx-caught-other');
    const error = await rejection(
      store.withTransaction(async (tx) => {
        await tx.append(other, NO_STREAM, [added('x')]);
        await tx.append(id, NO_STREAM, [added('b')]).catch(() => undefined);
        return 'done';
      }),
    );
    expect(isAnnalsError(error, ErrorCode.StoreFailed), String(error)).toBe(true);
    expect(await store.streamVersion(other)).toBe(0);
  });

  it('the transaction’s client refuses work after the transaction', async () => {
    let leaked: { query(text: string): Promise<unknown> } | undefined;
    await store.withTransaction(async (tx) => {
      leaked = tx.client;
    });
    expect(isAnnalsError(await rejection(leaked!.query('SELECT 1')), ErrorCode.StoreFailed)).toBe(true);
  });

  it('append(..., { client }) joins a transaction the caller holds', async () => {
    const id = streamId('caller-tx');
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await store.append(id, NO_STREAM, [added('a')], { client });
      expect(result.nextExpectedVersion).toBe(1);
      expect(await store.streamVersion(id, { client })).toBe(1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await store.streamVersion(id)).toBe(0);
  });
});

describe('notifications', () => {
  it('another store object on the same database is woken through LISTEN/NOTIFY', async () => {
    const listenerStore = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    let woken = 0;
    const wokenAfterAppend = new Promise<void>((resolve) => {
      listenerStore.onAppended(() => {
        woken++;
        resolve();
      });
    });
    // Let the LISTEN start and its initial wake-up pass, so a wake-up can only come from the append.
    await new Promise((resolve) => setTimeout(resolve, 300));
    woken = 0;
    const appended = new Promise<void>((resolve) => {
      const stop = listenerStore.onAppended(() => {
        stop();
        resolve();
      });
    });
    await store.append(streamId('notify'), NO_STREAM, [added('a')]);
    await Promise.race([
      Promise.all([appended, wokenAfterAppend]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no notification in 5 s')), 5000)),
    ]);
    expect(woken).toBeGreaterThan(0);
    await listenerStore.close();
  });

  it('close() stops listeners; calls after close are StoreFailedErrors', async () => {
    const closing = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    closing.onAppended(() => undefined);
    await closing.close();
    await closing.close();
    expect(isAnnalsError(await rejection(closing.load('x')), ErrorCode.StoreFailed)).toBe(true);
    expect(
      isAnnalsError(await rejection(closing.append('x', NO_STREAM, [added('a')])), ErrorCode.StoreFailed),
    ).toBe(true);
    // The pool was not the store's: it still works.
    expect((await db.pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
  });
});
