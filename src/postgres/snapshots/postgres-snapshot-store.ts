import {
  assertValidId,
  assertValidSnapshot,
  InvalidArgumentError,
  type Snapshot,
  type SnapshotStore,
  snapshotStateJson,
} from '../../core.js';
import { quoteIdentifier, resolveSchemaName } from '../driver/identifier.js';
import type { PgQueryable, PgRow } from '../driver/pg-client.js';
import { isUnstorableJsonError, runQuery, toDate } from '../driver/values.js';
import { type SnapshotSql, snapshotSql } from './snapshot-sql.js';

/**
 * Options of {@link PostgresSnapshotStore}.
 *
 * @category Snapshots
 */
export interface PostgresSnapshotStoreOptions {
  /** The connections: a `pg.Pool`, or {@link pgliteAsPool} around a PGlite instance. */
  readonly pool: PgQueryable;
  /**
   * The schema holding the `snapshots` table (created by {@link migrate}); normally the event
   * store's.
   * @defaultValue `'annals'`
   */
  readonly schema?: string;
}

interface SnapshotRow extends PgRow {
  aggregate_type: string;
  version: number;
  snapshot_schema_version: number;
  state: unknown;
  created_at: Date | string;
}

/**
 * The PostgreSQL {@link SnapshotStore}: one row per aggregate in the `snapshots` table (created by
 * {@link migrate}, migration 3), the state as jsonb.
 *
 * `save` is one upsert (`INSERT … ON CONFLICT (aggregate_id) DO UPDATE`) that replaces the
 * aggregate's snapshot whatever the stored version, as the contract says: any stored snapshot is
 * a correct state at its version, so when two processes race the last writer wins and the next
 * load merely replays a few more events; and a bad snapshot (ahead of its stream after a restore
 * of the events) can always be overwritten. Snapshots are written after the events committed, in
 * their own statement: a failure costs a later full replay, never a command.
 *
 * The store does not interpret states. The repository checks a loaded state against the
 * aggregate's `snapshotSchema` and falls back to a full replay when it does not fit (a row edited
 * by hand, a state written by other code): declare one.
 *
 * @example
 * ```ts
 * const orders = new AggregateRepository(store, {
 *   create: (id) => new OrderAggregate(id),
 *   snapshots: { store: new PostgresSnapshotStore({ pool, schema: store.schema }), policy: everyNEvents(200) },
 * });
 * ```
 *
 * @category Snapshots
 */
export class PostgresSnapshotStore implements SnapshotStore {
  /** The schema the store uses, unquoted. */
  readonly schema: string;
  readonly #pool: PgQueryable;
  readonly #sql: SnapshotSql;

  constructor(options: PostgresSnapshotStoreOptions) {
    if (typeof options?.pool?.query !== 'function') {
      throw new InvalidArgumentError('PostgresSnapshotStore needs a `pool` (a pg.Pool or pgliteAsPool(db))');
    }
    this.schema = resolveSchemaName(options.schema);
    this.#pool = options.pool;
    this.#sql = snapshotSql(quoteIdentifier('schema', this.schema));
  }

  async load(aggregateId: string): Promise<Snapshot | undefined> {
    assertValidId('aggregateId', aggregateId);
    const { rows } = await runQuery<SnapshotRow>(this.#pool, this.#sql.load, [aggregateId], 'load snapshot');
    const row = rows[0];
    if (!row) return undefined;
    return {
      aggregateId,
      aggregateType: row.aggregate_type,
      version: Number(row.version),
      schemaVersion: Number(row.snapshot_schema_version),
      state: row.state,
      createdAt: toDate(row.created_at),
    };
  }

  /**
   * Stores the snapshot, replacing the aggregate's previous one. Throws
   * {@link InvalidArgumentError} for a malformed snapshot or a state that is not JSON (or that
   * jsonb cannot hold: text with `\u0000`), keeping the previous snapshot.
   */
  async save(snapshot: Snapshot): Promise<void> {
    assertValidSnapshot(snapshot);
    assertValidId('aggregateId', snapshot.aggregateId);
    if (snapshot.aggregateType.includes('\u0000')) {
      throw new InvalidArgumentError(
        `snapshot of "${snapshot.aggregateId}": aggregateType must not contain NUL`,
      );
    }
    const stateJson = snapshotStateJson(snapshot);
    try {
      await runQuery(
        this.#pool,
        this.#sql.save,
        [
          snapshot.aggregateId,
          snapshot.aggregateType,
          snapshot.version,
          snapshot.schemaVersion,
          stateJson,
          snapshot.createdAt,
        ],
        'save snapshot',
      );
    } catch (error) {
      if (isUnstorableJsonError(error)) {
        throw new InvalidArgumentError(
          `snapshot of "${snapshot.aggregateId}": PostgreSQL jsonb cannot store the state (text with \\u0000 or a lone surrogate)`,
        );
      }
      throw error;
    }
  }

  async delete(aggregateId: string): Promise<void> {
    assertValidId('aggregateId', aggregateId);
    await runQuery(this.#pool, this.#sql.delete, [aggregateId], 'delete snapshot');
  }
}
