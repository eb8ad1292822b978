import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compareLogPositions, logPositionOf, ProjectionRunner, type ProjectionStore } from 'annals';
import type { PostgresProjectionContext, PostgresProjectionStore } from 'annals/postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { orderReadModel } from '../../../examples/order/order-read-model.js';
import { databaseUrl, describeWithServer, usePostgres } from '../../support/postgres.js';
import {
  appendOrders,
  eventually,
  generateOrders,
  ledgerProjection,
  ledgerRows,
  logEventIds,
  openStores,
  orderReadRows,
  random,
} from './fixtures.js';

const db = usePostgres();
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Where a unit of work is broken. */
type CrashPoint =
  /** The handlers ran; the unit throws before the checkpoint is written (rolled back). */
  | 'before-checkpoint'
  /**
   * Handlers and checkpoint written; COMMIT itself fails (a deferred constraint trigger raising a
   * serialization failure, 40001: a fault worth retrying, as a random one is; a permanent failure
   * at COMMIT is dead-lettered instead, see dead-letters.test.ts).
   */
  | 'commit-fails'
  /** The transaction's connection is killed (pg_terminate_backend) after a handler wrote. */
  | 'connection-killed-mid-batch'
  /** The transaction's connection is killed after the checkpoint was written, before COMMIT. */
  | 'connection-killed-before-commit';

/**
 * The projection store with faults injected at `point`, in about 30% of the units of work, and a
 * hook for the handlers (faults in the middle of a batch).
 */
function crashingStore(inner: PostgresProjectionStore, point: CrashPoint, seed: number) {
  const next = random(seed);
  let crashes = 0;
  const roll = (chance: number) => {
    if (next() >= chance) return false;
    crashes++;
    return true;
  };
  const kill = (context: PostgresProjectionContext) =>
    context.client.query('SELECT pg_terminate_backend(pg_backend_pid())');
  const store: ProjectionStore<PostgresProjectionContext> = {
    transaction: (work) =>
      inner.transaction(async (transaction) => {
        const result = await work({
          context: transaction.context,
          saveCheckpoint: async (projection, update) => {
            if (point === 'before-checkpoint' && roll(0.3)) {
              throw new Error('simulated crash before the checkpoint');
            }
            return transaction.saveCheckpoint(projection, update);
          },
          resetCheckpoint: (projection, options) => transaction.resetCheckpoint(projection, options),
          addDeadLetter: (letter) => transaction.addDeadLetter(letter),
          removeDeadLetter: (id) => transaction.removeDeadLetter(id),
        });
        if (point === 'connection-killed-before-commit' && roll(0.3)) await kill(transaction.context);
        if (point === 'commit-fails' && roll(0.3)) {
          await transaction.context.client.query(`INSERT INTO "${db.schema}".commit_trap VALUES (1)`);
        }
        return result;
      }),
    loadCheckpoint: (projection) => inner.loadCheckpoint(projection),
    getDeadLetter: (id) => inner.getDeadLetter(id),
    listDeadLetters: (projection, options) => inner.listDeadLetters(projection, options),
    countDeadLetters: (projection) => inner.countDeadLetters(projection),
    tryAcquireLease: (projection, owner) => inner.tryAcquireLease(projection, owner),
    isTransientError: (error) => inner.isTransientError(error),
  };
  /** Runs in the handlers, after some of the batch's events were written. */
  const beforeHandler = async (_event: unknown, context: PostgresProjectionContext) => {
    if (point === 'connection-killed-mid-batch' && roll(0.05)) await kill(context);
  };
  return { store, beforeHandler, crashes: () => crashes };
}

beforeAll(async () => {
  const s = `"${db.schema}"`;
  await db.pool.query(`
    CREATE TABLE ${s}.commit_trap (id integer);
    CREATE FUNCTION ${s}.commit_trap_fail() RETURNS trigger LANGUAGE plpgsql
      AS $$ BEGIN RAISE EXCEPTION 'simulated failure at COMMIT' USING ERRCODE = '40001'; END $$;
    CREATE CONSTRAINT TRIGGER commit_trap_fail AFTER INSERT ON ${s}.commit_trap
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${s}.commit_trap_fail();
  `);
});

/**
 * Runs catch-ups until the projections have processed `target`; each failed one is a process that
 * died, the next loop turn its restart. Returns how many restarts it took.
 */
async function catchUpWithRestarts(
  makeRunner: () => ProjectionRunner<PostgresProjectionContext>,
  reached: () => Promise<boolean>,
) {
  let restarts = 0;
  for (;;) {
    try {
      await makeRunner().catchUp();
      if (await reached()) return restarts;
      // Events another session's open transaction still hides: catch up again.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } catch (error) {
      expect(String((error as Error).message)).toMatch(/simulated|terminat|connection|COMMIT/i);
      restarts++;
      expect(restarts).toBeLessThan(1000);
    }
  }
}

