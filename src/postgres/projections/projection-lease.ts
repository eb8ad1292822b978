import type { ProjectionLease } from '../../core.js';
import { toStoreError } from '../driver/errors.js';
import { Mutex } from '../driver/mutex.js';
import type { PgPool, PgPoolClient, PgQueryable } from '../driver/pg-client.js';

/**
 * The leases of the PostgreSQL projection store: a session advisory lock held on a connection of
 * its own (a server), or a registry in process memory (PGlite, which is one connection in one
 * process).
 *
 * @internal
 * @module
 */

/**
 * Who holds a projection's lease, as the database sees it.
 *
 * @category Projections
 */
export interface ProjectionLeaseHolder {
  /** The process id of the server session holding the lock (`pg_stat_activity.pid`). */
  readonly pid: number | undefined;
  /** The holding runner's `owner`, when the session still carries it. */
  readonly owner: string | undefined;
  /** When the holding session connected. */
  readonly since: Date | undefined;
}

/**
 * Gives a projection's new lease holder its fence, in a transaction of its own on `client`
 * (committed when it resolves); see {@link ProjectionLease.fence}.
 */
export type IncrementFence = (client: PgQueryable) => Promise<bigint>;

/** Takes, checks and describes leases. */
export interface LeaseKeeper {
  /** Takes the lease; once taken, runs `incrementFence` before handing it out. */
  tryAcquire(
    projection: string,
    owner: string,
    incrementFence: IncrementFence,
  ): Promise<ProjectionLease | undefined>;
  holder(projection: string): Promise<ProjectionLeaseHolder | undefined>;
}

/** Prefix of `application_name` on a lease's session; the runner's owner follows it. */
const APPLICATION_NAME_PREFIX = 'annals lease ';
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/**
 * The advisory-lock key of a projection's lease: a stable 64-bit hash (FNV-1a over the UTF-8
 * bytes) of `annals.projection:<schema>:<projection>`, as a signed bigint (the type of
 * `pg_try_advisory_lock(bigint)`). Same inputs, same key, in every process and release.
 */
export function projectionLeaseKey(schema: string, projection: string): bigint {
  let hash = FNV64_OFFSET;
  for (const byte of new TextEncoder().encode(`annals.projection:${schema}:${projection}`)) {
    hash ^= BigInt(byte);
    hash = (hash * FNV64_PRIME) & MASK64;
  }
  return BigInt.asIntN(64, hash);
}

/** The halves `pg_locks` shows a bigint advisory key as (`classid`, `objid`; `objsubid` is 1). */
function lockHalves(key: bigint): [string, string] {
  const unsigned = BigInt.asUintN(64, key);
  return [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()];
}

const HELD_BY_SELF =
  "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() " +
  'AND classid = $1::text::oid AND objid = $2::text::oid AND objsubid = 1 AND granted) AS held';

const HOLDER =
  'SELECT l.pid, a.application_name, a.backend_start FROM pg_locks l ' +
  'LEFT JOIN pg_stat_activity a ON a.pid = l.pid ' +
  "WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
  'AND l.classid = $1::text::oid AND l.objid = $2::text::oid AND l.objsubid = 1 AND l.granted LIMIT 1';

/** Options of {@link AdvisoryLockLeases}. */
export interface AdvisoryLockLeasesOptions {
  /** Where lease connections come from. */
  readonly pool: PgPool;
  /** The store's schema (part of each key). */
  readonly schema: string;
  /** `idle_session_timeout` of lease sessions in milliseconds; `0` leaves the server's setting. */
  readonly sessionTimeoutMs: number;
}

/**
 * Leases as session-level advisory locks (`pg_try_advisory_lock(key)`), each held on a pooled
 * connection checked out for as long as the lease lasts. The lock belongs to that session: when
 * the holder dies, its connection closes and the server frees the lock. `renew` checks that the
 * session is alive and still holds the lock; `release` unlocks and closes the connection.
 */
export class AdvisoryLockLeases implements LeaseKeeper {
  readonly #options: AdvisoryLockLeasesOptions;

  constructor(options: AdvisoryLockLeasesOptions) {
    this.#options = options;
  }

