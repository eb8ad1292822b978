/**
 * The parts of a PostgreSQL driver the adapter uses, declared by shape so that no driver is
 * imported: a `pg.Pool` fits {@link PgPool}, a `pg.PoolClient` fits {@link PgPoolClient}, and
 * {@link pgliteAsPool} makes an in-process PGlite instance fit {@link PgPool}.
 *
 * @module
 */

/**
 * A row as a driver returns it: column name to value.
 *
 * @category Drivers
 */
export type PgRow = Record<string, unknown>;

/**
 * What a query resolves to; `pg` and the PGlite adapter both fill `rows`.
 *
 * @category Drivers
 */
export interface PgQueryResult<TRow extends PgRow = PgRow> {
  /** The rows, as objects keyed by column name. */
  readonly rows: TRow[];
  /** The number of rows a command affected, where the driver reports it. */
  readonly rowCount?: number | null;
  /** The command tag's verb (`SELECT`, `COMMIT`, `ROLLBACK`, ...), where the driver reports it. */
  readonly command?: string;
}

/**
 * Anything that runs a query: a `pg.Pool`, a `pg.PoolClient`, a `pg.Client`, the transaction
 * client handed out by {@link PostgresEventStore.withTransaction}, or the PGlite adapter.
 *
 * Without `values` the text may hold several statements (PostgreSQL's simple query protocol);
 * with `values` it is one statement whose `$1, $2, ...` parameters are bound to them.
 *
 * @category Drivers
 */
export interface PgQueryable {
  /** Runs `text` (one statement with `values` bound to `$1, $2, ...`, or several without `values`). */
  query<TRow extends PgRow = PgRow>(text: string, values?: unknown[]): Promise<PgQueryResult<TRow>>;
}

/**
 * A statement with a name, prepared once per connection and then only bound and executed.
 *
 * @category Drivers
 */
export interface PgNamedStatement {
  /** Unique per statement text (on a connection, one name always means one text). */
  readonly name: string;
  /** One statement with `$1, $2, ...` parameters. */
  readonly text: string;
  /** The parameters. */
  readonly values: unknown[];
}

/**
 * A notification delivered to a listening connection (`pg`'s `notification` event).
 *
 * @category Drivers
 */
export interface PgNotification {
  /** The channel it was sent on. */
  readonly channel: string;
  /** Its payload; annals sends an empty string. */
  readonly payload?: string;
}

/**
 * A connection checked out of a pool. `release()` gives it back; `release(error)` tells the pool
 * the connection is broken and must be discarded (as `pg` does).
 *
 * @category Drivers
 */
export interface PgPoolClient extends PgQueryable {
  /**
   * Runs a named statement (`pg`'s `QueryConfig`), prepared once per connection, as
   * {@link PgPool.query} does.
   */
  query<TRow extends PgRow = PgRow>(statement: PgNamedStatement): Promise<PgQueryResult<TRow>>;
  /** Runs `text`, as {@link PgQueryable.query} does. */
  query<TRow extends PgRow = PgRow>(text: string, values?: unknown[]): Promise<PgQueryResult<TRow>>;
  /** Returns the connection to its pool; pass the error when the connection is unusable. */
  release(error?: Error | boolean): void;
  /** Subscribes to connection events; the store uses `notification` and `error` for LISTEN. */
  on?(event: 'notification', listener: (message: PgNotification) => void): unknown;
  /** Subscribes to the connection's errors (a connection that breaks while it LISTENs). */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  /** Removes a listener added with `on`. */
  off?(event: string, listener: (...args: any[]) => void): unknown;
  /** `pg`'s name for `off`. */
  removeListener?(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * A pool of connections: a `pg.Pool`, or {@link pgliteAsPool} around a PGlite instance.
 * Plain queries go through `query`; transactions check out a connection with `connect`.
 *
 * @category Drivers
 */
export interface PgPool extends PgQueryable {
  /**
   * Runs a named statement (`pg`'s `QueryConfig`): the driver prepares it once per connection,
   * so later runs skip parsing and planning. {@link pgliteAsPool} accepts it too.
   */
  query<TRow extends PgRow = PgRow>(statement: PgNamedStatement): Promise<PgQueryResult<TRow>>;
  /** Runs `text`, as {@link PgQueryable.query} does. */
  query<TRow extends PgRow = PgRow>(text: string, values?: unknown[]): Promise<PgQueryResult<TRow>>;
  /** Checks out a connection; the caller must `release()` it. */
  connect(): Promise<PgPoolClient>;
  /**
   * The pool's settings, where the driver exposes them (`pg.Pool` does): `max`, its size, is
   * the event store's default for `maxConcurrentAppends`.
   */
  readonly options?: {
    /** The most connections the pool opens. */
    readonly max?: number;
  };
  /** Closes every connection (`pg.Pool#end`). Called by the store only if it owns the pool. */
  end?(): Promise<void>;
  /**
   * Listens on a channel without holding a pool connection; when present the store uses it
   * instead of checking out a connection for LISTEN. {@link pgliteAsPool} provides it.
   * Resolves to a function that stops listening.
   */
  listen?(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
}
