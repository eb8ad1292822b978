import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logPositionOf } from 'annals';
import { type PgPool, PostgresEventStore, PostgresProjectionStore, pgliteAsPool } from 'annals/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { appendOrders, generateOrders } from '../postgres/projections/fixtures.js';
import { databaseUrl, hasServer, readLogThrough, usePostgres } from '../support/postgres.js';
import { annals, fixtureConfig, lines } from './support.js';

// As cli.test.ts: a schema of its own on a server, a PGlite data directory otherwise.
const db = hasServer ? usePostgres({ migrate: false }) : undefined;
const scratch = mkdtempSync(join(tmpdir(), 'annals-cli-relays-'));
const pgliteDir = join(scratch, 'pglite');
const schema = () => db?.schema ?? 'annals_cli_relays';

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const RELAYS = JSON.stringify([{ exchange: 'domain_events' }, { exchange: 'audit' }]);

const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  annals([...args, '--config', fixtureConfig], {
    env: {
      ...(hasServer
        ? { DATABASE_URL: databaseUrl, ANNALS_TEST_SCHEMA: schema() }
        : { DATABASE_URL: undefined, ANNALS_TEST_PGLITE_DIR: pgliteDir, ANNALS_TEST_SCHEMA: schema() }),
      ANNALS_TEST_RELAYS: RELAYS,
      ...env,
    },
  });

async function withDatabase<T>(work: (pool: PgPool) => Promise<T>): Promise<T> {
  if (db) return work(db.pool);
  const { PGlite } = await import('@electric-sql/pglite');
  const pool = pgliteAsPool(await PGlite.create(pgliteDir), { closeOnEnd: true });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

const generated = generateOrders(5, 11, 'relays');

describe('annals status with relays in the config', () => {
  it('prints a row per relay with its checkpoint (relay:<exchange>) and lag; --json has them', async () => {
    expect((await run(['migrate'])).code).toBe(0);
    // The relay of domain_events published and confirmed the first 3 events; audit's never ran.
    await withDatabase(async (pool) => {
      const eventStore = new PostgresEventStore({ pool, registry: orderRegistry(), schema: schema() });
      await appendOrders(eventStore, generated);
      const third = (await readLogThrough(eventStore, 3))[2]!;
      const projectionStore = new PostgresProjectionStore({ pool, schema: schema() });
      await projectionStore.transaction(async (transaction) => {
        const saved = await transaction.saveCheckpoint('relay:domain_events', {
          expected: { transactionId: 0n, globalPosition: 0n },
          position: logPositionOf(third),
          lastEventTimestamp: third.timestamp,
        });
        expect(saved).toBe(true);
      });
      await eventStore.close();
    });
    const total = generated.eventCount;

    const result = await run(['status']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    const header = output.findIndex((line) => line.startsWith('RELAY'));
    expect(output[header]).toMatch(
      /^RELAY\s+CHECKPOINT\s+LAG\s+LAG TIME\s+LAST EVENT\s+CHECKPOINT STORED\s+LEASE$/,
    );
    expect(output[header + 1]).toMatch(
      new RegExp(`^relay:domain_events\\s+\\d+:\\d+\\s+${total - 3} events\\s+.*\\d{4}-.*\\s+free$`),
    );
    expect(output[header + 2]).toMatch(
      new RegExp(`^relay:audit\\s+0:0\\s+${total} events\\s+.*\\snever\\s+free$`),
    );
    expect(output[header + 3]).toMatch(/^head of the log: /);

    const json = JSON.parse((await run(['status', '--json'])).stdout) as {
      relays: Array<{
        relay: string;
        exchange: string;
        checkpoint: string;
        lagEvents: string;
        lease: unknown;
      }>;
    };
    expect(json.relays.map((relay) => [relay.relay, relay.exchange, relay.lagEvents])).toEqual([
      ['relay:domain_events', 'domain_events', String(total - 3)],
      ['relay:audit', 'audit', String(total)],
    ]);
    expect(json.relays[1]!.checkpoint).toBe('0:0');
    expect(json.relays[0]!.lease).toBeNull();
  });

  it('without relays in the config, prints no relay table and an empty list', async () => {
    const result = await run(['status'], { ANNALS_TEST_RELAYS: undefined });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/^RELAY/m);
    const json = JSON.parse((await run(['status', '--json'], { ANNALS_TEST_RELAYS: undefined })).stdout) as {
      relays: unknown[];
    };
    expect(json.relays).toEqual([]);
  });

  it('a bad relay entry is one clear line naming it', async () => {
    const result = await run(['status'], { ANNALS_TEST_RELAYS: JSON.stringify([{ exchange: 5 }]) });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^annals: error: .*config\.relays\[0\] must be \{ exchange\?: string \}/);
    const twice = await run(['status'], {
      ANNALS_TEST_RELAYS: JSON.stringify([{ exchange: 'a' }, { exchange: 'a' }]),
    });
    expect(twice.stderr).toMatch(/config\.relays lists the exchange "a" twice/);
  });
});
