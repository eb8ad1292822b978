import { CliError } from './cli-error.js';
import type { OpenedConfig } from './open-config.js';

/** SQLSTATE of a relation that does not exist. */
const UNDEFINED_TABLE = '42P01';

/** True when `error`, or an error it wraps, is PostgreSQL's "relation does not exist". */
function isUndefinedTable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const fields = current as { sqlState?: unknown; code?: unknown; cause?: unknown };
    if (fields.sqlState === UNDEFINED_TABLE || fields.code === UNDEFINED_TABLE) return true;
    current = fields.cause;
  }
  return false;
}

const schemaOf = (store: unknown): string | undefined => {
  const schema = (store as { schema?: unknown } | null)?.schema;
  return typeof schema === 'string' ? schema : undefined;
};

/**
 * The one error a command that reads only annals' own tables (`status`, `dead-letters`) reports
 * when they do not exist, whichever of its reads failed first: run the migrations. `undefined`
 * for any other error, which is reported as it is.
 */
export function missingTablesError(error: unknown, config: OpenedConfig): CliError | undefined {
  if (!isUndefinedTable(error)) return undefined;
  const schemas = [
    ...new Set([schemaOf(config.eventStore), schemaOf(config.projectionStore), schemaOf(config.relayStore)]),
  ].filter((schema): schema is string => schema !== undefined);
  const where =
    schemas.length === 0 ? '' : ` in schema ${schemas.map((schema) => `"${schema}"`).join(' or ')}`;
  return new CliError(`the annals tables are missing${where}; run the migrations (annals migrate)`, {
    cause: error,
  });
}
