import { compareLogPositions, type LogPosition, logPositionOf, ProjectionRunner } from 'annals';
import {
  type PgPool,
  PostgresEventStore,
  PostgresProjectionStore,
  type ProjectionLeaseHolder,
} from 'annals/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { orderRegistry } from '../../../examples/order/upcasters.js';
import { projectionLeaseKey } from '../../../src/postgres/projections/projection-lease.js';
import { observeStore } from '../../projections/observed-store.js';
import { describeWithServer, hasServer, usePostgres } from '../../support/postgres.js';
import {
  appendOrders,
  eventually,
  generateOrders,
  ledgerProjection,
  ledgerRows,
  logEventIds,
  openStores,
} from './fixtures.js';

const db = usePostgres({ manyConnections: true });

/** Runners a test started; stopped after it even when it fails, so the pools can end. */
const started: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((runner) => runner.stop()));
});

const reached = async (store: PostgresProjectionStore, name: string, target: LogPosition | undefined) =>
  target !== undefined && compareLogPositions((await store.loadCheckpoint(name)).position, target) >= 0;

/**
 * The scenario: runner a is catching up a backlog and never renews its lease in
 * the test; `lose` takes its lease away behind its back; runner b, waiting, takes over. Checks
 * that a commits no batch past where b started, b never yields, and every event is applied once.
 */
async function fencedTakeover(
  name: string,
  pools: readonly [PgPool, PgPool],
  lose: (holder: ProjectionLeaseHolder, a: ReturnType<typeof observeStore>) => Promise<void>,
): Promise<void> {
  const setup = openStores(db);
  const last = await appendOrders(setup.eventStore, generateOrders(hasServer ? 200 : 80, 41, 'backlog'));
  const target = logPositionOf(last!);
  const process = (label: string, pool: PgPool, options: { leaseRenewMs: number; pauseMs: number }) => {
    const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: db.schema });
    const observed = observeStore(new PostgresProjectionStore({ pool, schema: db.schema }), {
      pauseMs: options.pauseMs,
    });
    const errors: string[] = [];
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: observed.store,
      projections: [ledgerProjection({ name, runner: label })],
      owner: `runner-${label}`,
      batchSize: 20,
      leaseRetryMs: 20,
      leaseRenewMs: options.leaseRenewMs,
      pollIntervalMs: 20,
      retryDelayMs: 10,
      onError: (error) => errors.push(error.message),
    });
    started.push(runner);
    return { runner, observed, errors };
  };
  // a renews once a minute: its lease cannot tell it that it is gone. b's batches are slower
  // than a's, so without fencing a would win every race for the checkpoint while its backlog
  // lasts (the issue: b lost its compare-and-set again and again and gave the lease back).
  const a = process('a', pools[0], { leaseRenewMs: 60_000, pauseMs: 10 });
  const b = process('b', pools[1], { leaseRenewMs: 50, pauseMs: 40 });
  a.runner.start();
  await eventually(() => a.observed.commits.length >= 5);
  b.runner.start();
  await eventually(async () => (await b.runner.status(name)).state === 'waiting-for-lease');
  const holder = await setup.projectionStore.leaseHolder(name);
  expect(holder?.owner).toBe('runner-a');
  const lostAt = Date.now();
  await lose(holder!, a.observed);
  await eventually(() => b.observed.startedFrom.length > 0);
  const takeoverMs = Date.now() - lostAt;
  await eventually(() => reached(setup.projectionStore, name, target));

  // Every event applied exactly once, in log order.
  const rows = await ledgerRows(db.pool, db.schema, name);
  expect(rows.map((row) => row.eventId)).toEqual(await logEventIds(setup.eventStore));
  // The new holder took the lease once, was never refused a save, and kept the lease.
  expect(b.observed.leases).toHaveLength(1);
  expect(b.observed.refused()).toBe(0);
  expect(b.errors).toEqual([]);
  expect((await setup.projectionStore.leaseHolder(name))?.owner).toBe('runner-b');
  // The old runner committed no batch past where the new holder started.
  const from = b.observed.startedFrom[0]!.position;
  expect(a.observed.commits.filter((position) => compareLogPositions(position, from) > 0)).toEqual([]);
  expect(b.observed.leases[0]!.fence! > a.observed.leases[0]!.fence!).toBe(true);
  // It learnt from its first refused save that its lease is gone, long before a renewal.
  await eventually(async () => (await a.runner.status(name)).state === 'waiting-for-lease');
  expect(a.observed.refused()).toBeGreaterThan(0);
  expect(a.errors.some((message) => message.includes('checkpoint moved'))).toBe(true);
  await Promise.all([a.runner.stop(), b.runner.stop()]);
  console.info(
    `fenced takeover (${hasServer ? 'server' : 'PGlite'}): the new holder started at global position ${from.globalPosition} of ${target.globalPosition}, ${takeoverMs} ms after the lease was lost; the old runner committed ${a.observed.commits.length} batches and had ${a.observed.refused()} refused`,
  );
}

