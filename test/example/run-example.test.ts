import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseUrl, hasServer, NO_SERVER_REASON, usePostgres } from '../support/postgres.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

// On a server, hold the test files' lock while the example runs (see usePostgres).
if (hasServer) usePostgres({ migrate: false });

async function runExample(env: Record<string, string | undefined>): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'example'], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return stdout;
}

function expectQuickStart(stdout: string): void {
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
  // 3. the projection catches up
  expect(stdout).toMatch(/checkpoint (\d+:\d+) = head \1: lag 0 events, 0 dead letters/);
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
