import { execFile, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { EventRelay } from 'annals/amqp';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { OrderCommandHandler } from '../../examples/order/order-commands.js';
import { queryOrders } from '../../examples/order/order-read-model.js';
import { openOrderStores } from '../../examples/order/store-setup.js';
import { hasRabbit, NO_RABBIT_REASON, useRabbitVhost } from '../amqp/support.js';
import { databaseUrl, hasServer, NO_SERVER_REASON, usePostgres } from '../support/postgres.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsxLoader = pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href;
/** The CLI tests' switch (test/cli/support.ts): run what was built, not the source. */
const fromDist = process.env.ANNALS_TEST_CLI === 'dist';

// On a server, hold the test files' lock while the example runs (see usePostgres).
if (hasServer) usePostgres({ migrate: false });

// A vhost of this file's own when RABBITMQ_URL is set (nothing otherwise).
const rabbit = useRabbitVhost();

/**
 * Runs the example; on the log (no broker, no second database) unless `env` says otherwise.
 * `npm run example` (the source through tsx), or with `ANNALS_TEST_CLI=dist` (which `.ci/run`
 * sets after its build) the built example that `annals example` runs: no npm and no tsx to
 * start, about 1.8 s of CPU less per run. CI still runs `npm run example` itself on the Node
 * versions of its smoke runs.
 */
async function runExample(env: Record<string, string | undefined>): Promise<string> {
  const [command, args] = fromDist
    ? [process.execPath, [`${root}dist/example/main.js`]]
    : ['npm', ['run', '--silent', 'example']];
  const { stdout } = await promisify(execFile)(command, args, {
    cwd: root,
    env: { ...process.env, RABBITMQ_URL: '', READ_MODEL_DATABASE_URL: '', ...env },
    timeout: 120_000,
  });
  return stdout;
}

function expectQuickStart(stdout: string, path: 'log' | 'broker' = 'log'): void {
  // 1. commands, with the domain rules
  expect(stdout).toContain('1. Send commands');
  expect(stdout).toMatch(/v1 OrderCreated \{"customerId":"cust-42"/);
  expect(stdout).toContain('v2 OrderItemAdded');
  expect(stdout).toContain('v3 OrderShipped');
  expect(stdout).toContain('duplicate: true; nothing appended, the stream stays at v2');
  expect(stdout).toMatch(/rejected: .*positive/);
  expect(stdout).toMatch(/rejected: Cannot add items to order order-1001: it is shipped/);
  // 2. events stored
  expect(stdout).toContain('2. Events stored in the global log');
  expect(stdout).toMatch(/#\d+ order-1001 v1 OrderCreated \(correlation checkout-7f3a\)/);
  expect(stdout).toMatch(/#\d+ order-1002 v2 OrderCancelled/);
  expect(stdout).toContain('status shipped, 2 lines, total 89.80');
  expect(stdout).toContain('snapshot of order-1001 at v3: loads read it plus the events after it');
  // 3. the projection catches up, from the log or through the broker
  if (path === 'log') {
    expect(stdout).toContain('projections read the log (set RABBITMQ_URL to go through RabbitMQ)');
    expect(stdout).toMatch(/checkpoint (\d+:\d+) = head \1: lag 0 events, 0 dead letters/);
  } else {
    expect(stdout).toContain('relay and projection consumer in this process');
    expect(stdout).toContain(
      '3. Through RabbitMQ: the relay publishes the log, a consumer builds "order-read-model"',
    );
    expect(stdout).toMatch(
      /relay relay:domain_events: checkpoint (\d+:\d+) = head \1: lag 0 events, 6 published and confirmed/,
    );
    expect(stdout).toContain(
      'consumer on queue projection_order-read-model: 6 messages applied and acknowledged',
    );
    expect(stdout).toContain('rebuild it from the log with the runner (the same projection)');
  }
  // 4. the read model answers
  expect(stdout).toMatch(/order-1001 {2}cust-42 +shipped +3 items {2}total +89\.80/);
  expect(stdout).toMatch(/order-1002 {2}cust-42 +cancelled +1 items {2}total +310\.00/);
  expect(stdout).toContain('all orders: 3 rows');
  // 5. drop, reset, restart: the same rows
  expect(stdout).toContain('order_read dropped: yes; checkpoint reset to 0:0');
  expect(stdout).toMatch(/order-1003 {2}cust-7 +open +6 items {2}total +62\.00/);
  expect(stdout).toContain('rebuilt 3 rows from 6 events: identical to the rows before');
  expect(stdout.trim().endsWith('Done.')).toBe(true);
}

describe('npm run example', () => {
  it('walks the Quick Start on PGlite and exits 0', async () => {
    const stdout = await runExample({ DATABASE_URL: '' });
    expect(stdout).toContain('annals: Order example (PostgreSQL on PGlite, in process)');
    expectQuickStart(stdout);
  });
});

describe.skipIf(!hasServer)(
  hasServer ? 'npm run example on a server' : `npm run example on a server (${NO_SERVER_REASON})`,
  () => {
    const schema = `annals_example_${Math.random().toString(36).slice(2, 10)}`;

    afterAll(async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });

    it('walks the Quick Start on the server, re-runnable in its schema', async () => {
      for (let run = 0; run < 2; run++) {
        const stdout = await runExample({ DATABASE_URL: databaseUrl, ANNALS_EXAMPLE_SCHEMA: schema });
        expect(stdout).toContain(`annals: Order example (PostgreSQL server at`);
        expect(stdout).toContain(`schema ${schema})`);
        expectQuickStart(stdout);
      }
    });
  },
);

describe.skipIf(!hasRabbit)(
  hasRabbit ? 'npm run example through RabbitMQ' : `npm run example through RabbitMQ (${NO_RABBIT_REASON})`,
  () => {
    it('walks the Quick Start on PGlite with the relay and a projection consumer, and hides the password', async () => {
      const stdout = await runExample({ DATABASE_URL: '', RABBITMQ_URL: rabbit.url });
      expect(stdout).toContain('annals: Order example (PostgreSQL on PGlite, in process)');
      expect(stdout).toMatch(/through RabbitMQ at amqp:\/\/guest:\*\*\*@/);
      expect(stdout).not.toContain('guest:guest');
      expectQuickStart(stdout, 'broker');
    });
  },
);

describe.skipIf(!hasRabbit || !hasServer)(
  hasRabbit && hasServer
    ? 'npm run example and example:worker through RabbitMQ on a server'
    : `npm run example and example:worker through RabbitMQ on a server (${hasRabbit ? NO_SERVER_REASON : NO_RABBIT_REASON})`,
  () => {
    const schema = `annals_example_${Math.random().toString(36).slice(2, 10)}`;

    afterAll(async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.query(`DROP SCHEMA IF EXISTS "${schema}_read_model" CASCADE`);
      await client.end();
    });

    it('keeps the read model in its own database (READ_MODEL_DATABASE_URL), re-runnable', async () => {
      // Another spelling of the same database: the read model gets a schema of its own.
      const readModelUrl = `${databaseUrl}${databaseUrl!.includes('?') ? '&' : '?'}application_name=read-model`;
      for (let run = 0; run < 2; run++) {
        const stdout = await runExample({
          DATABASE_URL: databaseUrl,
          READ_MODEL_DATABASE_URL: readModelUrl,
          RABBITMQ_URL: rabbit.url,
          ANNALS_EXAMPLE_SCHEMA: schema,
        });
        expect(stdout).toContain(`read model in PostgreSQL server at`);
        expect(stdout).toContain(`schema ${schema}_read_model`);
        expectQuickStart(stdout, 'broker');
      }
    });

    it('the worker (npm run example:worker) builds the read model from the broker until SIGTERM', async () => {
      // `npm run example:worker` is `tsx examples/order/worker.ts`: started here without npm and
      // its shell, which do not pass SIGTERM on (Ctrl-C reaches the whole process group).
      const child = spawn(process.execPath, ['--import', tsxLoader, 'examples/order/worker.ts'], {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          READ_MODEL_DATABASE_URL: '',
          RABBITMQ_URL: rabbit.url,
          ANNALS_EXAMPLE_SCHEMA: schema,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += String(chunk);
      });
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const until = async (what: string, ready: () => boolean | Promise<boolean>) => {
        const deadline = Date.now() + 60_000;
        while (!(await ready())) {
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}; stdout:\n${stdout}\nstderr:\n${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const stores = await openOrderStores({ databaseUrl, schema, fresh: false });
      const relay = new EventRelay({
        eventStore: stores.eventStore,
        checkpoints: stores.projectionStore,
        url: rabbit.url,
      });
      try {
        await until('the worker to consume', () =>
          stdout.includes('consuming queue projection_order-read-model'),
        );
        expect(stdout).not.toContain('guest:guest');
        const handler = new OrderCommandHandler(stores.eventStore);
        await handler.createOrder('order-worker-1', 'cust-w', [
          { productId: 'sku-w', quantity: 3, price: 2.5 },
        ]);
        relay.start();
        await until(
          'the worker to build the row',
          async () => (await queryOrders(stores.pool, schema, { customerId: 'cust-w' })).length === 1,
        );
        const [row] = await queryOrders(stores.pool, schema, { customerId: 'cust-w' });
        expect(row).toMatchObject({
          orderId: 'order-worker-1',
          status: 'open',
          itemCount: 3,
          totalAmount: '7.50',
        });
      } finally {
        await relay.stop();
        await stores.close();
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopping: finishing the messages in hand');
      expect(stdout).toMatch(/stopped after \d+ messages acknowledged/);
    }, 120_000);
  },
);
