import { toStoreError } from '../driver/errors.js';
import { appendedChannel, quoteIdentifier, quoteLiteral, resolveSchemaName } from '../driver/identifier.js';
import type { PgQueryable } from '../driver/pg-client.js';
import { assertMigrationList, MIGRATION_LOCK_CLASS } from './migrate.js';
import type { Migration, MigrationContext } from './migrations/index.js';
import { migrations as allMigrations } from './migrations/index.js';

/** Options of {@link migrationScript}. */
export interface MigrationScriptOptions {
  /** The schema. @defaultValue `'annals'` */
  readonly schema?: string;
  /**
   * The versions the database already has (from {@link appliedMigrations}); the script holds
   * the others. @defaultValue none: every migration
   */
  readonly applied?: ReadonlySet<number>;
  /** @internal for tests of the script itself */
  readonly migrations?: readonly Migration[];
}

/** The SQL of the migrations a database lacks, as one script. */
export interface MigrationScript {
  /** The schema, unquoted. */
  readonly schema: string;
  /** The versions the script applies, in order; empty when there is nothing to do. */
  readonly versions: readonly number[];
  /** The schema's version once the script ran. */
  readonly version: number;
  /** The script: `BEGIN; ... COMMIT;`, or a comment when `versions` is empty. */
  readonly sql: string;
}

/**
 * The SQL that {@link migrate} would run, as one script a DBA can apply (`psql -v ON_ERROR_STOP=1
 * -f`): in one transaction, under the same advisory lock, it creates the schema and its
 * `migrations` table if needed, checks that the schema is at the version the script was made
 * for (it raises an exception otherwise, so nothing is applied twice or out of order), then runs
 * each migration and records it in `<schema>.migrations`, as `migrate` does.
 */
export function migrationScript(options: MigrationScriptOptions = {}): MigrationScript {
  const schemaName = resolveSchemaName(options.schema);
  const schema = quoteIdentifier('schema', schemaName);
  const list = options.migrations ?? allMigrations;
  assertMigrationList(list);
  const applied = options.applied ?? new Set<number>();
  const pending = list.filter((migration) => !applied.has(migration.version));
  const version = Math.max(0, ...applied, ...pending.map((migration) => migration.version));
  if (pending.length === 0) {
    return {
      schema: schemaName,
      versions: [],
      version,
      sql: `-- annals: schema ${schemaName} is up to date (version ${version}); nothing to apply\n`,
    };
  }
  const context: MigrationContext = {
    schemaName,
    appendedChannelLiteral: quoteLiteral(appendedChannel(schemaName)),
  };
  const expected = [...applied].sort((a, b) => a - b);
  const expectedArray = `ARRAY[${expected.join(', ')}]::integer[]`;
  const describe = expected.length === 0 ? 'no migration yet' : `migrations ${expected.join(', ')}`;
  const message = quoteLiteral(
    `annals: this script was made for schema ${schemaName} with ${describe}; it has %. Print the SQL again against this database (annals migrate --print-sql --database-url ...)`,
  );
  const parts = [
    `-- annals: migrations ${pending.map((migration) => `${migration.version} (${migration.name})`).join(', ')} of schema ${schemaName}
-- Apply in one go, for example: psql -v ON_ERROR_STOP=1 -f this-file.sql`,
    'BEGIN;',
    `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}, hashtext(${quoteLiteral(`annals.migrate:${schemaName}`)}));`,
    `CREATE SCHEMA IF NOT EXISTS ${schema};`,
    `CREATE TABLE IF NOT EXISTS ${schema}.migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`,
    `DO $annals_check$
DECLARE
  found integer[] := ARRAY(SELECT version FROM ${schema}.migrations ORDER BY version);
BEGIN
  IF found <> ${expectedArray} THEN
    RAISE EXCEPTION ${message}, CASE WHEN cardinality(found) = 0 THEN 'none' ELSE array_to_string(found, ', ') END;
  END IF;
END
$annals_check$;`,
  ];
  for (const migration of pending) {
    const sql = migration.sql(schema, context).trim();
    parts.push(
      `-- ${migration.version}: ${migration.name}`,
      sql.endsWith(';') ? sql : `${sql};`,
      `INSERT INTO ${schema}.migrations (version, name) VALUES (${migration.version}, ${quoteLiteral(migration.name)});`,
    );
  }
  parts.push('COMMIT;');
  return {
    schema: schemaName,
    versions: pending.map((migration) => migration.version),
    version,
    sql: `${parts.join('\n\n')}\n`,
  };
}

/**
 * The versions recorded in `<schema>.migrations` (empty when the schema or the table does not
 * exist). Only reads: creates nothing.
 */
export async function appliedMigrations(db: PgQueryable, schema?: string): Promise<Set<number>> {
  const schemaName = resolveSchemaName(schema);
  const table = `${quoteIdentifier('schema', schemaName)}.migrations`;
  try {
    const { rows } = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
      table,
    ]);
    if (!rows[0]?.exists) return new Set();
    const versions = await db.query<{ version: number }>(`SELECT version FROM ${table}`);
    return new Set(versions.rows.map((row) => Number(row.version)));
  } catch (error) {
    throw toStoreError(error, `read the migrations of schema "${schemaName}"`);
  }
}
