/**
 * Write coalescing: single-event autocommit appends that queue behind `maxConcurrentAppends`
 * are written by one statement, and each caller keeps its own outcome. The pool is wrapped only
 * to count the group statements it runs (every query still goes to the real database).
 */
import { ANY, type AppendResult, ErrorCode, isAnnalsError, NO_STREAM, STREAM_EXISTS } from 'annals';
import {
  type PgPool,
  type PgPoolClient,
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from 'annals/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendGroupSql } from '../../../src/postgres/event-store/append-group-sql.js';
import { describeWithServer, hasServer, usePostgres } from '../../support/postgres.js';
import { added, noted, registry, sleep, streamId } from './fixtures.js';

const db = usePostgres();

/**
 * The pool, plus the sizes of the group statements sent through it and the NOTIFYs: sent on
 * their own, or carried by a group (its second parameter, the channel).
 */
function countingPool(pool: PgPool): {
  pool: PgPool;
  groups: number[];
  groupStatements: string[];
  notifies: { alone: number; carried: number };
} {
  const groups: number[] = [];
  const groupStatements: string[] = [];
  const notifies = { alone: 0, carried: 0 };
  const count = (statement: unknown) => {
    const named = statement as { name?: string; values?: unknown[][] };
    if (typeof named === 'object' && named.name?.startsWith('annals_append_group_')) {
      groups.push((JSON.parse(named.values![0] as unknown as string) as unknown[]).length);
      groupStatements.push(named.name);
      if (named.values!.length === 2) notifies.carried++;
    }
    if (typeof statement === 'string' && statement.startsWith('SELECT pg_notify(')) notifies.alone++;
  };
  const wrapped: PgPool = {
    query: ((statement: unknown, values?: unknown[]) => {
      count(statement);
      return (pool.query as (a: unknown, b?: unknown[]) => Promise<never>)(statement, values);
    }) as PgPool['query'],
    // Group statements run on a checked-out connection (refused ones keep it): counted there too.
    connect: async () => {
      const client = await pool.connect();
      const query = client.query.bind(client) as (a: unknown, b?: unknown[]) => Promise<never>;
      const wrappedClient: PgPoolClient = {
        query: ((statement: unknown, values?: unknown[]) => {
          count(statement);
          return query(statement, values);
        }) as PgPoolClient['query'],
        release: (error?: Error | boolean) => client.release(error),
        on: ((event: string, listener: (...args: never[]) => void) =>
          client.on?.(event as 'error', listener as never)) as PgPoolClient['on'],
        removeListener: (event, listener) => client.removeListener?.(event, listener),
      };
      return wrappedClient;
    },
    ...(pool.listen ? { listen: pool.listen.bind(pool) } : {}),
  };
  return { pool: wrapped, groups, groupStatements, notifies };
}

function openStore(options: Partial<PostgresEventStoreOptions> = {}) {
  const counted = countingPool(db.pool);
  const store = new PostgresEventStore({
    pool: counted.pool,
    registry: registry(),
    schema: db.schema,
    maxConcurrentAppends: 1,
    ...options,
  });
  return {
    store,
    groups: counted.groups,
    groupStatements: counted.groupStatements,
    notifies: counted.notifies,
  };
}

async function transactionIds(ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ transaction_id: string }>(
    `SELECT transaction_id::text AS transaction_id FROM "${db.schema}".events WHERE aggregate_id = ANY($1::text[])`,
    [ids],
  );
  return new Set(rows.map((row) => row.transaction_id));
}

