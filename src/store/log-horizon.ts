/**
 * The unfinished transaction that bounds the readable end of the global log: every event it
 * (or anything after it) commits becomes readable only once it ends.
 *
 * @category Stores
 */
export interface HorizonHolder {
  /** Its transaction id (in the store's own numbering). */
  readonly transactionId: bigint;
  /** The process (server backend) running it; `undefined` when none does (a prepared transaction) or it is not known. */
  readonly pid: number | undefined;
  /** The database it runs in, when known. */
  readonly database: string | undefined;
  /** The application name of its session (for a prepared transaction, its global id), when known. */
  readonly application: string | undefined;
  /** When it started (a prepared transaction: when it was prepared), when known. */
  readonly since: Date | undefined;
  /** How long it has been running, in milliseconds by the store's clock, when known. */
  readonly ageMs: number | undefined;
}

/**
 * The readable end of the global log and what holds it back; see {@link IEventStore.readHorizon}.
 *
 * @category Stores
 */
export interface LogHorizon {
  /**
   * Which transactions bound it, in the store's own words. The PostgreSQL store says
   * `'database'` (those of its database) or `'cluster'` (those of the whole server).
   */
  readonly scope: string;
  /**
   * Committed events that readers cannot read yet because an older transaction has not
   * finished. Above `0`, projections fall behind until {@link LogHorizon.holder} ends.
   */
  readonly heldBackEvents: bigint;
  /** The oldest unfinished transaction that bounds the horizon, if one does. */
  readonly holder: HorizonHolder | undefined;
}
