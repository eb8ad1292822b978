/**
 * Races and faults on a real server (several connections); skipped, with the reason in the title,
 * when DATABASE_URL is unset.
 */
import {
  ANY,
  compareLogPositions,
  ErrorCode,
  isAnnalsError,
  type LogPosition,
  logPositionOf,
  NO_STREAM,
  STREAM_EXISTS,
  type StoredEvent,
} from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithServer, usePostgres } from '../../support/postgres.js';
import { added, registry, rejection, sleep, streamId } from './fixtures.js';

const db = usePostgres({ maxConnections: 40, serverOnly: true, manyConnections: true });

describeWithServer('racing writers on a real server', () => {
  let store: PostgresEventStore;
  beforeAll(() => {
    store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
  });
  afterAll(() => store.close());

  it('32 writers racing on one aggregate with exact versions: one success per version, every loser told the actual version', async () => {
    const id = streamId('race32');
    const rounds = 10;
    const writers = 32;
    for (let round = 0; round < rounds; round++) {
      const expected = round;
      const outcomes = await Promise.allSettled(
        Array.from({ length: writers }, (_, writer) =>
          store.append(id, expected, [added(`r${round}-w${writer}`)]),
        ),
      );
      const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      expect(winners, `round ${round}`).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') continue;
        expect(isAnnalsError(outcome.reason, ErrorCode.Concurrency), String(outcome.reason)).toBe(true);
        expect(outcome.reason).toMatchObject({ expectedVersion: expected, actualVersion: expected + 1 });
      }
    }
    const loaded = await store.load(id);
    expect(loaded.map((event) => event.version)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
  });

  it('32 writers that retry on conflicts: a gap-free stream holding every write exactly once', async () => {
    const id = streamId('retry32');
    const perWriter = 3;
    let conflicts = 0;
    const won = new Map<number, string>();
    await Promise.all(
      Array.from({ length: 32 }, async (_, writer) => {
        for (let n = 0; n < perWriter; n++) {
          for (;;) {
            const version = await store.streamVersion(id);
            try {
              const result = await store.append(id, version, [added(`w${writer}-${n}`)]);
              expect(won.has(result.nextExpectedVersion)).toBe(false);
              won.set(result.nextExpectedVersion, `w${writer}-${n}`);
              break;
            } catch (error) {
              if (!isAnnalsError(error, ErrorCode.Concurrency)) throw error;
              expect(error.actualVersion).toBeGreaterThan(version);
              conflicts++;
            }
          }
        }
      }),
    );
    const loaded = await store.load(id);
    expect(loaded.map((event) => event.version)).toEqual(
      Array.from({ length: 32 * perWriter }, (_, i) => i + 1),
    );
    for (const event of loaded) expect((event.payload as { sku: string }).sku).toBe(won.get(event.version));
    expect(conflicts).toBeGreaterThan(0);
  });

  it('32 writers appending with any and stream_exists to one stream, half in transactions: every append succeeds, no gap', async () => {
    const id = streamId('any32');
    await store.append(id, NO_STREAM, [added('first')]);
    const perWriter = 3;
    const versions: number[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async (_, writer) => {
        for (let n = 0; n < perWriter; n++) {
          const expected = writer % 4 < 2 ? ANY : STREAM_EXISTS;
          const events = [added(`w${writer}-${n}`), added(`w${writer}-${n}b`)];
          const result =
            writer % 2 === 0
              ? await store.append(id, expected, events)
              : await store.withTransaction((tx) => tx.append(id, expected, events));
          expect(result.events.map((event) => event.version)).toEqual([
            result.nextExpectedVersion - 1,
            result.nextExpectedVersion,
          ]);
          versions.push(result.nextExpectedVersion);
        }
      }),
    );
    const total = 1 + 32 * perWriter * 2;
    expect(new Set(versions).size).toBe(32 * perWriter);
    const loaded = await store.load(id);
    expect(loaded.map((event) => event.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Each append's two events are adjacent.
    for (let index = 1; index < total; index += 2) {
      const sku = (loaded[index]!.payload as { sku: string }).sku;
      expect((loaded[index + 1]!.payload as { sku: string }).sku).toBe(`${sku}b`);
    }
  });

  it('racing creators of one new stream (no_stream and any): the stream is created once', async () => {
    const id = streamId('create');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 16 }, (_, writer) =>
        store.append(id, writer % 2 ? NO_STREAM : ANY, [added(`c${writer}`), added(`c${writer}b`)]),
      ),
    );
    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const losers = outcomes.filter((outcome) => outcome.status === 'rejected');
    for (const loser of losers)
      expect(isAnnalsError(loser.reason, ErrorCode.Concurrency), String(loser.reason)).toBe(true);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    expect(await store.streamVersion(id)).toBe(winners.length * 2);
    const versions = (await store.load(id)).map((event) => event.version);
    expect(versions).toEqual(Array.from({ length: winners.length * 2 }, (_, i) => i + 1));
  });

  it('a retried append racing its original: the retry returns the original result', async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const id = streamId('retry-race');
      const events = [added('a', { eventId: `${id}-1` }), added('b', { eventId: `${id}-2` })];
      const [first, second] = await Promise.all([
        store.append(id, ANY, events),
        store.append(id, ANY, events),
      ]);
      expect([first.duplicate, second.duplicate].sort()).toEqual([false, true]);
      expect(second.events.map((event) => event.globalPosition)).toEqual(
        first.events.map((event) => event.globalPosition),
      );
      expect(await store.streamVersion(id)).toBe(2);
    }
  });
});

