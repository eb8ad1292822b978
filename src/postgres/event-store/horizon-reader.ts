import type { HorizonHolder, LogHorizon } from '../../core.js';
import { sqlStateOf } from '../driver/errors.js';
import type { PgPool } from '../driver/pg-client.js';
import { runQuery, toDate } from '../driver/values.js';
import { HEAD_ATTEMPTS } from './event-store-sql.js';
import {
  HORIZON_HOLDER,
  HORIZON_PROBE,
  type HorizonHolderRow,
  type HorizonProbeRow,
  type HorizonScope,
  type HorizonStateRow,
  horizonStateSql,
} from './horizon-sql.js';

/** SQLSTATE insufficient_privilege: the role may not read a view (or call its function). */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Chooses a store's horizon scope once (see `horizon-sql.ts`) and reads the horizon's state.
 *
 * @internal
 */
export class HorizonReader {
  readonly #pool: PgPool;
  readonly #events: string;
  #scope: Promise<HorizonScope> | undefined;

  /** `events` is the quoted table; `requested` `'cluster'` skips the probe. */
  constructor(pool: PgPool, events: string, requested: 'auto' | 'cluster') {
    this.#pool = pool;
    this.#events = events;
    if (requested === 'cluster') this.#scope = Promise.resolve('cluster');
  }

  /**
   * The scope in use: probed on the first call, then cached. A probe that fails for another
   * reason than privileges (the server is down, say) is not cached: it fails this call only.
   */
  scope(): Promise<HorizonScope> {
    this.#scope ??= this.#probe().catch((error: unknown) => {
      this.#scope = undefined;
      throw error;
    });
    return this.#scope;
  }

  async #probe(): Promise<HorizonScope> {
    try {
      const { rows } = await runQuery<HorizonProbeRow>(this.#pool, HORIZON_PROBE, [], 'horizon probe');
      return rows[0]?.embedded === false ? 'database' : 'cluster';
    } catch (error) {
      if (sqlStateOf(error) === INSUFFICIENT_PRIVILEGE) return 'cluster';
      throw error;
    }
  }

  /** The horizon now: its scope, the committed events behind it and, if one, its holder. */
  async read(): Promise<LogHorizon> {
    const scope = await this.scope();
    const sql = horizonStateSql(this.#events, scope);
    let state: HorizonStateRow | undefined;
    // Read again while the horizon's transaction had ended before the views were read: the
    // horizon was then too low for this one read, and would report committed events as held back.
    for (let attempt = 1; attempt <= HEAD_ATTEMPTS; attempt++) {
      state = (await runQuery<HorizonStateRow>(this.#pool, sql, [], 'readHorizon')).rows[0];
      if (!state?.ended) break;
    }
    if (!state) return { scope, heldBackEvents: 0n, holder: undefined };
    const heldBackEvents = BigInt(state.held_back);
    // Below xmax, the horizon is an id that was running in the statement's snapshot.
    if (BigInt(state.horizon) >= BigInt(state.xmax)) return { scope, heldBackEvents, holder: undefined };
    return { scope, heldBackEvents, holder: await this.#holder(BigInt(state.horizon)) };
  }

  async #holder(transactionId: bigint): Promise<HorizonHolder> {
    const unknown: HorizonHolder = {
      transactionId,
      pid: undefined,
      database: undefined,
      application: undefined,
      since: undefined,
      ageMs: undefined,
    };
    let row: HorizonHolderRow | undefined;
    try {
      row = (
        await runQuery<HorizonHolderRow>(
          this.#pool,
          HORIZON_HOLDER,
          [transactionId.toString()],
          'readHorizon',
        )
      ).rows[0];
    } catch (error) {
      if (sqlStateOf(error) === INSUFFICIENT_PRIVILEGE) return unknown;
      throw error;
    }
    // Gone since (it ended), or not a session this role can see.
    if (!row) return unknown;
    const application = row.application ?? undefined;
    return {
      transactionId,
      pid: row.pid ?? undefined,
      database: row.database ?? undefined,
      application: row.prepared ? `prepared transaction '${application}'` : application || undefined,
      since: row.since === null ? undefined : toDate(row.since),
      ageMs: row.age_ms === null ? undefined : Math.max(0, Math.round(Number(row.age_ms))),
    };
  }
}
