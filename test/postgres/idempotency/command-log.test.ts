import { ErrorCode, isAnnalsError, NO_STREAM } from 'annals';
import { PostgresCommandLog, PostgresEventStore } from 'annals/postgres';
import { describeCommandLogContract } from 'annals/testing';
import { describe, expect, it } from 'vitest';
import { walletRegistry } from '../../snapshots/wallet.js';
import { manualClock } from '../../support/manual-clock.js';
import { describeWithServer, hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();
const where = hasServer ? 'server' : 'PGlite';

const storeFor = (registry = walletRegistry()) =>
  new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });

describeCommandLogContract(`PostgresCommandLog (${where})`, {
  createLog: ({ registry, ...options }) => {
    const store = storeFor(registry);
    return { log: new PostgresCommandLog({ store, pool: db.pool, ...options }), store };
  },
  transactional: true,
});

describeCommandLogContract(`PostgresCommandLog without a pool (${where})`, {
  createLog: ({ registry, ...options }) => {
    const store = storeFor(registry);
    return { log: new PostgresCommandLog({ store, ...options }), store };
  },
  transactional: true,
});

const opened = (owner: string) => ({ type: 'WalletOpened', aggregateType: 'Wallet', payload: { owner } });
let sequence = 0;
const unique = (label: string) => `${label}-${++sequence}-${Date.now()}`;

async function rowsOf(commandId: string) {
  const { rows } = await db.pool.query<{ aggregate_id: string | null; result: unknown }>(
    `SELECT aggregate_id, result FROM "${db.schema}".processed_commands WHERE command_id = $1`,
    [commandId],
  );
  return rows;
}

describe(`PostgresCommandLog (${where})`, () => {
  it('writes the record in the table with the stream the command appended to', async () => {
    const store = storeFor();
    const log = new PostgresCommandLog({ store, pool: db.pool });
    const [walletId, commandId, quiet] = [unique('w'), unique('cmd'), unique('cmd-quiet')];
    await log.runOnce(commandId, async (tx) => {
      await tx.append(walletId, NO_STREAM, [opened('ada')]);
      // The unit is the store's transaction: its client sees the claimed (uncommitted) record.
      const { rows } = await tx.client.query(
        `SELECT count(*)::int AS n FROM "${db.schema}".processed_commands WHERE command_id = $1`,
        [commandId],
      );
      return { claimed: Number(rows[0]?.n) };
    });
    expect(await rowsOf(commandId)).toEqual([{ aggregate_id: walletId, result: { claimed: 1 } }]);
    await log.runOnce(quiet, async () => null);
    expect(await rowsOf(quiet)).toEqual([{ aggregate_id: null, result: null }]);
  });

  it('purgeExpired deletes the rows', async () => {
    const clock = manualClock();
    const log = new PostgresCommandLog({ store: storeFor(), ttlHours: 1, clock: clock.now });
    const ids = [unique('cmd'), unique('cmd')];
    for (const id of ids) await log.runOnce(id, async () => id);
    clock.advanceHours(1);
    expect(await log.purgeExpired()).toBeGreaterThanOrEqual(2);
    for (const id of ids) expect(await rowsOf(id)).toEqual([]);
  });

  it('a failed run leaves neither its events nor a record', async () => {
    const store = storeFor();
    const log = new PostgresCommandLog({ store, pool: db.pool });
    const [walletId, commandId] = [unique('w'), unique('cmd')];
    await expect(
      log.runOnce(commandId, async (tx) => {
        await tx.append(walletId, NO_STREAM, [opened('ada')]);
        throw new Error('crash after the append');
      }),
    ).rejects.toThrow('crash after the append');
    expect(await store.streamVersion(walletId)).toBe(0);
    expect(await rowsOf(commandId)).toEqual([]);
  });

  it('rejects a result jsonb cannot hold, recording and appending nothing', async () => {
    const store = storeFor();
    const log = new PostgresCommandLog({ store, pool: db.pool });
    const [walletId, commandId] = [unique('w'), unique('cmd')];
    const error = await log
      .runOnce(commandId, async (tx) => {
        await tx.append(walletId, NO_STREAM, [opened('ada')]);
        return { note: 'nul \u0000 inside' };
      })
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
    expect(await store.streamVersion(walletId)).toBe(0);
    expect(await rowsOf(commandId)).toEqual([]);
  });

  it('validates its options and ids', async () => {
    const store = storeFor();
    expect(() => new PostgresCommandLog({} as never)).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    expect(() => new PostgresCommandLog({ store, pool: {} as never })).toThrow(
      expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
    );
    for (const lockTimeoutMs of [0, -5, 1.5, Number.NaN]) {
      expect(() => new PostgresCommandLog({ store, lockTimeoutMs })).toThrow(
        expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }),
      );
    }
    expect(
      () => new PostgresCommandLog({ store: { schema: 'bad-name', withTransaction: store.withTransaction } }),
    ).toThrow(expect.objectContaining({ code: 'ANNALS_INVALID_ARGUMENT' }));
    const log = new PostgresCommandLog({ store });
    await expect(log.runOnce('nul\u0000id', async () => 1)).rejects.toSatisfy((error: unknown) =>
      isAnnalsError(error, ErrorCode.InvalidArgument),
    );
    await expect(log.find('nul\u0000id')).rejects.toSatisfy((error: unknown) =>
      isAnnalsError(error, ErrorCode.InvalidArgument),
    );
  });
});

describeWithServer('PostgresCommandLog with lockTimeoutMs (server)', () => {
  it('a duplicate that waits longer than lockTimeoutMs gets CommandInProgressError; later ones the result', async () => {
    const store = storeFor();
    const log = new PostgresCommandLog({ store, pool: db.pool, lockTimeoutMs: 50 });
    const [walletId, commandId] = [unique('w'), unique('cmd')];
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = log.runOnce(commandId, async (tx) => {
      await tx.append(walletId, NO_STREAM, [opened('ada')]);
      started();
      await gate;
      return 'first';
    });
    await firstStarted;
    let ran = false;
    const error = await log
      .runOnce(commandId, async () => {
        ran = true;
        return 'second';
      })
      .catch((caught: unknown) => caught);
    expect(isAnnalsError(error, ErrorCode.CommandInProgress)).toBe(true);
    expect((error as { commandId: string }).commandId).toBe(commandId);
    expect(ran).toBe(false);
    release();
    await expect(first).resolves.toMatchObject({ duplicate: false, result: 'first' });
    await expect(log.runOnce(commandId, async () => 'third')).resolves.toMatchObject({
      duplicate: true,
      result: 'first',
    });
    // The lock timeout applied to the claim only: the session's setting is back to the default.
    const appended = await log.runOnce(unique('cmd'), async (tx) => {
      const { rows } = await tx.client.query<{ lock_timeout: string }>('SHOW lock_timeout');
      return rows[0]?.lock_timeout;
    });
    expect(appended.result).toBe('0');
  });
});
