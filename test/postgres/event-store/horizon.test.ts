/**
 * The readable horizon of the global log: on a server it is bounded by the transactions of the
 * store's own database only, so a transaction held open in another database of the server
 * stalls no reader and no projection; it never passes a transaction of its own database.
 */
import {
  compareLogPositions,
  defineProjection,
  ErrorCode,
  isAnnalsError,
  type LogPosition,
  logPositionOf,
  NO_STREAM,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import {
  migrate,
  PostgresEventStore,
  type PostgresProjectionContext,
  PostgresProjectionStore,
} from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeHorizon } from '../../../src/cli/describe-horizon.js';
import { horizonExpression } from '../../../src/postgres/event-store/horizon-sql.js';
import {
  describeWithServer,
  hasServer,
  serverUrl,
  urlOfDatabase,
  usePostgres,
} from '../../support/postgres.js';
import { ledgerProjection, openStores } from '../projections/fixtures.js';
import { added, ItemAdded, registry, sleep, streamId } from './fixtures.js';

const db = usePostgres({ maxConnections: 30, manyConnections: true });

describe('the horizon scope', () => {
  it(`is 'database' on a server and 'cluster' on PGlite, unless 'cluster' is asked for`, async () => {
    const store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    const cluster = new PostgresEventStore({
      pool: db.pool,
      registry: registry(),
      schema: db.schema,
      horizon: 'cluster',
    });
    expect(await store.horizonScope()).toBe(hasServer ? 'database' : 'cluster');
    expect(await cluster.horizonScope()).toBe('cluster');
    const id = streamId('scope');
    await store.append(id, NO_STREAM, [added('a')]);
    // This file's database is its own: nothing holds its horizon back.
    const head = await store.head();
    expect(head.position.globalPosition).toBeGreaterThan(0n);
    const horizon = await store.readHorizon();
    expect(horizon.scope).toBe(await store.horizonScope());
    expect(horizon.heldBackEvents).toBe(0n);
    // The cluster's horizon may be held back by other databases' transactions (the server is
    // shared): the event is readable or counted as held back, never lost.
    const clusterHorizon = await cluster.readHorizon();
    expect(clusterHorizon.scope).toBe('cluster');
    const clusterHead = await cluster.head();
    expect(clusterHead.position.globalPosition + clusterHorizon.heldBackEvents).toBeGreaterThanOrEqual(1n);
  });

  it('refuses an unknown horizon option', () => {
    let error: unknown;
    try {
      new PostgresEventStore({
        pool: db.pool,
        registry: registry(),
        schema: db.schema,
        horizon: 'server' as 'cluster',
      });
    } catch (caught) {
      error = caught;
    }
    expect(isAnnalsError(error, ErrorCode.InvalidArgument), String(error)).toBe(true);
  });
});

/** A scratch database of the server, dropped after the file. */
function useScratchDatabase(): {
  readonly name: string;
  readonly url: string;
  open(app: string): Promise<pg.Client>;
} {
  const name = `annals_scratch_${Math.random().toString(36).slice(2, 10)}`;
  const url = serverUrl ? urlOfDatabase(serverUrl, name) : '';
  const clients: pg.Client[] = [];
  const admin = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  beforeAll(async () => {
    if (!serverUrl) return;
    await admin((client) => client.query(`CREATE DATABASE "${name}"`));
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query('CREATE TABLE scratch (n integer)');
    await setup.end();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    if (serverUrl) await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });
  return {
    name,
    url,
    async open(app: string) {
      const client = new pg.Client({ connectionString: url, application_name: app });
      client.on('error', () => undefined);
      await client.connect();
      clients.push(client);
      return client;
    },
  };
}