describe('one active runner per projection', () => {
  it('lets only the lease holder process, and hands over when it stops', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const name = 'shared';
    const runner = (label: string) =>
      new ProjectionRunner({
        eventStore,
        projectionStore,
        projections: [ledgerProjection({ name, runner: label })],
        owner: `runner-${label}`,
        leaseRetryMs: 20,
        leaseRenewMs: 20,
        pollIntervalMs: 20,
      });
    const a = runner('a');
    const b = runner('b');
    started.push(a, b);
    a.start();
    await eventually(async () => (await a.status(name)).state === 'running');
    b.start();
    await eventually(async () => (await b.status(name)).state === 'waiting-for-lease');
    expect((await projectionStore.leaseHolder(name))?.owner).toBe('runner-a');

    let last = await appendOrders(eventStore, generateOrders(20, 21, 'first'));
    await eventually(() => reached(projectionStore, name, last && logPositionOf(last)));
    let rows = await ledgerRows(db.pool, db.schema, name);
    expect(new Set(rows.map((row) => row.runner))).toEqual(new Set(['a']));

    await a.stop();
    await eventually(async () => (await b.status(name)).state === 'running');
    expect((await projectionStore.leaseHolder(name))?.owner).toBe('runner-b');
    last = await appendOrders(eventStore, generateOrders(20, 22, 'second'));
    await eventually(() => reached(projectionStore, name, last && logPositionOf(last)));
    await b.stop();
    expect(await projectionStore.leaseHolder(name)).toBeUndefined();

    rows = await ledgerRows(db.pool, db.schema, name);
    expect(rows.map((row) => row.eventId)).toEqual(await logEventIds(eventStore));
    expect(rows.some((row) => row.runner === 'b')).toBe(true);
  });

  it('a runner that lost its lease mid-catch-up commits no batch after the new holder took it; the new holder never yields', async () => {
    // One pool (PGlite: in-process leases). The holder's lease ends behind its back, as when the
    // server ends its session; the runner does not renew it during the test.
    await fencedTakeover('fenced-release', [db.pool, db.pool], async (_holder, a) => {
      await a.leases[0]!.release();
    });
  });

  it('derives a stable 64-bit key per schema and projection', async () => {
    expect(projectionLeaseKey('annals', 'orders')).toBe(projectionLeaseKey('annals', 'orders'));
    expect(projectionLeaseKey('annals', 'orders')).not.toBe(projectionLeaseKey('annals', 'orders2'));
    expect(projectionLeaseKey('annals', 'orders')).not.toBe(projectionLeaseKey('billing', 'orders'));
    const key = projectionLeaseKey('annals', 'orders');
    expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
  });
});

describeWithServer('lease takeover on a server', () => {
  it('another runner takes over when the holder’s lease session is killed, with no event applied twice', async () => {
    const name = 'takeover';
    // Two "processes": each runner has its own pool, as separate processes would.
    const process = (label: string, leaseRenewMs: number) => {
      const pool = db.newPool(6);
      const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: db.schema });
      const projectionStore = new PostgresProjectionStore({ pool, schema: db.schema });
      const runner = new ProjectionRunner({
        eventStore,
        projectionStore,
        projections: [ledgerProjection({ name, runner: label })],
        owner: `runner-${label}`,
        leaseRetryMs: 50,
        leaseRenewMs,
        pollIntervalMs: 50,
        retryDelayMs: 10,
      });
      return { runner, projectionStore, eventStore };
    };
    // a renews every 2 s, b retries every 50 ms: b takes the freed lock long before a notices its
    // loss (a would otherwise take it straight back). Should both commit a batch meanwhile, the
    // checkpoint's compare-and-set rejects one of them.
    const a = process('a', 2000);
    const b = process('b', 50);
    started.push(a.runner, b.runner);
    a.runner.start();
    await eventually(async () => (await a.runner.status(name)).state === 'running');
    b.runner.start();
    await eventually(async () => (await b.runner.status(name)).state === 'waiting-for-lease');

    const { eventStore, projectionStore } = openStores(db);
    let last = await appendOrders(eventStore, generateOrders(30, 31, 'before-kill'));
    await eventually(() => reached(projectionStore, name, last && logPositionOf(last)));

    const holder = await projectionStore.leaseHolder(name);
    expect(holder?.owner).toBe('runner-a');
    expect(holder?.pid).toBeGreaterThan(0);
    // Events keep arriving while the holder's session is killed and the other runner takes over.
    const arriving = appendOrders(eventStore, generateOrders(60, 32, 'during-kill'));
    const killedAt = Date.now();
    await db.pool.query('SELECT pg_terminate_backend($1)', [holder!.pid]);
    await eventually(async () => (await projectionStore.leaseHolder(name))?.owner === 'runner-b');
    const takeoverMs = Date.now() - killedAt;
    await eventually(async () => (await a.runner.status(name)).state === 'waiting-for-lease');
    last = await arriving;
    const tail = await appendOrders(eventStore, generateOrders(10, 33, 'after-kill'));
    await eventually(() => reached(projectionStore, name, tail && logPositionOf(tail)));
    await Promise.all([a.runner.stop(), b.runner.stop()]);

    const rows = await ledgerRows(db.pool, db.schema, name);
    expect(rows.map((row) => row.eventId)).toEqual(await logEventIds(eventStore));
    expect(rows.some((row) => row.runner === 'a')).toBe(true);
    expect(rows.some((row) => row.runner === 'b')).toBe(true);
    const lastEvent = rows.at(-1);
    expect(lastEvent?.runner).toBe('b');
    // Informative only (no timed assertion): how long the takeover took.
    console.info(`lease takeover after pg_terminate_backend: ${takeoverMs} ms (leaseRetryMs 50)`);
  });

  it('a runner whose lease session is killed mid-catch-up commits no batch after the new holder took over, and the new holder never yields', async () => {
    // Two "processes", each with a pool of its own; the holder's lease session is killed.
    await fencedTakeover('fenced-kill', [db.newPool(6), db.newPool(6)], async (holder) => {
      await db.pool.query('SELECT pg_terminate_backend($1)', [holder.pid]);
    });
  });
});
