import { ErrorCode, isAnnalsError, NO_STREAM } from 'annals';
import { createPostgres, type PGlitePool } from 'annals/postgres';
import { describe, expect, it } from 'vitest';
import { databaseUrl, hasServer, NO_SERVER_REASON, usePostgres } from '../support/postgres.js';
import { added, registry, rejection, streamId } from './event-store/fixtures.js';

const db = usePostgres({ migrate: false });

describe('createPostgres', () => {
  it('wires every store on one pool and schema, migrated, and they work together', async () => {
    const schema = `${db.schema}_f`;
    const pg = await createPostgres({ pool: db.pool, registry: registry(), schema });
    try {
      expect(pg.pool).toBe(db.pool);
      expect(pg.schema).toBe(schema);
      for (const store of [pg.eventStore, pg.projectionStore, pg.processedEvents, pg.snapshotStore]) {
        expect(store.schema).toBe(schema);
      }
      // The command log records in the append's transaction on the same schema.
      const id = streamId('factory');
      const first = await pg.commandLog.runOnce('cmd-1', async (tx) => {
        await tx.append(id, NO_STREAM, [added('a')]);
        return 'a';
      });
      const again = await pg.commandLog.runOnce('cmd-1', async (tx) => {
        await tx.append(id, NO_STREAM, [added('b')]);
        return 'b';
      });
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      expect(again.result).toBe('a');
      expect((await pg.eventStore.load(id)).map((event) => event.payload)).toEqual([
        { sku: 'a', quantity: 1 },
      ]);
      await pg.snapshotStore.save({
        aggregateId: id,
        aggregateType: 'Cart',
        version: 1,
        schemaVersion: 1,
        state: { n: 1 },
        createdAt: new Date(),
      });
      expect((await pg.snapshotStore.load(id))?.state).toEqual({ n: 1 });
      expect(await pg.projectionStore.loadCheckpoint('p')).toMatchObject({ projection: 'p' });
      // migrate() again is a no-op.
      expect((await pg.migrate()).applied).toEqual([]);
    } finally {
      await pg.close();
      await pg.close(); // idempotent
    }
    // A pool the caller passed stays open.
    expect((await db.pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    await db.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  });

  it('migrate: false leaves the schema alone', async () => {
    const schema = `${db.schema}_nomig`;
    const pg = await createPostgres({ pool: db.pool, registry: registry(), schema, migrate: false });
    await pg.close();
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = $1',
      [schema],
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('needs exactly one of connectionString, pool and pglite', async () => {
    for (const options of [
      { registry: registry() },
      { registry: registry(), pool: db.pool, connectionString: 'postgres://x@127.0.0.1/x' },
    ]) {
      const error = await rejection(createPostgres(options));
      expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
      expect(String((error as Error).message)).toMatch(/exactly one of/);
    }
    const bad = await rejection(createPostgres({ registry: registry(), pool: {} as never }));
    expect(isAnnalsError(bad, ErrorCode.InvalidArgument)).toBe(true);
    const badSchema = await rejection(
      createPostgres({ registry: registry(), pool: db.pool, schema: 'x; DROP' }),
    );
    expect(isAnnalsError(badSchema, ErrorCode.InvalidArgument)).toBe(true);
  });

  it.skipIf(hasServer)('pglite: runs on the PGlite instance; closeDatabase defaults to false', async () => {
    const pglite = (db.pool as PGlitePool).db;
    const schema = `${db.schema}_lite`;
    const pg = await createPostgres({ pglite, registry: registry(), schema });
    const result = await pg.eventStore.append(streamId('lite'), NO_STREAM, [added('a')]);
    expect((await pg.eventStore.load(result.aggregateId)).map((event) => event.version)).toEqual([1]);
    await pg.close();
    const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".events`);
    expect(rows[0]?.n).toBe('1');
  });

  it.skipIf(!hasServer)(
    hasServer
      ? 'connectionString: opens its own pool and ends it on close'
      : `connectionString (${NO_SERVER_REASON})`,
    async () => {
      const schema = `${db.schema}_conn`;
      const pg = await createPostgres({ connectionString: databaseUrl!, registry: registry(), schema });
      try {
        const result = await pg.eventStore.append(streamId('conn'), NO_STREAM, [added('a')]);
        expect(result.events).toHaveLength(1);
      } finally {
        await pg.close();
        await db.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
      const error = await rejection(pg.eventStore.load('x'));
      expect(isAnnalsError(error)).toBe(true);
      expect(isAnnalsError(error, ErrorCode.StoreFailed)).toBe(true);
    },
  );
});