  async tryAcquire(
    projection: string,
    owner: string,
    incrementFence: IncrementFence,
  ): Promise<ProjectionLease | undefined> {
    const { pool, schema } = this.#options;
    const key = projectionLeaseKey(schema, projection);
    let client: PgPoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw toStoreError(error, `lease of "${projection}": connect`);
    }
    // A checked-out pg connection that breaks emits 'error'; unheard, that would end the process.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on?.('error', onError);
    let locked: boolean;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::text::bigint) AS locked',
        [key.toString()],
      );
      locked = rows[0]?.locked === true;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw toStoreError(error, `lease of "${projection}"`);
    }
    if (!locked) {
      // Back to the pool for others: without the listener, which would pile up on it.
      (client.off ?? client.removeListener)?.call(client, 'error', onError);
      client.release(broken ?? false);
      return undefined;
    }
    let fence: bigint;
    try {
      await this.#markSession(client, owner);
      // On the lease's own session, after the lock: a session killed before this commits
      // hands out no lease.
      fence = await incrementFence(client);
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw toStoreError(error, `lease of "${projection}"`);
    }
    return new AdvisoryLockLease(projection, owner, fence, client, key, () => broken);
  }

  async holder(projection: string): Promise<ProjectionLeaseHolder | undefined> {
    const { pool, schema } = this.#options;
    let rows: Array<{ pid: number; application_name: string | null; backend_start: Date | null }>;
    try {
      ({ rows } = await pool.query(HOLDER, lockHalves(projectionLeaseKey(schema, projection))));
    } catch (error) {
      throw toStoreError(error, `lease holder of "${projection}"`);
    }
    const row = rows[0];
    if (!row) return undefined;
    const name = row.application_name ?? '';
    return {
      pid: row.pid === null ? undefined : Number(row.pid),
      owner: name.startsWith(APPLICATION_NAME_PREFIX)
        ? name.slice(APPLICATION_NAME_PREFIX.length)
        : undefined,
      since: row.backend_start ? new Date(row.backend_start) : undefined,
    };
  }

  /** Names the session after the owner, and bounds how long it may sit idle. */
  async #markSession(client: PgPoolClient, owner: string): Promise<void> {
    await client.query("SELECT set_config('application_name', $1, false)", [
      `${APPLICATION_NAME_PREFIX}${owner}`.slice(0, 63),
    ]);
    const { sessionTimeoutMs } = this.#options;
    if (sessionTimeoutMs > 0) {
      try {
        await client.query("SELECT set_config('idle_session_timeout', $1, false)", [`${sessionTimeoutMs}ms`]);
      } catch (error) {
        // PostgreSQL 13 has no idle_session_timeout; the lease works without it.
        if ((error as { code?: unknown }).code !== '42704') throw error;
      }
    }
  }
}

class AdvisoryLockLease implements ProjectionLease {
  readonly #client: PgPoolClient;
  readonly #halves: [string, string];
  readonly #key: bigint;
  readonly #broken: () => Error | undefined;
  readonly #mutex = new Mutex();
  #ended = false;

  constructor(
    readonly projection: string,
    readonly owner: string,
    readonly fence: bigint,
    client: PgPoolClient,
    key: bigint,
    broken: () => Error | undefined,
  ) {
    this.#client = client;
    this.#key = key;
    this.#halves = lockHalves(key);
    this.#broken = broken;
  }

  renew(): Promise<boolean> {
    return this.#mutex.run(async () => {
      if (this.#ended) return false;
      if (!this.#broken()) {
        try {
          const { rows } = await this.#client.query<{ held: boolean }>(HELD_BY_SELF, this.#halves);
          if (rows[0]?.held === true) return true;
        } catch {
          // The session is gone: so is its lock.
        }
      }
      this.#end(new Error('the lease was lost'));
      return false;
    });
  }

  release(): Promise<void> {
    return this.#mutex.run(async () => {
      if (this.#ended) return;
      try {
        if (!this.#broken()) {
          await this.#client.query('SELECT pg_advisory_unlock($1::text::bigint)', [this.#key.toString()]);
        }
      } catch {
        // Closing the session below frees the lock anyway.
      }
      this.#end(new Error('lease released'));
    });
  }

  /** Gives the connection back to be closed: its session settings are the lease's own. */
  #end(reason: Error): void {
    this.#ended = true;
    this.#client.release(this.#broken() ?? reason);
  }
}

interface HeldInProcess {
  readonly owner: string;
}

const inProcessRegistries = new WeakMap<object, Map<string, HeldInProcess>>();

/**
 * Leases kept in process memory, shared by every store on the same pool object. For PGlite: one
 * connection in one process, where advisory locks exclude nobody (a session may take its own
 * lock twice). A lease ends when released or when the process ends.
 */
export class InProcessLeases implements LeaseKeeper {
  readonly #held: Map<string, HeldInProcess>;
  readonly #pool: PgPool;
  readonly #schema: string;

  constructor(pool: PgPool, schema: string) {
    let registry = inProcessRegistries.get(pool);
    if (!registry) {
      registry = new Map();
      inProcessRegistries.set(pool, registry);
    }
    this.#held = registry;
    this.#pool = pool;
    this.#schema = schema;
  }

  async tryAcquire(
    projection: string,
    owner: string,
    incrementFence: IncrementFence,
  ): Promise<ProjectionLease | undefined> {
    const key = `${this.#schema}:${projection}`;
    if (this.#held.has(key)) return undefined;
    const entry: HeldInProcess = { owner };
    this.#held.set(key, entry);
    const held = () => this.#held.get(key) === entry;
    let fence: bigint;
    try {
      // On the pool: PGlite runs it after the transaction in progress, if any.
      fence = await incrementFence(this.#pool);
    } catch (error) {
      if (held()) this.#held.delete(key);
      throw toStoreError(error, `lease of "${projection}"`);
    }
    return {
      projection,
      owner,
      fence,
      renew: async () => held(),
      release: async () => {
        if (held()) this.#held.delete(key);
      },
    };
  }

  async holder(projection: string): Promise<ProjectionLeaseHolder | undefined> {
    const entry = this.#held.get(`${this.#schema}:${projection}`);
    return entry && { pid: undefined, owner: entry.owner, since: undefined };
  }
}
