/**
 * What a migration's SQL may depend on besides the schema.
 */
export interface MigrationContext {
  /** The schema name as given (validated, unquoted), such as `annals`. */
  readonly schemaName: string;
  /** The LISTEN/NOTIFY channel of appends to this schema, as a quoted SQL literal. */
  readonly appendedChannelLiteral: string;
}

/**
 * One versioned step of the PostgreSQL schema. Migrations run in version order, each once per
 * schema, all pending ones in one transaction (see {@link migrate}).
 *
 * To add one: create `src/postgres/migrations/NNN-name.ts` exporting a `Migration` with the
 * next version, and add it to the list in `src/postgres/migrations/index.ts`. Never edit a
 * migration that has been released; add a new one.
 */
export interface Migration {
  /** The version, 1-based and consecutive: 1, 2, 3, ... */
  readonly version: number;
  /** A short name, recorded beside the version in `<schema>.migrations`. */
  readonly name: string;
  /**
   * The SQL of the migration; it may hold several statements.
   *
   * @param schema - the schema, validated and double-quoted (`"annals"`): prefix every object with it.
   * @param context - other derived names.
   */
  sql(schema: string, context: MigrationContext): string;
}
