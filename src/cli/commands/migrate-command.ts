import { EventRegistry, isEventStoreSettings, type ResolvedAnnalsConfig, redactUrl } from '../../core.js';
import { createPostgres } from '../../postgres/create-postgres.js';
import { DEFAULT_SCHEMA, resolveSchemaName } from '../../postgres/driver/identifier.js';
import { appliedMigrations, migrationScript } from '../../postgres/schema/migration-script.js';
import { CliError, describeError } from '../cli-error.js';
import { type CliIo, writeLine } from '../cli-io.js';
import { DEFAULT_CONFIG_FILES, findConfig, findDefaultConfig, loadConfigAt } from '../load-config.js';
import { openConfig } from '../open-config.js';
import type { CliOptions } from './command-context.js';

interface MigrateResultLike {
  readonly schema: string;
  readonly applied: readonly number[];
  readonly version: number;
}

const isMigrateResult = (value: unknown): value is MigrateResultLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as MigrateResultLike).schema === 'string' &&
  Array.isArray((value as MigrateResultLike).applied) &&
  typeof (value as MigrateResultLike).version === 'number';

/** What `annals migrate` gets: it finds (or does without) the config itself. */
export interface MigrateContext {
  readonly io: CliIo;
  readonly args: readonly string[];
  readonly options: CliOptions;
}

/** A database to migrate, given by its URL. */
interface Target {
  readonly connectionString: string;
  readonly schema: string;
}

/** Where `annals migrate` works: a config, a database without one, or (--print-sql) neither. */
type Source =
  | { readonly kind: 'config'; readonly path: string; readonly settings: ResolvedAnnalsConfig }
  | { readonly kind: 'url'; readonly target: Target }
  | { readonly kind: 'none'; readonly schema: string };

const USAGE =
  'usage: annals migrate [--print-sql] [--config <path> | --database-url <url> [--schema <name>]]';

/**
 * `annals migrate`: the config's `migrate`, or the migrations of each database it names; without
 * a config, those of `--database-url` (or `DATABASE_URL`). With `--print-sql`, the SQL instead.
 */
export async function migrateCommand({ io, args, options }: MigrateContext): Promise<void> {
  if (args.length > 0) throw new CliError(USAGE);
  const source = await findSource(io, options);
  if (options.printSql) {
    await printSql(io, source);
    return;
  }
  if (source.kind === 'none') throw new CliError('unreachable: no database to migrate');
  if (source.kind === 'url') {
    const stores = await openTarget(source.target);
    try {
      report(io, [await stores.migrate()]);
    } finally {
      await stores.close();
    }
    return;
  }
  const config = await openConfig(source.settings);
  try {
    report(io, await config.migrate());
  } finally {
    await config.close().catch((error: unknown) => {
      writeLine(io.stderr, `annals: warning: closing the config's stores failed: ${describeError(error)}`);
    });
  }
}

async function findSource(io: CliIo, options: CliOptions): Promise<Source> {
  const env = io.env ?? process.env;
  if (options.databaseUrl !== undefined) {
    if (options.config !== undefined) {
      throw new CliError('give --config or --database-url, not both');
    }
    return { kind: 'url', target: target('--database-url', options.databaseUrl, options.schema) };
  }
  const path = options.config !== undefined ? findConfig(io.cwd, options.config) : findDefaultConfig(io.cwd);
  if (path !== undefined) {
    if (options.schema !== undefined) {
      throw new CliError(
        `--schema applies with --database-url or DATABASE_URL (without a config); ${path} names the schema (eventStore.schema)`,
      );
    }
    return { kind: 'config', path, settings: (await loadConfigAt(path)).config };
  }
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== '') {
    return { kind: 'url', target: target('DATABASE_URL', url, options.schema) };
  }
  if (options.printSql) return { kind: 'none', schema: schemaOption(options.schema) };
  throw new CliError(
    `no config found: looked for ${DEFAULT_CONFIG_FILES.join(', ')} in ${io.cwd}; pass --config <path>, or --database-url <url> (or set DATABASE_URL) to migrate without a config`,
  );
}

