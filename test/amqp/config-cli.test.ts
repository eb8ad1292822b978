/**
 * The `annals` command line on a config in plain values (the seed's sections): it opens the
 * events database, the read model's database (`projections.targetDb`) and the broker itself,
 * migrates both databases, runs the relay and the consumer (`transport: 'broker'`) or the log
 * runner (`'log'`), and reads the broker's dead letters by default. Real PostgreSQL and RabbitMQ.
 */
import { fileURLToPath } from 'node:url';
import { PostgresEventStore } from 'annals/postgres';
import { afterEach, expect, it } from 'vitest';
import { queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { runCli } from '../../src/cli/run-cli.js';
import { describeWithServer, usePostgres } from '../support/postgres.js';
import { appendOrdersConcurrently, orderReadModelFromLog } from './consumer-fixtures.js';
import { describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const events = usePostgres({ serverOnly: true, migrate: false });
const readModel = usePostgres({ serverOnly: true, migrate: false });
const rabbit = useRabbitVhost();
const configPath = fileURLToPath(new URL('./fixtures/plain-values.config.ts', import.meta.url));

interface Run {
  readonly code: Promise<number>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  stop(): void;
}

/** Starts `annals <args>` in this process on the plain-values config; `stop()` is SIGTERM. */
function annals(args: readonly string[], env: Record<string, string> = {}): Run {
  Object.assign(process.env, {
    ANNALS_TEST_EVENTS_URL: events.connectionString,
    ANNALS_TEST_READ_URL: readModel.connectionString,
    ANNALS_TEST_BROKER_URL: rabbit.url,
    ANNALS_TEST_SCHEMA: 'orders',
    ANNALS_TEST_TRANSPORT: 'broker',
    ...env,
  });
  let stdout = '';
  let stderr = '';
  let stop: (signal: 'SIGTERM') => void = () => undefined;
  const stopped = new Promise<'SIGTERM'>((resolve) => {
    stop = resolve;
  });
  const code = runCli([...args, '--config', configPath], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd: process.cwd(),
    stopRequested: () => stopped,
  } as never);
  return { code, stdout: () => stdout, stderr: () => stderr, stop: () => stop('SIGTERM') };
}

/** The read model's rows in the second database; none while its table does not exist yet. */
const readOrders = (schema: string) =>
  queryOrders(readModel.pool, schema).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === '42P01') return [];
    throw error;
  });

const finished = async (run: Run) => ({ code: await run.code, stdout: run.stdout(), stderr: run.stderr() });

afterEach(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith('ANNALS_TEST_')) delete process.env[name];
});

describeWithRabbit('annals on a config in plain values', () => {
  describeWithServer('two databases and the broker, opened by the CLI', () => {
    it('migrates both databases, runs the relay and the consumer, shows the relay, reads the broker’s dead letters', async () => {
      const migrated = await finished(annals(['migrate']));
      expect(migrated).toMatchObject({ code: 0, stderr: '' });
      for (const db of [events, readModel]) {
        const { rows } = await db.pool.query<{ count: string }>(
          `SELECT count(*) AS count FROM information_schema.tables WHERE table_schema = 'orders'`,
        );
        expect(Number(rows[0]!.count)).toBeGreaterThan(0);
      }

      const run = annals(['run']);
      await waitUntil(() => /running order-read-model on RabbitMQ/.test(run.stdout()), {
        what: 'annals run started',
      });
      const eventStore = new PostgresEventStore({
        pool: events.pool,
        registry: orderRegistry(),
        schema: 'orders',
      });
      const appended = await appendOrdersConcurrently(eventStore, {
        writers: 4,
        ordersPerWriter: 15,
        prefix: 'cli',
      });
      // The read model fills up in the second database, through the relay and the queue.
      const expected = await orderReadModelFromLog(events.pool, 'orders', eventStore);
      expect(expected).toHaveLength(60);
      await waitUntil(async () => (await readOrders('orders')).length === expected.length, {
        timeoutMs: 30_000,
        what: 'the read model in the second database',
      });
      await waitUntil(
        async () => {
          const { rows } = await readModel.pool.query<{ count: string }>(
            "SELECT count(*) AS count FROM orders.processed_events WHERE consumer = 'order-read-model'",
          );
          return Number(rows[0]!.count) === appended;
        },
        { timeoutMs: 30_000, what: 'every event recorded as processed beside the read model' },
      );
      expect(await queryOrders(readModel.pool, 'orders')).toEqual(expected);

      type Report = { transport: string; relays: { relay: string; lagEvents: string; lease: unknown }[] };
      let report: Report | undefined;
      await waitUntil(
        async () => {
          const status = await finished(annals(['status', '--json']));
          expect(status).toMatchObject({ code: 0, stderr: '' });
          report = JSON.parse(status.stdout) as Report;
          return report.relays[0]?.lagEvents === '0';
        },
        { what: 'annals status showing the relay caught up' },
      );
      expect(report!.transport).toBe('broker');
      expect(report!.relays).toHaveLength(1);
      expect(report!.relays[0]!.relay).toBe('relay:domain_events');
      expect(report!.relays[0]!.lease).toMatchObject({ owner: expect.stringMatching(/relay/) });
      // The relay's checkpoint lives beside the events, not in the read model's database.
      const { rows: relayRows } = await events.pool.query<{ projection: string }>(
        'SELECT projection FROM orders.projection_checkpoints',
      );
      expect(relayRows.map((row) => row.projection)).toContain('relay:domain_events');

      run.stop();
      const ended = await finished(run);
      expect(ended.code).toBe(0);
      expect(ended.stdout).toMatch(/stopped the relay at \d+:\d+ \(0 events behind/);
      expect(ended.stdout).toMatch(/stopped projection_order-read-model after \d+ messages acknowledged/);

      const deadLetters = await finished(annals(['dead-letters', 'list']));
      expect(deadLetters).toMatchObject({ code: 0, stderr: '' });
      expect(deadLetters.stdout).toMatch(/^dlq_failed_events holds no dead letters of every projection/);
    });

    it('with transport log, the runner writes the read model and its checkpoint in the second database', async () => {
      const env = { ANNALS_TEST_TRANSPORT: 'log', ANNALS_TEST_SCHEMA: 'log_side' };
      expect(await finished(annals(['migrate'], env))).toMatchObject({ code: 0, stderr: '' });
      const eventStore = new PostgresEventStore({
        pool: events.pool,
        registry: orderRegistry(),
        schema: 'log_side',
      });
      await appendOrdersConcurrently(eventStore, { writers: 2, ordersPerWriter: 5, prefix: 'log' });
      const run = annals(['run'], env);
      const expected = await orderReadModelFromLog(events.pool, 'log_side', eventStore);
      expect(expected).toHaveLength(10);
      await waitUntil(async () => (await readOrders('log_side')).length === expected.length, {
        timeoutMs: 30_000,
        what: 'the read model in the second database',
      });
      run.stop();
      expect((await finished(run)).code).toBe(0);
      expect(await queryOrders(readModel.pool, 'log_side')).toEqual(expected);
      const { rows } = await readModel.pool.query<{ projection: string }>(
        'SELECT projection FROM log_side.projection_checkpoints',
      );
      expect(rows.map((row) => row.projection)).toEqual(['order-read-model']);
    });

    it('a bad value is one line naming the field, before anything is opened', async () => {
      const bad = await finished(annals(['status'], { ANNALS_TEST_PREFETCH: '-1' }));
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(
        /config\.messageBroker\.prefetch must be a whole number from 1 to 65535; got -1/,
      );
    });
  });
});