describe(`write coalescing (${hasServer ? 'server' : 'PGlite'})`, () => {
  it('appends that wait behind the statement limit go out as one statement and one transaction', async () => {
    const { store, groups } = openStore();
    const ids = Array.from({ length: 20 }, (_, i) => streamId(`group-${i}`));
    const results = await Promise.all(ids.map((id) => store.append(id, NO_STREAM, [added('a')])));
    // The first ran alone (a free slot: no waiting); the 19 that queued behind it went together.
    expect(groups).toEqual([19]);
    expect(results.map((result) => result.nextExpectedVersion)).toEqual(ids.map(() => 1));
    expect((await transactionIds(ids.slice(1))).size).toBe(1);
    for (const [index, id] of ids.entries()) {
      const [stored] = await store.load(id);
      expect(stored).toEqual(results[index]!.events[0]);
    }
    await store.close();
  });

  it('an append made while none runs is sent at once, alone: one writer never waits or groups', async () => {
    const { store, groups } = openStore({ maxConcurrentAppends: 16 });
    const id = streamId('sequential');
    for (let version = 0; version < 10; version++) {
      await store.append(id, version, [added(`s${version}`)]);
    }
    expect(groups).toEqual([]);
    const { rows } = await db.pool.query<{ n: string }>(
      `SELECT count(DISTINCT transaction_id)::text AS n FROM "${db.schema}".events WHERE aggregate_id = $1`,
      [id],
    );
    expect(rows[0]!.n).toBe('10');
    await store.close();
  });

  it('appends made in one turn while a slot is free share a statement', async () => {
    const { store, groups } = openStore({ maxConcurrentAppends: 16 });
    const ids = Array.from({ length: 6 }, (_, i) => streamId(`turn-${i}`));
    await Promise.all(ids.map((id) => store.append(id, NO_STREAM, [added('t')])));
    // The first went alone (nothing ran); the other five, made in the same turn, went together
    // although 15 slots were free.
    expect(groups).toEqual([5]);
    await store.close();
  });

  it('each append keeps its own outcome: versions, conflicts with the actual version, duplicates, foreign ids', async () => {
    const { store, groups } = openStore();
    const existing = streamId('existing');
    const stored = await store.append(existing, NO_STREAM, [added('first')]);
    const storedEvent = stored.events[0]!;
    const fresh = streamId('fresh');
    const anyStream = streamId('any');
    const missing = streamId('missing');
    const wrong = streamId('wrong');
    await store.append(anyStream, NO_STREAM, [added('x'), added('y')]);
    await store.append(wrong, NO_STREAM, [added('x'), added('y'), added('z')]);
    const blocker = store.append(streamId('blocker'), NO_STREAM, [added('b')]);
    const outcomes = await Promise.allSettled([
      store.append(fresh, NO_STREAM, [added('ok')]),
      store.append(existing, 1, [added('second')]),
      store.append(wrong, 1, [added('late')]),
      store.append(anyStream, ANY, [added('any')]),
      store.append(missing, STREAM_EXISTS, [added('nothing')]),
      // A retry of the stored append (same id, same stream): its original result.
      store.append(existing, NO_STREAM, [{ ...added('first'), eventId: storedEvent.eventId }]),
      store.append(streamId('foreign'), NO_STREAM, [
        { ...added('foreign'), eventId: stored.events[0]!.eventId },
      ]),
      store.append(streamId('no-stream'), 3, [added('gap')]),
    ]);
    await blocker;
    expect(groups[0]).toBeGreaterThanOrEqual(6);
    const value = (index: number) => (outcomes[index] as PromiseFulfilledResult<AppendResult>).value;
    const reason = (index: number) => (outcomes[index] as PromiseRejectedResult).reason;
    expect(value(0)).toMatchObject({ nextExpectedVersion: 1, duplicate: false });
    expect(value(1)).toMatchObject({ nextExpectedVersion: 2, duplicate: false });
    expect(isAnnalsError(reason(2), ErrorCode.Concurrency)).toBe(true);
    expect(reason(2)).toMatchObject({ expectedVersion: 1, actualVersion: 3 });
    expect(value(3)).toMatchObject({ nextExpectedVersion: 3, duplicate: false });
    expect(isAnnalsError(reason(4), ErrorCode.Concurrency)).toBe(true);
    expect(reason(4)).toMatchObject({ actualVersion: 0 });
    expect(value(5)).toMatchObject({ duplicate: true, nextExpectedVersion: 1 });
    expect(value(5).events).toEqual([storedEvent]);
    expect(isAnnalsError(reason(6), ErrorCode.DuplicateEvent)).toBe(true);
    expect(isAnnalsError(reason(7), ErrorCode.Concurrency)).toBe(true);
    expect((await store.load(existing)).map((event) => event.version)).toEqual([1, 2]);
    expect(await store.load(wrong)).toHaveLength(3);
    expect(await store.load(missing)).toEqual([]);
    await store.close();
  });

  it('a group of appends that all go right after their base version leaves out the last-version look-up, and keeps each outcome', async () => {
    const { store, groups, groupStatements } = openStore();
    // Each group statement's name, as `allAtBase/skipTaken` (with or without a NOTIFY carried).
    const kinds = new Map<string, string>();
    for (const notify of [false, true]) {
      for (const skipTaken of [false, true]) {
        for (const allAtBase of [false, true]) {
          const { name } = appendGroupSql(`"${db.schema}"`, { notify, skipTaken, allAtBase });
          kinds.set(name, `${allAtBase ? 'at base' : 'mixed'}/${skipTaken ? 'skip taken' : 'fail on taken'}`);
        }
      }
    }
    const existing = streamId('at-existing');
    const stored = await store.append(existing, NO_STREAM, [added('first')]);
    const three = streamId('at-three');
    await store.append(three, NO_STREAM, [added('x'), added('y'), added('z')]);
    const blocker = store.append(streamId('at-blocker'), NO_STREAM, [added('b')]);
    const outcomes = await Promise.allSettled([
      store.append(streamId('at-fresh'), NO_STREAM, [added('ok')]),
      store.append(existing, 1, [added('second')]),
      // Behind the stream (version 2 is taken) and ahead of it (version 4 is not stored).
      store.append(three, 1, [added('late')]),
      store.append(streamId('at-nothing'), 3, [added('gap')]),
      store.append(existing, NO_STREAM, [{ ...added('first'), eventId: stored.events[0]!.eventId }]),
    ]);
    await blocker;
    // At most one append per stream in a group: the retry on `existing` waits for the next.
    expect(groups[0]).toBe(4);
    // Version 2 of `three` was taken: the cheaper statement failed as a whole, and the group went
    // again with skipTaken; both were the statements without the look-up.
    const sent = groupStatements.map((name) => kinds.get(name));
    expect(sent.slice(0, 2)).toEqual(['at base/fail on taken', 'at base/skip taken']);
    expect(sent.every((kind) => kind?.startsWith('at base/'))).toBe(true);
    const value = (index: number) => (outcomes[index] as PromiseFulfilledResult<AppendResult>).value;
    const reason = (index: number) => (outcomes[index] as PromiseRejectedResult).reason;
    expect(value(0)).toMatchObject({ nextExpectedVersion: 1, duplicate: false });
    expect(value(1)).toMatchObject({ nextExpectedVersion: 2, duplicate: false });
    expect(value(1).events[0]).toEqual((await store.load(existing))[1]);
    expect(reason(2)).toMatchObject({ code: ErrorCode.Concurrency, expectedVersion: 1, actualVersion: 3 });
    expect(reason(3)).toMatchObject({ code: ErrorCode.Concurrency, expectedVersion: 3, actualVersion: 0 });
    expect(value(4)).toMatchObject({ duplicate: true, nextExpectedVersion: 1 });
    expect((await store.load(existing)).map((event) => event.version)).toEqual([1, 2]);
    expect(await store.load(three)).toHaveLength(3);
    expect(await store.load(streamId('at-nothing'))).toEqual([]);
    await store.close();
  });

  it('a retry of a stored append in a group returns the original result', async () => {
    const { store, groups } = openStore();
    const id = streamId('idempotent');
    const first = await store.append(id, NO_STREAM, [added('once')]);
    const blocker = store.append(streamId('blocker'), NO_STREAM, [added('b')]);
    const [again, other] = await Promise.all([
      store.append(id, NO_STREAM, [{ ...added('once'), eventId: first.events[0]!.eventId }]),
      store.append(streamId('other'), NO_STREAM, [added('other')]),
    ]);
    await blocker;
    // Sent first by the statement that fails as a whole on a taken event id (nothing written),
    // then again by the one that skips taken rows.
    expect(groups).toEqual([2, 2]);
    expect(again.duplicate).toBe(true);
    expect(again.events.map((event) => event.globalPosition)).toEqual([first.events[0]!.globalPosition]);
    expect(other.duplicate).toBe(false);
    expect(await store.load(id)).toHaveLength(1);
    await store.close();
  });

  it('appends to one stream wait for separate groups and keep their order', async () => {
    const { store, groups } = openStore();
    const id = streamId('same');
    const blocker = store.append(streamId('blocker'), NO_STREAM, [added('b')]);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.append(id, ANY, [added(`n${i}`)])),
    );
    await blocker;
    expect(groups.every((size) => size <= 1)).toBe(true);
    expect(results.map((result) => result.nextExpectedVersion)).toEqual([1, 2, 3, 4, 5]);
    expect((await store.load(id)).map((event) => (event.payload as { sku: string }).sku)).toEqual([
      'n0',
      'n1',
      'n2',
      'n3',
      'n4',
    ]);
    await store.close();
  });

  it('a group whose commit the server refuses is decided append by append: only the bad one fails', async () => {
    // A deferred constraint trigger refuses, at COMMIT, any row whose payload asks for it.
    await db.pool.query(
      `CREATE OR REPLACE FUNCTION "${db.schema}".annals_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.payload -> 'data' ? 'refuse' THEN RAISE EXCEPTION 'refused at commit'; END IF;
         RETURN NULL;
       END $$`,
    );
    await db.pool.query(
      `CREATE CONSTRAINT TRIGGER annals_test_refuse AFTER INSERT ON "${db.schema}".events
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${db.schema}".annals_test_refuse()`,
    );
    const { store, groups } = openStore();
    const blocker = store.append(streamId('blocker'), NO_STREAM, [added('b')]);
    const good = Array.from({ length: 5 }, (_, i) => streamId(`good-${i}`));
    const bad = streamId('bad');
    const outcomes = await Promise.allSettled([
      ...good.map((id) => store.append(id, NO_STREAM, [added('fine')])),
      store.append(bad, NO_STREAM, [noted('refuse me', { refuse: true })]),
    ]);
    await blocker;
    await db.pool.query(`DROP TRIGGER annals_test_refuse ON "${db.schema}".events`);
    expect(groups).toEqual([6]);
    expect(outcomes.slice(0, 5).map((outcome) => outcome.status)).toEqual(good.map(() => 'fulfilled'));
    const failed = outcomes[5] as PromiseRejectedResult;
    expect(isAnnalsError(failed.reason, ErrorCode.StoreFailed), String(failed.reason)).toBe(true);
    expect(String(failed.reason)).toContain('refused at commit');
    for (const id of good) expect(await store.load(id)).toHaveLength(1);
    expect(await store.load(bad)).toEqual([]);
    await store.close();
  });

  it('a NOTIFY due while appends wait rides on their group, and other stores are woken after the last commit', async () => {
    const listener = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    let wakes = 0;
    listener.onAppended(() => {
      wakes++;
    });
    // Let the LISTEN start and its initial wake-up pass: later wake-ups come from NOTIFYs.
    await sleep(300);
    const { store, groups, notifies } = openStore({ maxAppendGroupSize: 8, notifyThrottleMs: 0 });
    const ids = Array.from({ length: 41 }, (_, i) => streamId(`notify-${i}`));
    await Promise.all(ids.map((id) => store.append(id, NO_STREAM, [added('n')])));
    // The first append ran alone, then five groups of 8 one after the other: the callers of each
    // group announce while the next groups' appends wait, so a group carries the NOTIFY.
    expect(groups).toEqual([8, 8, 8, 8, 8]);
    expect(notifies.carried).toBeGreaterThan(0);
    expect(notifies.alone + notifies.carried).toBeLessThan(groups.length + 1);
    const wakesAtLastAppend = wakes;
    // The last group's callers announce once more, with nothing waiting: that NOTIFY goes alone
    // and wakes the other store after the last commit.
    for (let waited = 0; waited < 5000 && wakes === wakesAtLastAppend; waited += 20) await sleep(20);
    expect(wakes).toBeGreaterThan(wakesAtLastAppend);
    expect(notifies.alone).toBeGreaterThan(0);
    await Promise.all([store.close(), listener.close()]);
  });

  it('the limit bounds the group size', async () => {
    const { store, groups } = openStore({ maxAppendGroupSize: 4 });
    const ids = Array.from({ length: 13 }, (_, i) => streamId(`bounded-${i}`));
    await Promise.all(ids.map((id) => store.append(id, NO_STREAM, [added('a')])));
    expect(groups.every((size) => size <= 4)).toBe(true);
    expect(groups.reduce((sum, size) => sum + size, 0)).toBeGreaterThanOrEqual(8);
    for (const id of ids) expect(await store.load(id)).toHaveLength(1);
    await store.close();
  });

  it('turned off, or inside a transaction, appends are never grouped', async () => {
    const off = openStore({ coalesceAppends: false });
    const ids = Array.from({ length: 10 }, (_, i) => streamId(`off-${i}`));
    await Promise.all(ids.map((id) => off.store.append(id, NO_STREAM, [added('a')])));
    expect(off.groups).toEqual([]);
    expect((await transactionIds(ids)).size).toBe(10);
    await off.store.close();

    const on = openStore();
    const blocker = on.store.append(streamId('blocker'), NO_STREAM, [added('b')]);
    const queued = Array.from({ length: 3 }, (_, i) => streamId(`queued-${i}`));
    const inTransaction = [streamId('tx-1'), streamId('tx-2')];
    const appends = queued.map((id) => on.store.append(id, NO_STREAM, [added('q')]));
    await on.store.withTransaction(async (tx) => {
      for (const id of inTransaction) await tx.append(id, NO_STREAM, [added('t')]);
    });
    await Promise.all([blocker, ...appends]);
    expect(on.groups).toEqual([3]);
    const [transactionId] = await transactionIds(inTransaction);
    expect(await transactionIds(inTransaction)).toEqual(new Set([transactionId]));
    expect((await transactionIds(queued)).has(transactionId!)).toBe(false);
    await on.store.close();
  });

  it('the group statement probes indexes even in a plan cached while the table was empty', async () => {
    // A plan made once per connection and kept: if the version probe were a hash over a
    // sequential scan (as the planner chose for an EXISTS in the WHERE clause on an empty table),
    // every group would read the whole table.
    const client = await db.pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const [skipTaken, allAtBase] of [
        [true, false],
        [false, false],
        [true, true],
        [false, true],
      ] as const) {
        const { text } = appendGroupSql(`"${db.schema}"`, { skipTaken, allAtBase });
        await client.query(`PREPARE annals_test_group(jsonb) AS ${text}`);
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN EXECUTE annals_test_group('[["a", 1, true, "e", "A", "T", 1, {}, {}, "2026-01-01T00:00:00Z"]]')`,
        );
        await client.query('DEALLOCATE annals_test_group');
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        expect(plan).toContain('Index Only Scan using events_stream_version_key');
        expect(plan).not.toMatch(/Seq Scan on events|hashed SubPlan/);
      }
    } finally {
      await client.query('RESET plan_cache_mode').catch(() => {});
      await client.query('DEALLOCATE annals_test_group').catch(() => {});
      client.release();
    }
  });

  it('refuses bad settings with a typed error', () => {
    for (const options of [
      { maxConcurrentAppends: 0 },
      { maxConcurrentAppends: 1.5 },
      { maxAppendGroupSize: 0 },
      { maxAppendGroupSize: 20_000 },
      { coalesceAppends: 'yes' as unknown as boolean },
    ]) {
      let error: unknown;
      try {
        new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema, ...options });
      } catch (caught) {
        error = caught;
      }
      expect(isAnnalsError(error, ErrorCode.InvalidArgument), JSON.stringify(options)).toBe(true);
    }
  });
});

describeWithServer('write coalescing when the connection dies', () => {
  const SLEEP_TRIGGER = 'annals_test_sleep';
  beforeAll(async () => {
    // A row whose payload asks for it sleeps while it is inserted, so the test can kill the
    // backend in the middle of a group statement.
    await db.pool.query(
      `CREATE FUNCTION "${db.schema}".${SLEEP_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.payload -> 'data' ? 'sleepMs' THEN
           PERFORM pg_sleep((NEW.payload -> 'data' ->> 'sleepMs')::int / 1000.0);
         END IF;
         RETURN NEW;
       END $$`,
    );
    await db.pool.query(
      `CREATE TRIGGER ${SLEEP_TRIGGER} BEFORE INSERT ON "${db.schema}".events
       FOR EACH ROW EXECUTE FUNCTION "${db.schema}".${SLEEP_TRIGGER}()`,
    );
  });
  afterAll(async () => {
    await db.pool.query(`DROP TRIGGER IF EXISTS ${SLEEP_TRIGGER} ON "${db.schema}".events`);
  });

  it('every caller of the group gets the error, nothing of it is visible, and retrying writes each event once', async () => {
    const pool = db.newPool(4, { applicationName: 'annals-coalesce-kill' });
    const store = new PostgresEventStore({
      pool,
      registry: registry(),
      schema: db.schema,
      maxConcurrentAppends: 1,
    });
    const blocker = store.append(streamId('blocker'), NO_STREAM, [noted('slow', { sleepMs: 300 })]);
    const ids = Array.from({ length: 12 }, (_, i) => streamId(`killed-${i}`));
    const events = ids.map((_id, i) => ({
      ...(i === 0 ? noted('slow', { sleepMs: 5000 }) : added('k')),
      eventId: globalThis.crypto.randomUUID(),
    }));
    // Settled from the start: the appends reject while the test is still polling for the kill.
    const settled = Promise.allSettled(ids.map((id, i) => store.append(id, NO_STREAM, [events[i]!])));
    await blocker;
    // Wait for the group statement to be running, then terminate its backend.
    let killed = 0;
    for (let attempt = 0; attempt < 100 && killed === 0; attempt++) {
      const { rows } = await db.pool.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE application_name = 'annals-coalesce-kill' AND state = 'active' AND query LIKE '%jsonb_array_elements%'`,
      );
      killed = rows.filter((row) => row.killed).length;
      if (killed === 0) await sleep(50);
    }
    expect(killed).toBe(1);
    const outcomes = await settled;
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const { reason } = outcome as PromiseRejectedResult;
      expect(isAnnalsError(reason, ErrorCode.StoreUnavailable), String(reason)).toBe(true);
    }
    expect(await transactionIds(ids)).toEqual(new Set());

    // Retrying is safe: the same event ids, written once; a second retry is a duplicate.
    const quick = events.map((event, i) => (i === 0 ? { ...added('k'), eventId: event.eventId } : event));
    const retried = await Promise.all(ids.map((id, i) => store.append(id, NO_STREAM, [quick[i]!])));
    expect(retried.every((result) => !result.duplicate)).toBe(true);
    const again = await Promise.all(ids.map((id, i) => store.append(id, NO_STREAM, [quick[i]!])));
    expect(again.every((result) => result.duplicate)).toBe(true);
    for (const id of ids) expect(await store.load(id)).toHaveLength(1);
    await store.close();
  });
});