function schemaOption(schema: string | undefined): string {
  try {
    return resolveSchemaName(schema ?? DEFAULT_SCHEMA);
  } catch (error) {
    throw new CliError(`--schema: ${describeError(error)}`, { cause: error });
  }
}

function target(name: string, url: string, schema: string | undefined): Target {
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new CliError(
      `${name} must be a URL such as postgres://user:password@host:5432/database; got ${redactUrl(url)}`,
    );
  }
  return { connectionString: url, schema: schemaOption(schema) };
}

/** The databases of a config whose `--print-sql` the CLI can print. */
function configTargets(path: string, settings: ResolvedAnnalsConfig): Target[] {
  const { eventStore } = settings;
  if (settings.migrate !== undefined || !isEventStoreSettings(eventStore)) {
    throw new CliError(
      `--print-sql prints annals' migrations for a config with eventStore as settings ({ connectionString }); ${path} ${settings.migrate !== undefined ? 'has its own migrate' : 'gives live stores'}: pass --database-url <url> [--schema <name>] instead`,
    );
  }
  const targets: Target[] = [{ connectionString: eventStore.connectionString, schema: eventStore.schema }];
  if (settings.targetDb !== undefined && settings.targetDb !== eventStore.connectionString) {
    targets.push({ connectionString: settings.targetDb, schema: eventStore.schema });
  }
  return targets;
}

async function printSql(io: CliIo, source: Source): Promise<void> {
  if (source.kind === 'none') {
    io.stdout.write(migrationScript({ schema: source.schema }).sql);
    return;
  }
  let targets: Target[];
  if (source.kind === 'url') targets = [source.target];
  else {
    try {
      targets = configTargets(source.path, source.settings);
    } catch (error) {
      // The config may have opened its live stores: let go of them.
      await closeRefused(source.settings).catch(() => undefined);
      throw error;
    }
  }
  const scripts: string[] = [];
  // Read every database first: nothing is printed unless each could be read.
  for (const each of targets) {
    const stores = await openTarget(each);
    try {
      const applied = await appliedMigrations(stores.pool, each.schema);
      scripts.push(
        `-- database: ${redactUrl(each.connectionString)}\n${migrationScript({ schema: each.schema, applied }).sql}`,
      );
    } finally {
      await stores.close();
    }
  }
  io.stdout.write(scripts.join('\n'));
}

/** Closes what a config opened itself (its live stores), as the CLI does after a command. */
async function closeRefused(settings: ResolvedAnnalsConfig): Promise<void> {
  const { eventStore } = settings;
  if (settings.close) await settings.close();
  else if (!isEventStoreSettings(eventStore)) await eventStore.close();
}

/** The PostgreSQL stores of a database given by URL: only its pool and `migrate` are used. */
function openTarget({ connectionString, schema }: Target) {
  return createPostgres({
    connectionString,
    schema,
    maxConnections: 1,
    registry: new EventRegistry([]),
    migrate: false,
  });
}

function report(io: CliIo, results: readonly unknown[]): void {
  if (results.length === 0) {
    throw new CliError('nothing to migrate: the config has no `migrate` and its stores have no migrate()');
  }
  const bySchema = new Map<string, { applied: Set<number>; version: number }>();
  for (const result of results) {
    if (!isMigrateResult(result)) continue;
    const entry = bySchema.get(result.schema) ?? { applied: new Set<number>(), version: 0 };
    for (const version of result.applied) entry.applied.add(version);
    entry.version = Math.max(entry.version, result.version);
    bySchema.set(result.schema, entry);
  }
  if (bySchema.size === 0) {
    writeLine(io.stdout, 'migrations done');
    return;
  }
  for (const [schema, { applied, version }] of bySchema) {
    writeLine(
      io.stdout,
      applied.size === 0
        ? `schema ${schema}: up to date (version ${version})`
        : `schema ${schema}: applied ${[...applied].sort((a, b) => a - b).join(', ')}; now at version ${version}`,
    );
  }
}
