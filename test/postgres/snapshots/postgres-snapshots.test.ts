import { AggregateRepository, ErrorCode, everyNEvents, isAnnalsError, type RepositoryWarning } from 'annals';
import { PostgresEventStore, PostgresSnapshotStore } from 'annals/postgres';
import { describeSnapshotStoreContract } from 'annals/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { SnapshotWallet } from '../../snapshots/snapshot-wallet.js';
import { spyingStore, walletRegistry } from '../../snapshots/wallet.js';
import { hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();
const where = hasServer ? 'server' : 'PGlite';

describeSnapshotStoreContract(`PostgresSnapshotStore (${where})`, {
  createStore: () => new PostgresSnapshotStore({ pool: db.pool, schema: db.schema }),
});

let sequence = 0;
const unique = (label: string) => `${label}-${++sequence}-${Date.now()}`;
const snapshotsTable = () => `"${db.schema}".snapshots`;

function setup(options: { every?: number; snapshotSchemaVersion?: number } = {}) {
  const spy = spyingStore(
    new PostgresEventStore({ pool: db.pool, registry: walletRegistry(), schema: db.schema }),
  );
  const snapshots = new PostgresSnapshotStore({ pool: db.pool, schema: db.schema });
  const warnings: RepositoryWarning[] = [];
  const wallets = new AggregateRepository(spy.store, {
    create: (id) => {
      const wallet = new SnapshotWallet(id);
      return options.snapshotSchemaVersion === undefined
        ? wallet
        : Object.assign(wallet, { snapshotSchemaVersion: options.snapshotSchemaVersion });
    },
    snapshots: { store: snapshots, policy: everyNEvents(options.every ?? 5) },
    onWarning: (warning) => warnings.push(warning),
  });
  return { spy, snapshots, wallets, warnings };
}

/** Opens a wallet and makes `deposits` deposits of 1, one command each. */
async function history(wallets: AggregateRepository<SnapshotWallet>, id: string, deposits: number) {
  await wallets.execute(id, (wallet) => wallet.open('ada'));
  for (let index = 0; index < deposits; index++) await wallets.execute(id, (wallet) => wallet.deposit(1));
}

async function snapshotRow(aggregateId: string) {
  const { rows } = await db.pool.query(
    `SELECT aggregate_type, version, snapshot_schema_version, state FROM ${snapshotsTable()} WHERE aggregate_id = $1`,
    [aggregateId],
  );
  return rows[0];
}

beforeEach(() => {
  SnapshotWallet.restores = 0;
});

describe(`AggregateRepository with PostgresEventStore and PostgresSnapshotStore (${where})`, () => {
  it('writes snapshot rows and loads from the latest one plus only the later events', async () => {
    const { spy, wallets, warnings } = setup({ every: 5 });
    const id = unique('w');
    await history(wallets, id, 11); // versions 1..12: snapshots at 5 and 10
    expect(await snapshotRow(id)).toEqual({
      aggregate_type: 'Wallet',
      version: 10,
      snapshot_schema_version: 1,
      state: { owner: 'ada', balance: 9 },
    });
    spy.loads.length = 0;
    SnapshotWallet.restores = 0;
    const wallet = await wallets.load(id);
    expect(wallet).toMatchObject({ owner: 'ada', balance: 11, version: 12, persistedVersion: 12 });
    expect(SnapshotWallet.restores).toBe(1);
    expect(spy.loads).toEqual([{ aggregateId: id, options: { fromVersion: 11 } }]);
    expect(warnings).toEqual([]);
  });

  it('a snapshot of an older snapshot schema version is ignored: full replay, then a new one', async () => {
    const v1 = setup({ every: 3 });
    const id = unique('w');
    await history(v1.wallets, id, 3); // snapshot v1 at version 3
    const v2 = setup({ every: 3, snapshotSchemaVersion: 2 });
    SnapshotWallet.restores = 0;
    const wallet = await v2.wallets.load(id);
    expect(wallet.balance).toBe(3);
    expect(SnapshotWallet.restores).toBe(0);
    expect(v2.spy.loads).toEqual([{ aggregateId: id, options: undefined }]);
    expect(v2.warnings).toEqual([]);
    await v2.wallets.execute(id, (loaded) => loaded.deposit(1)); // version 5
    expect(await snapshotRow(id)).toMatchObject({ version: 5, snapshot_schema_version: 2 });
  });

  it('a corrupt snapshot row (garbage jsonb) falls back to a full replay with a warning', async () => {
    for (const garbage of ['"garbage"', 'null', '[1, 2, 3]', '{"owner": 42, "balance": "lots"}', '{}']) {
      const { wallets, warnings } = setup({ every: 100 });
      const id = unique('w');
      await history(wallets, id, 3); // versions 1..4, no snapshot (policy: every 100)
      await db.pool.query(
        `INSERT INTO ${snapshotsTable()} (aggregate_id, aggregate_type, version, snapshot_schema_version, state, created_at)
         VALUES ($1, 'Wallet', 3, 1, $2::jsonb, now())`,
        [id, garbage],
      );
      const wallet = await wallets.load(id);
      expect(wallet).toMatchObject({ owner: 'ada', balance: 3, version: 4 });
      expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_corrupt']);
      expect(warnings[0]?.aggregateId).toBe(id);
    }
  });

  it('a snapshot row edited to be ahead of its stream is ignored with a warning', async () => {
    const { wallets, warnings } = setup({ every: 2 });
    const id = unique('w');
    await history(wallets, id, 1); // versions 1..2, snapshot at 2
    await db.pool.query(
      `UPDATE ${snapshotsTable()} SET version = 50, state = '{"owner": "ada", "balance": 1000}' WHERE aggregate_id = $1`,
      [id],
    );
    expect((await wallets.load(id)).balance).toBe(1);
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_corrupt']);
    // The next snapshot replaces the bad one, although its version is lower.
    await wallets.execute(id, (wallet) => wallet.deposit(1));
    expect(await snapshotRow(id)).toMatchObject({ version: 3, state: { owner: 'ada', balance: 2 } });
  });

  it('a missing snapshots table (schema not migrated) is a load failure: full replay with a warning', async () => {
    const { spy, wallets } = setup({ every: 100 });
    const id = unique('w');
    await history(wallets, id, 2);
    const warnings: RepositoryWarning[] = [];
    const elsewhere = new AggregateRepository(spy.store, {
      create: (walletId) => new SnapshotWallet(walletId),
      snapshots: { store: new PostgresSnapshotStore({ pool: db.pool, schema: 'annals_no_such_schema' }) },
      onWarning: (warning) => warnings.push(warning),
    });
    expect((await elsewhere.load(id)).balance).toBe(2);
    expect(warnings.map((warning) => warning.code)).toEqual(['snapshot_load_failed']);
  });

  it('rejects states jsonb cannot hold, keeping the previous snapshot', async () => {
    const snapshots = new PostgresSnapshotStore({ pool: db.pool, schema: db.schema });
    const id = unique('w');
    const base = {
      aggregateId: id,
      aggregateType: 'Wallet',
      version: 1,
      schemaVersion: 1,
      createdAt: new Date(),
    };
    await snapshots.save({ ...base, state: { owner: 'ada' } });
    await expect(snapshots.save({ ...base, version: 2, state: { owner: 'nul \u0000' } })).rejects.toSatisfy(
      (error: unknown) => isAnnalsError(error, ErrorCode.InvalidArgument),
    );
    expect(await snapshots.load(id)).toMatchObject({ version: 1, state: { owner: 'ada' } });
    expect(() => new PostgresSnapshotStore({ pool: {} as never })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
  });
});
