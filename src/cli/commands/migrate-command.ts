import { CliError } from '../cli-error.js';
import { writeLine } from '../cli-io.js';
import type { CommandContext } from './command-context.js';

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

/** `annals migrate`: the config's `migrate`, or the migrations of each database it names. */
export async function migrateCommand({ io, config }: CommandContext): Promise<void> {
  const results = await config.migrate();
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