describeWithServer('a global reader beside writers that hold transactions open', () => {
  it('16 writers over 1,000 aggregates: the reader sees every committed event once and never passes one in flight', async () => {
    const store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    const aggregates = Array.from({ length: 1000 }, (_, i) => `agg-${i}`);
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    /** Held transactions whose events are written but not yet committed. */
    const inFlight = new Map<number, { eventId: string; position: LogPosition }>();
    /** Per page read: what was in flight just before, and the checkpoint after it. */
    const pages: Array<{
      pending: Array<{ eventId: string; position: LogPosition }>;
      checkpoint: LogPosition;
    }> = [];
    const seenOnPage = new Map<string, number>();
    let nextTx = 0;
    let overtaken = 0;
    let writersDone = false;
    const startHead = (await store.head()).position;

    const reader = (async () => {
      const seen: StoredEvent[] = [];
      let checkpoint = startHead;
      let deadline = Number.POSITIVE_INFINITY;
      for (;;) {
        const pending = [...inFlight.values()];
        const page = await store.readAll({ after: checkpoint, limit: 50 });
        for (const event of page.events) seenOnPage.set(event.eventId, pages.length);
        pages.push({ pending, checkpoint: page.next });
        seen.push(...page.events);
        checkpoint = page.next;
        if (!page.caughtUp) continue;
        if (writersDone) {
          deadline = Math.min(deadline, Date.now() + 10_000);
          if (seen.length >= committed.size || Date.now() > deadline) return seen;
        }
        await sleep(5);
      }
    })();

    const writers = Array.from({ length: 16 }, async (_, writer) => {
      for (let n = 0; n < 25; n++) {
        const id = aggregates[Math.floor(Math.random() * aggregates.length)]!;
        const events = Array.from({ length: 1 + (n % 3) }, (_, i) =>
          added(`w${writer}-${n}-${i}`, { eventId: `${writer}-${n}-${i}` }),
        );
        if (n % 5 < 2) {
          // Hold the transaction open after the append while the others commit past it;
          // every fourth of these rolls back.
          const tx = nextTx++;
          const rollBack = tx % 4 === 3;
          try {
            await store.withTransaction(async (t) => {
              const result = await t.append(id, ANY, events);
              const first = logPositionOf(result.events[0]!);
              inFlight.set(tx, { eventId: events[0]!.eventId!, position: first });
              await sleep(50 + Math.random() * 250);
              // What a reader outside sees now: has a higher position committed already?
              const { rows } = await db.pool.query<{ max: string | null }>(
                `SELECT max(global_position)::text AS max FROM "${db.schema}".events`,
              );
              if (rows[0]?.max && BigInt(rows[0].max) > first.globalPosition) overtaken++;
              if (rollBack) throw new Error('roll back on purpose');
            });
            for (const event of events) committed.add(event.eventId!);
          } catch (error) {
            if (!rollBack) throw error;
            for (const event of events) rolledBack.add(event.eventId!);
          } finally {
            inFlight.delete(tx);
          }
        } else {
          for (;;) {
            try {
              await store.append(id, await store.streamVersion(id), events);
              break;
            } catch (error) {
              if (!isAnnalsError(error, ErrorCode.Concurrency)) throw error;
            }
          }
          for (const event of events) committed.add(event.eventId!);
        }
      }
    });
    await Promise.all(writers);
    writersDone = true;
    const seen = await reader;
    await store.close();

    // Every committed event exactly once, nothing rolled back, in strictly increasing log order.
    const ids = seen.map((event) => event.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(committed);
    expect(rolledBack.size).toBeGreaterThan(0);
    for (const id of rolledBack) expect(seenOnPage.has(id)).toBe(false);
    for (let index = 1; index < seen.length; index++) {
      expect(compareLogPositions(seen[index - 1]!, seen[index]!)).toBeLessThan(0);
    }
    // The checkpoint never passed an event that was in flight when the page was read, unless
    // that page (or an earlier one) returned it.
    let checked = 0;
    pages.forEach(({ pending, checkpoint }, index) => {
      for (const { eventId, position } of pending) {
        if (!committed.has(eventId)) continue;
        checked++;
        if (compareLogPositions(checkpoint, position) >= 0) {
          expect(seenOnPage.get(eventId), `page ${index} passed ${eventId} in flight`).toBeLessThanOrEqual(
            index,
          );
        }
      }
    });
    expect(checked).toBeGreaterThan(0);
    // The hazard was real: while held transactions were still open, events with higher global
    // positions had already committed. A reader going by global_position alone would have
    // moved past the held events then, and never seen them.
    expect(overtaken).toBeGreaterThan(0);
  });
});

describeWithServer('a backend killed mid-append', () => {
  const applicationName = `annals-fault-${Math.random().toString(36).slice(2, 8)}`;
  let faultPool: pg.Pool;
  let store: PostgresEventStore;
  beforeAll(() => {
    faultPool = new pg.Pool({
      connectionString: db.connectionString,
      max: 4,
      application_name: applicationName,
    });
    faultPool.on('error', () => undefined);
    store = new PostgresEventStore({
      pool: faultPool,
      registry: registry(),
      schema: db.schema,
      listenReconnectDelayMs: 50,
    });
  });
  afterAll(async () => {
    await store.close();
    await faultPool.end();
  });

  /** The pid of this file's pool's backend that matches `where`, once one does. */
  async function backendPid(where: string): Promise<number> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const { rows } = await db.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND ${where}`,
        [applicationName],
      );
      if (rows[0]) return rows[0].pid;
      await sleep(25);
    }
    throw new Error(`no backend matching ${where}`);
  }

  it('the caller gets a StoreUnavailableError, nothing is stored, the next append works', async () => {
    const id = streamId('killed');
    await store.append(id, NO_STREAM, [added('first')]);
    const eventCount = async () =>
      (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".events`)).rows[0]!.n;
    const before = await eventCount();

    // Another transaction has written version 2 and not committed, so the append (of versions
    // 2 and 3) waits on the unique index for that transaction's outcome.
    const holder = await db.pool.connect();
    await holder.query('BEGIN');
    await holder.query(
      `INSERT INTO "${db.schema}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, "timestamp")
       VALUES ($1, 'Order', 2, $2, 'ItemAdded', 1, '{}', now())`,
      [id, `${id}-holder`],
    );
    const failed = rejection(
      store.append(id, 1, [added('lost-1', { eventId: `${id}-lost-1` }), added('lost-2')]),
    );
    const pid = await backendPid(`wait_event_type = 'Lock' AND query LIKE '%INSERT INTO%'`);
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const error = await failed;
    await holder.query('ROLLBACK');
    holder.release();

    expect(isAnnalsError(error, ErrorCode.StoreUnavailable), String(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/connection/i);
    expect(await store.streamVersion(id)).toBe(1);
    expect(await eventCount()).toBe(before);
    const lost = await db.pool.query(`SELECT 1 FROM "${db.schema}".events WHERE event_id = $1`, [
      `${id}-lost-1`,
    ]);
    expect(lost.rows).toEqual([]);

    const next = await store.append(id, 1, [added('after')]);
    expect(next.nextExpectedVersion).toBe(2);
    expect((await store.load(id)).map((event) => (event.payload as { sku: string }).sku)).toEqual([
      'first',
      'after',
    ]);
  });

  it('a transaction whose backend dies before COMMIT: StoreUnavailableError, nothing stored', async () => {
    const id = streamId('killed-tx');
    const error = await rejection(
      store.withTransaction(async (tx) => {
        await tx.append(id, NO_STREAM, [added('a')]);
        const { rows } = await tx.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await tx.append(id, 1, [added('b')]);
      }),
    );
    expect(isAnnalsError(error, ErrorCode.StoreUnavailable), String(error)).toBe(true);
    expect(await store.streamVersion(id)).toBe(0);
    expect((await store.append(id, NO_STREAM, [added('again')])).nextExpectedVersion).toBe(1);
  });

  it('a killed LISTEN connection is re-established: notifications keep arriving', async () => {
    let wakes = 0;
    const stop = store.onAppended(() => {
      wakes++;
    });
    const listenerPid = await backendPid(`query LIKE 'LISTEN%'`);
    await db.pool.query('SELECT pg_terminate_backend($1)', [listenerPid]);
    // A new LISTEN backend appears (another pid).
    let newPid = listenerPid;
    for (let attempt = 0; attempt < 200 && newPid === listenerPid; attempt++) {
      await sleep(25);
      newPid = await backendPid(`query LIKE 'LISTEN%'`).catch(() => listenerPid);
    }
    expect(newPid).not.toBe(listenerPid);
    await sleep(100);
    // An append through another store object (another pool): only NOTIFY can wake this one.
    wakes = 0;
    const other = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    await other.append(streamId('wake'), NO_STREAM, [added('a')]);
    for (let attempt = 0; attempt < 200 && wakes === 0; attempt++) await sleep(25);
    expect(wakes).toBeGreaterThan(0);
    stop();
    await other.close();
  });
});