describeWithServer('a transaction held open in another database', () => {
  const scratch = useScratchDatabase();
  let holder: pg.Client;
  let holderPid: number;
  const application = `annals-horizon-holder-${Math.random().toString(36).slice(2, 6)}`;

  beforeAll(async () => {
    holder = await scratch.open(application);
    holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await holder.query('BEGIN');
    await holder.query('INSERT INTO scratch VALUES (1)'); // it writes: it has a transaction id
  });
  afterAll(async () => {
    await holder.query('ROLLBACK').catch(() => undefined);
  });

  it('holds back no reader and no projection of this database', async () => {
    // A schema of its own: the projection reads its log from the start.
    const schema = `${db.schema}_orders`;
    await migrate(db.pool, { schema });
    const { eventStore, projectionStore } = openStores({ ...db, pool: db.pool, schema });
    const cluster = new PostgresEventStore({
      pool: db.pool,
      registry: eventStore.registry,
      schema,
      horizon: 'cluster',
    });
    expect(await eventStore.horizonScope()).toBe('database');
    const start = (await eventStore.head()).position;
    const order = (index: number) => ({
      type: 'OrderCreated',
      aggregateType: 'Order',
      payload: { customerId: `customer-${index}`, items: [] },
    });

    const name = 'beside-foreign';
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      batchSize: 7,
      projections: [ledgerProjection({ name })],
    });
    await runner.catchUp();
    const ledger = `"${schema}"."ledger_beside_foreign"`;
    const stored: StoredEvent[] = [];
    // Readers keep moving, round after round, while the foreign transaction stays open.
    for (let round = 0; round < 5; round++) {
      for (let index = 0; index < 10; index++) {
        const result = await eventStore.append(`foreign-${round}-${index}`, NO_STREAM, [order(index)]);
        stored.push(...result.events);
      }
      const page = await eventStore.readAll({ after: start, limit: 1000 });
      expect(page.events.map((event) => event.eventId)).toEqual(stored.map((event) => event.eventId));
      expect((await eventStore.head()).position).toEqual(logPositionOf(stored.at(-1)!));
      await runner.catchUp();
      const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ledger}`);
      expect(rows[0]!.n).toBe(stored.length);
    }
    const status = await runner.status(name);
    expect(status.lagEvents).toBe(0n);
    expect(status.horizon?.scope).toBe('database');
    expect(status.horizon?.heldBackEvents).toBe(0n);

    // The server-wide horizon, for contrast, is stuck behind the foreign transaction: none of
    // these events is readable through it, and it names the transaction that holds it.
    expect((await cluster.readAll({ after: start, limit: 1000 })).events).toEqual([]);
    const horizon = await cluster.readHorizon();
    expect(horizon.scope).toBe('cluster');
    expect(horizon.heldBackEvents).toBeGreaterThanOrEqual(BigInt(stored.length));
    expect(horizon.holder).toMatchObject({ pid: holderPid, database: scratch.name, application });
    expect(horizon.holder?.ageMs).toBeGreaterThan(0);
    expect(horizon.holder?.since).toBeInstanceOf(Date);
    const line = describeHorizon(horizon);
    expect(line).toContain(`pid ${holderPid}`);
    expect(line).toContain(`database ${scratch.name}`);
    expect(line).toContain(`application ${application}`);
    expect(line).toMatch(/committed events wait behind transaction \d+/);

    // A runner on that store reports it in its status: the lag grows and the holder is named.
    const stuck = new ProjectionRunner({
      eventStore: cluster,
      projectionStore,
      projections: [ledgerProjection({ name: 'behind-foreign' })],
    });
    const stuckStatus = await stuck.status('behind-foreign');
    expect(stuckStatus.horizon?.holder?.pid).toBe(holderPid);
    await runner.stop();
    await cluster.close();
    await eventStore.close();
  });

  it('a transaction of this database still holds readers back, and status names it', async () => {
    const eventStore = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    const start = (await eventStore.head()).position;
    const local = await db.pool.connect();
    const localApplication = 'annals-local-holder';
    try {
      await local.query(`SET application_name = '${localApplication}'`);
      await local.query('BEGIN');
      const first = await eventStore.append(streamId('local'), NO_STREAM, [added('x')], { client: local });
      const pid = (await local.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const after = await eventStore.append(streamId('after'), NO_STREAM, [added('y')]);
      expect((await eventStore.readAll({ after: start })).events).toEqual([]);
      const horizon = await eventStore.readHorizon();
      expect(horizon.scope).toBe('database');
      expect(horizon.heldBackEvents).toBe(1n);
      expect(horizon.holder).toMatchObject({
        pid,
        transactionId: first.events[0]!.transactionId,
        application: localApplication,
      });
      expect(horizon.holder?.database).toBe(new URL(db.connectionString).pathname.slice(1));
      await local.query('COMMIT');
      const ids = (await eventStore.readAll({ after: start })).events.map((event) => event.eventId);
      expect(ids).toEqual([first.events[0]!.eventId, after.events[0]!.eventId]);
    } finally {
      await local.query('ROLLBACK').catch(() => undefined);
      local.release();
      await eventStore.close();
    }
  });
});

describeWithServer('the per-database horizon under churn in another database', () => {
  const scratch = useScratchDatabase();

  it('never passes an in-flight transaction of this database, while it does pass foreign ones', async () => {
    const horizonSql = `SELECT (${horizonExpression('database')})::text AS horizon`;
    const inFlight = new Map<number, bigint>();
    const foreignInFlight = new Map<number, bigint>();
    let running = true;
    let next = 0;
    let passedForeign = 0;
    let checks = 0;

    // Foreign churn: short write transactions in the scratch database, half of them on fresh
    // connections (new backends reuse the slots of those that left).
    const foreign = Array.from({ length: 6 }, async (_, worker) => {
      let client = await scratch.open(`annals-churn-${worker}`);
      while (running) {
        if (worker % 2 === 0) {
          await client.end();
          client = await scratch.open(`annals-churn-${worker}`);
        }
        const key = next++;
        await client.query('BEGIN');
        const { rows } = await client.query<{ xid: string }>(
          'INSERT INTO scratch VALUES (1) RETURNING pg_current_xact_id()::text AS xid',
        );
        foreignInFlight.set(key, BigInt(rows[0]!.xid));
        await sleep(Math.random() * 30);
        foreignInFlight.delete(key);
        await client.query('COMMIT');
      }
    });

    // This database: transactions that take an id and stay open for a while.
    const local = Array.from({ length: 6 }, async () => {
      const client = await db.pool.connect();
      try {
        while (running) {
          const key = next++;
          await client.query('BEGIN');
          const { rows } = await client.query<{ xid: string }>(
            `INSERT INTO "${db.schema}".events (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, "timestamp")
             VALUES ($1, 'Cart', 1, $1, 'ItemAdded', 1, '{"sku":"s","quantity":1}', now()) RETURNING transaction_id::text AS xid`,
            [`churn-${key}-${Math.random().toString(36).slice(2)}`],
          );
          inFlight.set(key, BigInt(rows[0]!.xid));
          await sleep(Math.random() * 40);
          inFlight.delete(key);
          await client.query(Math.random() < 0.3 ? 'ROLLBACK' : 'COMMIT');
        }
      } finally {
        client.release();
      }
    });

    const checker = (async () => {
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        const before = new Map(inFlight);
        const foreignBefore = new Map(foreignInFlight);
        const { rows } = await db.pool.query<{ horizon: string }>(horizonSql);
        const horizon = BigInt(rows[0]!.horizon);
        checks++;
        // Open from before the query until after it: the horizon must not pass it.
        for (const [key, xid] of before) {
          if (inFlight.has(key)) expect(horizon, `passed local transaction ${xid}`).toBeLessThanOrEqual(xid);
        }
        for (const [key, xid] of foreignBefore) {
          if (foreignInFlight.has(key) && horizon > xid) passedForeign++;
        }
      }
    })();
    try {
      await checker;
    } finally {
      running = false;
      await Promise.all([...foreign, ...local]);
    }
    expect(checks).toBeGreaterThan(20);
    expect(passedForeign).toBeGreaterThan(0);
  });

  it('16 writers holding transactions open, foreign churn beside them: the reader sees every committed event once', async () => {
    const store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    expect(await store.horizonScope()).toBe('database');
    const committed = new Set<string>();
    const inFlight = new Map<number, LogPosition>();
    const passed: string[] = [];
    let running = true;
    let writersDone = false;
    let nextTx = 0;
    const startHead = (await store.head()).position;

    const foreign = Array.from({ length: 4 }, async (_, worker) => {
      const client = await scratch.open(`annals-churn-reader-${worker}`);
      while (running) {
        await client.query('BEGIN');
        await client.query('INSERT INTO scratch VALUES (2)');
        await sleep(Math.random() * 50);
        await client.query('COMMIT');
      }
    });

    const reader = (async () => {
      const seen: StoredEvent[] = [];
      let checkpoint = startHead;
      let deadline = Number.POSITIVE_INFINITY;
      for (;;) {
        const pending = [...inFlight.values()];
        const page = await store.readAll({ after: checkpoint, limit: 50 });
        seen.push(...page.events);
        const seenIds = new Set(seen.map((event) => event.eventId));
        // A position in flight before the read that the checkpoint now passes: never.
        for (const position of pending) {
          if (
            compareLogPositions(page.next, position) >= 0 &&
            !seen.some((e) => compareLogPositions(e, position) === 0)
          ) {
            passed.push(`${position.transactionId}:${position.globalPosition}`);
          }
        }
        checkpoint = page.next;
        if (!page.caughtUp) continue;
        if (writersDone) {
          deadline = Math.min(deadline, Date.now() + 10_000);
          if ([...committed].every((id) => seenIds.has(id)) || Date.now() > deadline) return seen;
        }
        await sleep(5);
      }
    })();

    const writers = Array.from({ length: 16 }, async (_, writer) => {
      for (let n = 0; n < 15; n++) {
        const id = streamId(`h-${writer}`);
        const eventId = `h-${writer}-${n}-${Math.random().toString(36).slice(2, 8)}`;
        if (n % 3 === 0) {
          const tx = nextTx++;
          await store.withTransaction(async (t) => {
            const result = await t.append(id, NO_STREAM, [added('held', { eventId })]);
            inFlight.set(tx, logPositionOf(result.events[0]!));
            await sleep(30 + Math.random() * 120);
          });
          inFlight.delete(tx);
        } else {
          await store.append(id, NO_STREAM, [added('quick', { eventId })]);
        }
        committed.add(eventId);
      }
    });
    await Promise.all(writers);
    writersDone = true;
    const seen = await reader;
    running = false;
    await Promise.all(foreign);
    await store.close();

    const ids = seen.map((event) => event.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(committed);
    expect(passed).toEqual([]);
    for (let index = 1; index < seen.length; index++) {
      expect(compareLogPositions(seen[index - 1]!, seen[index]!)).toBeLessThan(0);
    }
  });
});

describeWithServer('right after an append, while short transactions of another database come and go', () => {
  const scratch = useScratchDatabase();

  /**
   * Autocommit inserts in the scratch database until `stop()`: ids that end while a read looks.
   * Kept short and small: the churn takes CPU from the test files running beside this one.
   */
  function churn(clients: number) {
    let running = true;
    const workers = Array.from({ length: clients }, async (_, worker) => {
      const client = await scratch.open(`annals-churn-head-${worker}`);
      while (running) await client.query('INSERT INTO scratch VALUES (3)');
    });
    return async () => {
      running = false;
      await Promise.all(workers);
    };
  }

  interface Queryable {
    query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  }

  /**
   * `db.pool`, except that the first statement `isTarget` picks runs as the race has it: in a
   * `REPEATABLE READ` transaction on `reader` whose snapshot is taken while `foreign` runs, its
   * views read after `foreign` committed (such a transaction keeps its first statement's
   * snapshot, and reads the views at their first use). The first row of every picked statement
   * is pushed to `rows`. A statement of the pool meets this only by chance, when a foreign
   * transaction ends within microseconds.
   */
  function poolWithLateRead(
    foreign: Queryable,
    reader: Queryable,
    isTarget: (config: unknown) => boolean,
    rows: unknown[],
  ): typeof db.pool {
    let staged = false;
    return new Proxy(db.pool, {
      get(target, key) {
        if (key === 'query') {
          return async (config: unknown, values?: unknown[]) => {
            if (isTarget(config) && !staged) {
              staged = true;
              const statement =
                typeof config === 'string'
                  ? { text: config, values }
                  : (config as { text: string; values?: unknown[] });
              await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
              await reader.query('SELECT 1'); // the snapshot: `foreign` is running
              await foreign.query('COMMIT');
              const result = await reader.query(statement.text, statement.values);
              await reader.query('COMMIT');
              rows.push(result.rows[0]);
              return result;
            }
            const result = await target.query(config as string, values);
            if (isTarget(config)) rows.push(result.rows[0]);
            return result;
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('head() reads again when the transaction bounding its horizon ended while it looked', async () => {
    const foreign = await scratch.open('annals-late-horizon');
    const reader = await db.pool.connect();
    type HeadRow = { stale: boolean; global_position: string | null };
    const heads: HeadRow[] = [];
    const isHead = (config: unknown) =>
      typeof config === 'object' &&
      config !== null &&
      String((config as { name?: unknown }).name).startsWith('annals_head_');
    const pool = poolWithLateRead(foreign, reader, isHead, heads);
    const store = new PostgresEventStore({ pool, registry: registry(), schema: db.schema });
    try {
      expect(await store.horizonScope()).toBe('database');
      await foreign.query('BEGIN');
      await foreign.query('INSERT INTO scratch VALUES (4)'); // it has an id, older than the append's
      const result = await store.append(streamId('late'), NO_STREAM, [added('late')]);
      const appended = logPositionOf(result.events[0]!);
      const head = await store.head();
      expect(head.position).toEqual(appended);
      expect(heads.length).toBeGreaterThanOrEqual(2);
      // The staged read hid the append and said so; the next one showed it.
      expect(heads[0]!.stale).toBe(true);
      expect(BigInt(heads[0]!.global_position ?? '0')).toBeLessThan(appended.globalPosition);
      expect(heads.at(-1)!.stale).toBe(false);
    } finally {
      await foreign.query('ROLLBACK').catch(() => undefined);
      reader.release();
      await store.close();
    }
  });

  it('readHorizon() reads again when the transaction bounding its horizon ended while it looked', async () => {
    // The race of the test above, staged for the horizon's own read: held back by a
    // transaction that had ended, the append would be reported as waiting behind it.
    const foreign = await scratch.open('annals-late-horizon-state');
    const reader = await db.pool.connect();
    type StateRow = { ended: boolean; held_back: string };
    const states: StateRow[] = [];
    const isState = (config: unknown) => typeof config === 'string' && config.includes('AS held_back');
    const pool = poolWithLateRead(foreign, reader, isState, states);
    const store = new PostgresEventStore({ pool, registry: registry(), schema: db.schema });
    try {
      expect(await store.horizonScope()).toBe('database');
      await foreign.query('BEGIN');
      await foreign.query('INSERT INTO scratch VALUES (5)'); // it has an id, older than the append's
      await store.append(streamId('late-state'), NO_STREAM, [added('late')]);
      const horizon = await store.readHorizon();
      // The staged read counted the append as held back by an ended transaction; the next did not.
      expect(states.length).toBeGreaterThanOrEqual(2);
      expect(states[0]!.ended).toBe(true);
      expect(BigInt(states[0]!.held_back)).toBeGreaterThan(0n);
      expect(states.at(-1)!.ended).toBe(false);
      expect(horizon.heldBackEvents).toBe(0n);
      expect(horizon.holder).toBeUndefined();
    } finally {
      await foreign.query('ROLLBACK').catch(() => undefined);
      reader.release();
      await store.close();
    }
  });

  it('catchUp() of a runner that is not started processes the event just appended, every time', async () => {
    const store = new PostgresEventStore({ pool: db.pool, registry: registry(), schema: db.schema });
    const projectionStore = new PostgresProjectionStore({ pool: db.pool, schema: db.schema });
    const seen: string[] = [];
    const projection = defineProjection<PostgresProjectionContext>()({
      name: 'right-after-append',
      events: [ItemAdded],
      handlers: { ItemAdded: (event) => void seen.push(event.eventId) },
    });
    const runner = new ProjectionRunner({ eventStore: store, projectionStore, projections: [projection] });
    const stop = churn(4);
    const appended: string[] = [];
    const missing: string[] = [];
    try {
      for (let round = 0; round < 30; round++) {
        const result = await store.append(streamId('caught'), NO_STREAM, [added('caught')]);
        appended.push(result.events[0]!.eventId);
        await runner.catchUp();
        if (!seen.includes(result.events[0]!.eventId)) missing.push(result.events[0]!.eventId);
      }
    } finally {
      await stop();
      await store.close();
    }
    expect(missing).toEqual([]);
    expect(seen.slice(-appended.length)).toEqual(appended);
  });
});
