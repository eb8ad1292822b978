import { compareLogPositions, type LogPosition, logPositionOf, ProjectionRunner } from 'annals';
import { PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { orderRegistry } from '../../../examples/order/upcasters.js';
import { projectionLeaseKey } from '../../../src/postgres/projections/projection-lease.js';
import { describeWithServer, usePostgres } from '../../support/postgres.js';
import {
  appendOrders,
  eventually,
  generateOrders,
  ledgerProjection,
  ledgerRows,
  logEventIds,
  openStores,
} from './fixtures.js';

const db = usePostgres();

/** Runners a test started; stopped after it even when it fails, so the pools can end. */
const started: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((runner) => runner.stop()));
});

const reached = async (store: PostgresProjectionStore, name: string, target: LogPosition | undefined) =>
  target !== undefined && compareLogPositions((await store.loadCheckpoint(name)).position, target) >= 0;

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
});
