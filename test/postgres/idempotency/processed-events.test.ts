import { ErrorCode, isAnnalsError, NO_STREAM } from 'annals';
import { type PgQueryable, PostgresEventStore, PostgresProcessedEventStore } from 'annals/postgres';
import { describeProcessedEventStoreContract } from 'annals/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { walletRegistry } from '../../snapshots/wallet.js';
import { describeWithServer, hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres({ manyConnections: true });
const where = hasServer ? 'server' : 'PGlite';

describeProcessedEventStoreContract(`PostgresProcessedEventStore (${where})`, {
  createStore: () => new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema }),
});

let sequence = 0;
const unique = (label: string) => `${label}-${++sequence}-${Date.now()}`;

/** A read model in the same database: what the handlers' effects write. */
const totals = () => `"${db.schema}".wallet_totals`;

async function totalOf(walletId: string): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ total: number }>(
    `SELECT total FROM ${totals()} WHERE wallet_id = $1`,
    [walletId],
  );
  return rows[0] === undefined ? undefined : Number(rows[0].total);
}

describe(`PostgresProcessedEventStore (${where})`, () => {
  beforeAll(async () => {
    await db.pool.query(`CREATE TABLE ${totals()} (wallet_id text PRIMARY KEY, total integer NOT NULL)`);
  });

  const addToTotal = (walletId: string, amount: number) => (client: PgQueryable) =>
    addToTotalSql(client, walletId, amount);

  it('an effect written through the handed client is exactly-once: redeliveries change nothing', async () => {
    const processed = new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema });
    const [walletId, eventId] = [unique('w'), unique('evt')];
    for (let delivery = 0; delivery < 3; delivery++) {
      await processed.runOnce('wallet-totals', eventId, addToTotal(walletId, 5));
    }
    expect(await totalOf(walletId)).toBe(5);
  });

  it('a handler that fails after its write rolls back the write and the record', async () => {
    const processed = new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema });
    const [walletId, eventId] = [unique('w'), unique('evt')];
    await expect(
      processed.runOnce('wallet-totals', eventId, async (client) => {
        await addToTotal(walletId, 5)(client);
        throw new Error('crashed after the write');
      }),
    ).rejects.toThrow('crashed after the write');
    expect(await totalOf(walletId)).toBeUndefined();
    expect(await processed.find('wallet-totals', eventId)).toBeUndefined();
    await processed.runOnce('wallet-totals', eventId, addToTotal(walletId, 5));
    expect(await totalOf(walletId)).toBe(5);
  });

  it('record() with a client checks and records inside a transaction the caller holds', async () => {
    const store = new PostgresEventStore({ pool: db.pool, registry: walletRegistry(), schema: db.schema });
    const processed = new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema });
    const [eventId, walletId] = [unique('evt'), unique('w')];
    const handle = () =>
      store.withTransaction(async (tx) => {
        if (!(await processed.record('wallet-opener', eventId, { client: tx.client }))) return false;
        expect(await processed.find('wallet-opener', eventId, { client: tx.client })).toBeDefined();
        await tx.append(walletId, NO_STREAM, [
          { type: 'WalletOpened', aggregateType: 'Wallet', payload: { owner: 'ada' } },
        ]);
        return true;
      });
    // Rolled back: neither the record nor the append stays.
    await expect(
      store.withTransaction(async (tx) => {
        await processed.record('wallet-opener', eventId, { client: tx.client });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await processed.find('wallet-opener', eventId)).toBeUndefined();
    expect(await handle()).toBe(true);
    expect(await handle()).toBe(false);
    expect(await store.streamVersion(walletId)).toBe(1);
  });

  it('rejects ids PostgreSQL text cannot hold and a pool that is not one', async () => {
    const processed = new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema });
    await expect(processed.record('c', 'nul\u0000')).rejects.toSatisfy((error: unknown) =>
      isAnnalsError(error, ErrorCode.InvalidArgument),
    );
    expect(() => new PostgresProcessedEventStore({ pool: {} as never })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    expect(() => new PostgresProcessedEventStore({ pool: db.pool, schema: 'Bad' })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
  });
});

describeWithServer('PostgresProcessedEventStore: redeliveries across connections (server)', () => {
  it('10 concurrent deliveries through 3 pools apply the effect once', async () => {
    const pools = [db.newPool(5), db.newPool(5), db.newPool(5)];
    const stores = pools.map((pool) => new PostgresProcessedEventStore({ pool, schema: db.schema }));
    const [walletId, eventId] = [unique('w'), unique('evt')];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        stores[index % stores.length]!.runOnce('wallet-totals', eventId, async (client) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          await addToTotalSql(client, walletId, 7);
        }),
      ),
    );
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    expect(await totalOf(walletId)).toBe(7);
  });
});

async function addToTotalSql(client: PgQueryable, walletId: string, amount: number): Promise<void> {
  await client.query(
    `INSERT INTO ${totals()} (wallet_id, total) VALUES ($1, $2)
     ON CONFLICT (wallet_id) DO UPDATE SET total = ${totals()}.total + EXCLUDED.total`,
    [walletId, amount],
  );
}
