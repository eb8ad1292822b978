import { ErrorCode, InvalidArgumentError, isAnnalsError, type StoreFailedError } from 'annals';
import { migrate, PostgresEventStore, quoteIdentifier } from 'annals/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { appendedChannel, assertIdentifier } from '../../../src/postgres/driver/identifier.js';
import { type Migration, migrations } from '../../../src/postgres/schema/migrations/index.js';
import { describeWithServer, usePostgres } from '../../support/postgres.js';
import { registry, rejection } from '../event-store/fixtures.js';

const db = usePostgres({ manyConnections: true });
const extraSchemas: string[] = [];

function freshSchema(label: string): string {
  const name = `${db.schema}_${label}`;
  extraSchemas.push(name);
  return name;
}

afterAll(async () => {
  for (const schema of extraSchemas) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
});

async function tablesOf(schema: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
    [schema],
  );
  return rows.map((row) => row.name);
}

const INVALID_NAMES: unknown[] = [
  'x"; drop table canary; --',
  'annals; DROP SCHEMA public CASCADE',
  "x'; select pg_sleep(10); --",
  'Annals',
  '1annals',
  'an-nals',
  'an nals',
  'ānnals',
  '',
  'a'.repeat(64),
  null,
  42,
];

describe('schema names', () => {
  it('are validated before any SQL is sent: injection attempts are InvalidArgumentErrors', async () => {
    await db.pool.query(`CREATE TABLE "${db.schema}".canary (id integer)`);
    const schemasBefore = (await db.pool.query('SELECT count(*)::int AS n FROM pg_namespace')).rows[0];
    for (const name of INVALID_NAMES) {
      const label = JSON.stringify(name);
      expect(
        isAnnalsError(
          await rejection(migrate(db.pool, { schema: name as string })),
          ErrorCode.InvalidArgument,
        ),
        label,
      ).toBe(true);
      expect(
        () => new PostgresEventStore({ pool: db.pool, registry: registry(), schema: name as string }),
        label,
      ).toThrow(InvalidArgumentError);
      expect(() => quoteIdentifier('schema', name), label).toThrow(InvalidArgumentError);
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM pg_namespace')).rows[0]).toEqual(
      schemasBefore,
    );
    expect(await tablesOf(db.schema)).toContain('canary');
  });

  it('accepts lower-case identifiers up to 63 characters and quotes them', () => {
    expect(quoteIdentifier('schema', 'annals')).toBe('"annals"');
    expect(() => assertIdentifier('schema', `_${'a'.repeat(62)}`)).not.toThrow();
  });

  it('derives a notification channel of at most 63 characters, distinct per schema', () => {
    expect(appendedChannel('annals')).toBe('annals_annals_appended');
    const long1 = `${'a'.repeat(50)}_one`;
    const long2 = `${'a'.repeat(50)}_two`;
    for (const name of [long1, long2, 'z'.repeat(63)]) {
      expect(appendedChannel(name).length).toBeLessThanOrEqual(63);
      expect(() => assertIdentifier('channel', appendedChannel(name))).not.toThrow();
    }
    expect(appendedChannel(long1)).not.toBe(appendedChannel(long2));
  });
});

describe('migrate()', () => {
  it('creates the schema, records every migration, and does nothing the second time', async () => {
    const schema = freshSchema('m1');
    const first = await migrate(db.pool, { schema });
    expect(first.applied).toEqual(migrations.map((migration) => migration.version));
    expect(first.version).toBe(migrations.length);
    const tables = await tablesOf(schema);
    expect(tables).toEqual(expect.arrayContaining(['events', 'migrations']));
    expect(tables).not.toContain('streams');
    const recorded = await db.pool.query<{ version: number; name: string }>(
      `SELECT version, name FROM "${schema}".migrations ORDER BY version`,
    );
    expect(recorded.rows).toEqual(migrations.map(({ version, name }) => ({ version, name })));
    const second = await migrate(db.pool, { schema });
    expect(second).toEqual({ schema, applied: [], version: migrations.length });
  });

  it('runs only the pending migrations', async () => {
    const schema = freshSchema('m2');
    const [first] = migrations;
    const later: Migration = {
      version: 2,
      name: 'later',
      sql: (s) => `CREATE TABLE ${s}.later_table (id integer)`,
    };
    expect((await migrate(db.pool, { schema, migrations: [first!] })).applied).toEqual([1]);
    expect((await migrate(db.pool, { schema, migrations: [first!, later] })).applied).toEqual([2]);
    expect(await tablesOf(schema)).toContain('later_table');
  });

  it('keeps nothing of a run in which a migration fails', async () => {
    const schema = freshSchema('m3');
    const broken: Migration = { version: 2, name: 'broken', sql: () => 'SELECT no_such_function()' };
    const error = await rejection(migrate(db.pool, { schema, migrations: [migrations[0]!, broken] }));
    expect(isAnnalsError(error, ErrorCode.StoreFailed), String(error)).toBe(true);
    expect((error as StoreFailedError).sqlState).toBe('42883');
    expect(await tablesOf(schema)).toEqual([]);
    // The pool's connection is usable afterwards.
    expect((await migrate(db.pool, { schema })).applied).toEqual(migrations.map((m) => m.version));
  });

  it('rejects a list whose versions are not 1, 2, 3, ...', async () => {
    const gap: Migration = { version: 3, name: 'gap', sql: () => 'SELECT 1' };
    const error = await rejection(
      migrate(db.pool, { schema: freshSchema('m4'), migrations: [migrations[0]!, gap] }),
    );
    expect(isAnnalsError(error, ErrorCode.InvalidArgument)).toBe(true);
  });

  it('the released migrations are numbered 1..n', () => {
    expect(migrations.map((migration) => migration.version)).toEqual(migrations.map((_, index) => index + 1));
  });
});

describeWithServer('migrate() from many processes at once', () => {
  it('8 concurrent callers: one applies each migration once, all succeed', async () => {
    const schema = freshSchema('concurrent');
    const pools = Array.from({ length: 8 }, () => db.newPool(1));
    const results = await Promise.all(pools.map((pool) => migrate(pool, { schema })));
    const applied = results.flatMap((result) => result.applied).sort((a, b) => a - b);
    expect(applied).toEqual(migrations.map((migration) => migration.version));
    expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
    for (const result of results) expect(result.version).toBe(migrations.length);
    const recorded = await db.pool.query(`SELECT version FROM "${schema}".migrations`);
    expect(recorded.rows).toHaveLength(migrations.length);
  });
});