const points: CrashPoint[] = ['before-checkpoint', 'commit-fails'];
const serverPoints: CrashPoint[] = ['connection-killed-mid-batch', 'connection-killed-before-commit'];

describe('crashes between the handlers and the checkpoint (PostgreSQL)', () => {
  for (const [index, point] of [...points, ...serverPoints].entries()) {
    const needsServer = serverPoints.includes(point);
    it.skipIf(needsServer && !databaseUrl)(
      `applies every event exactly once across restarts: ${point}${needsServer && !databaseUrl ? ' (SKIPPED: needs a real server)' : ''}`,
      async () => {
        const { eventStore, projectionStore } = openStores(db);
        const generated = generateOrders(40, 100 + index, `crash${index}`);
        const last = logPositionOf((await appendOrders(eventStore, generated))!);
        const ids = await logEventIds(eventStore);
        const { store, beforeHandler, crashes } = crashingStore(projectionStore, point, 7 + index);
        const ledger = ledgerProjection({ name: `crash-${index}`, before: beforeHandler });
        // The order read model of earlier tests' orders is rebuilt by this test's runner too.
        await projectionStore.transaction(async (transaction) => {
          await orderReadModel.reset?.(transaction.context);
          await transaction.resetCheckpoint(orderReadModel.name);
        });
        const restarts = await catchUpWithRestarts(
          () =>
            new ProjectionRunner({
              eventStore,
              projectionStore: store,
              projections: [ledger, orderReadModel],
              batchSize: 7,
              retryDelayMs: 1,
              maxRetryAttempts: 1,
            }),
          async () => {
            for (const name of [ledger.name, orderReadModel.name]) {
              const { position } = await projectionStore.loadCheckpoint(name);
              if (compareLogPositions(position, last) < 0) return false;
            }
            return true;
          },
        );
        expect(restarts).toBeGreaterThan(0);
        expect(crashes()).toBeGreaterThan(0);
        const applied = (await ledgerRows(db.pool, db.schema, ledger.name)).map((row) => row.eventId);
        expect(applied).toEqual(ids);
        const rows = (await orderReadRows(db.pool, db.schema)).filter((row) =>
          row.orderId.startsWith(`crash${index}-`),
        );
        expect(rows).toEqual(generated.expected);
        expect(await projectionStore.countDeadLetters(ledger.name)).toBe(0);
      },
    );
  }
});

describeWithServer('a runner process killed (SIGKILL) in the middle of a catch-up', () => {
  it('leaves no event applied twice or skipped once another runner finishes', async () => {
    const { eventStore, projectionStore } = openStores(db);
    const name = 'killed-process';
    const generated = generateOrders(150, 4242, 'killed');
    const last = logPositionOf((await appendOrders(eventStore, generated))!);
    const ids = await logEventIds(eventStore);
    // node itself (not npx) so that SIGKILL hits the runner's process.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/postgres/projections/support/slow-runner-child.ts', db.schema, name],
      { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    const table = `"${db.schema}"."ledger_${name.replaceAll('-', '_')}"`;
    // Kill it once it has committed a few batches (the child is slowed down per event).
    await eventually(async () => {
      const { rows } = await db.pool
        .query<{ count: string }>(`SELECT count(*)::text AS count FROM ${table}`)
        .catch(() => ({ rows: [{ count: '0' }] }));
      return Number(rows[0]?.count) >= 40;
    }, 60_000).catch((error: unknown) => {
      throw new Error(`the child runner did not get going: ${stderr}`, { cause: error });
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const partial = await ledgerRows(db.pool, db.schema, name);
    expect(partial.length).toBeLessThan(ids.length);
    // The dead process's lease goes with its session; a new runner takes over and finishes.
    const runner = new ProjectionRunner({
      eventStore,
      projectionStore,
      projections: [ledgerProjection({ name, runner: 'successor' })],
    });
    await eventually(async () => {
      try {
        await runner.catchUp();
        const { position } = await projectionStore.loadCheckpoint(name);
        return compareLogPositions(position, last) >= 0;
      } catch (error) {
        if (/holds its lease/.test(String(error))) return false;
        throw error;
      }
    });
    const rows = await ledgerRows(db.pool, db.schema, name);
    expect(rows.map((row) => row.eventId)).toEqual(ids);
    expect(rows.some((row) => row.runner === 'child')).toBe(true);
    expect(rows.some((row) => row.runner === 'successor')).toBe(true);
  });
});
