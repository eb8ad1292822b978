import { InvalidArgumentError } from '../../core.js';

/**
 * The identifiers annals splices into SQL (schema names, derived channel names): lower-case
 * letters, digits and underscores, starting with a letter or underscore, at most 63 characters
 * (PostgreSQL's identifier limit). Nothing else ever reaches SQL text; values travel as parameters.
 */
export const IDENTIFIER_PATTERN: RegExp = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The schema the PostgreSQL adapter uses when no `schema` option is given.
 *
 * @category Setup
 */
export const DEFAULT_SCHEMA = 'annals';

/**
 * Throws {@link InvalidArgumentError} unless `name` matches {@link IDENTIFIER_PATTERN}.
 *
 * @param kind - what the identifier names, for the error message (such as `schema`).
 */
export function assertIdentifier(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !IDENTIFIER_PATTERN.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 80)) : String(name);
    throw new InvalidArgumentError(
      `${kind} must be 1-63 characters of lower-case letters, digits and underscores, starting with a letter or underscore; got ${shown}`,
    );
  }
}

/**
 * Validates an identifier and returns it double-quoted, ready to splice into SQL.
 * Validation comes first, so the quotes are a second line of defence, not the only one.
 *
 * @example
 * ```ts
 * const schema = quoteIdentifier('schema', options.schema ?? DEFAULT_SCHEMA); // "annals"
 * await client.query(`SELECT count(*) FROM ${schema}.events`);
 * ```
 *
 * @category Setup
 */
export function quoteIdentifier(kind: string, name: unknown): string {
  assertIdentifier(kind, name);
  return `"${name}"`;
}

/**
 * Validates a schema name (the `schema` option) and returns it; `undefined` gives
 * {@link DEFAULT_SCHEMA}.
 */
export function resolveSchemaName(schema: unknown): string {
  if (schema === undefined) return DEFAULT_SCHEMA;
  assertIdentifier('schema', schema);
  return schema;
}

/**
 * The LISTEN/NOTIFY channel on which appends to a schema are announced:
 * `annals_<schema>_appended`. For schema names too long for that to fit in 63 characters,
 * the name is shortened and a hash of the full name keeps channels of different schemas apart.
 */
export function appendedChannel(schema: string): string {
  assertIdentifier('schema', schema);
  const plain = `annals_${schema}_appended`;
  if (plain.length <= 63) return plain;
  const hash = fnv1a32(schema).toString(16).padStart(8, '0');
  return `annals_${schema.slice(0, 38)}_${hash}_appended`;
}

/** FNV-1a, 32 bits: a stable, dependency-free hash for derived names. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Quotes a string as an SQL literal (`'it''s'`). Only for values that cannot travel as
 * parameters, such as a channel name inside a function body created by a migration; callers
 * pass identifiers validated by {@link assertIdentifier}.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new InvalidArgumentError('an SQL literal cannot contain NUL');
  return `'${value.replaceAll("'", "''")}'`;
}
