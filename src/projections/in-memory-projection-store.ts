import { InvalidArgumentError } from '../errors.js';
import { compareLogPositions, LOG_START } from '../events/event-envelope.js';
import { assertFence, assertProjectionName } from './define-projection.js';
import type {
  CheckpointUpdate,
  DeadLetter,
  ListDeadLettersOptions,
  NewDeadLetter,
  ProjectionCheckpoint,
  ProjectionLease,
  ProjectionStore,
  ProjectionTransaction,
  ResetCheckpointOptions,
} from './projection-store.js';

/**
 * Options of {@link InMemoryProjectionStore}.
 *
 * @category Projections
 */
export interface InMemoryProjectionStoreOptions<TState> {
  /** The read model's initial state: what handlers receive as their context. */
  readonly initialState: TState;
  /**
   * Copies the state at the start of each unit of work; handlers change the copy, which replaces
   * the state on commit and is dropped on rollback.
   * @defaultValue `structuredClone` (plain objects, arrays, Maps, Sets, Dates; no functions or classes)
   */
  readonly clone?: (state: TState) => TState;
  /**
   * How long a lease lasts without being renewed, in milliseconds.
   * @defaultValue 30000
   */
  readonly leaseTtlMs?: number;
  /**
   * The clock, in milliseconds since the epoch (for lease expiry and `updatedAt`).
   * @defaultValue `Date.now`
   */
  readonly now?: () => number;
}

interface HeldLease {
  readonly owner: string;
  expiresAt: number;
}

interface Committed<TState> {
  readonly state: TState;
  readonly checkpoints: ReadonlyMap<string, ProjectionCheckpoint>;
  readonly deadLetters: ReadonlyMap<string, DeadLetter>;
}

/**
 * A {@link ProjectionStore} in process memory, whose context is a read model of your own (any
 * state `structuredClone` can copy, or pass `clone`). Units of work run one at a time on a copy
 * of the state, checkpoints and dead letters, which replaces them all at once on commit: a
 * handler that throws leaves no trace, as a database transaction would. Leases expire after
 * `leaseTtlMs` without renewal, and are fenced: each new holder's {@link ProjectionLease.fence}
 * is set between units of work, and saves under an older fence fail.
 *
 * For tests, examples and prototypes: it keeps nothing across restarts, and copying the state per
 * batch costs time proportional to its size.
 *
 * @example
 * ```ts
 * const projectionStore = new InMemoryProjectionStore({ initialState: { orders: new Map() } });
 * // ...run projections...
 * projectionStore.state.orders.get('order-1');
 * ```
 *
 * @category Projections
 */
export class InMemoryProjectionStore<TState> implements ProjectionStore<TState> {
  #committed: Committed<TState>;
  readonly #clone: (state: TState) => TState;
  readonly #leaseTtlMs: number;
  readonly #now: () => number;
  readonly #leases = new Map<string, HeldLease>();
  /** The fence of each projection's latest lease; not part of a unit of work's copy. */
  readonly #fences = new Map<string, bigint>();
  #queue: Promise<unknown> = Promise.resolve();
  #nextDeadLetterId = 1;

  constructor(options: InMemoryProjectionStoreOptions<TState>) {
    if (typeof options !== 'object' || options === null || !('initialState' in options)) {
      throw new InvalidArgumentError('InMemoryProjectionStore needs an `initialState`');
    }
    this.#clone = options.clone ?? ((state) => structuredClone(state));
    this.#leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#leaseTtlMs > 0)) throw new InvalidArgumentError('leaseTtlMs must be a number > 0');
    this.#committed = { state: options.initialState, checkpoints: new Map(), deadLetters: new Map() };
  }

  /** The committed read model. Read it; change it only through handlers. */
  get state(): TState {
    return this.#committed.state;
  }

  transaction<T>(work: (transaction: ProjectionTransaction<TState>) => Promise<T>): Promise<T> {
    return this.#serialized(() => this.#run(work));
  }

  /** Runs `step` after every unit of work queued before it, and before any queued after it. */
  #serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async loadCheckpoint(projection: string): Promise<ProjectionCheckpoint> {
    assertProjectionName(projection);
    return this.#committed.checkpoints.get(projection) ?? initialCheckpoint(projection);
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    return this.#committed.deadLetters.get(id);
  }

  async listDeadLetters(projection: string, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
    assertProjectionName(projection);
    const { limit = 100, offset = 0 } = options;
    if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError('listDeadLetters: limit must be an integer >= 1 and offset >= 0');
    }
    return [...this.#committed.deadLetters.values()]
      .filter((letter) => letter.projection === projection)
      .slice(offset, offset + limit);
  }

  async countDeadLetters(projection: string): Promise<number> {
    assertProjectionName(projection);
    let count = 0;
    for (const letter of this.#committed.deadLetters.values()) if (letter.projection === projection) count++;
    return count;
  }

  async tryAcquireLease(projection: string, owner: string): Promise<ProjectionLease | undefined> {
    assertProjectionName(projection);
    if (typeof owner !== 'string' || owner === '') {
      throw new InvalidArgumentError('a lease owner must be a non-empty string');
    }
    const held = this.#leases.get(projection);
    if (held && held.expiresAt > this.#now()) return undefined;
    const lease: HeldLease = { owner, expiresAt: this.#now() + this.#leaseTtlMs };
    this.#leases.set(projection, lease);
    // The new fence takes effect between units of work, as a transaction of its own would: a
    // unit in progress that saved under the old fence commits first; later ones see the new one.
    const fence = await this.#serialized(async () => {
      const next = (this.#fences.get(projection) ?? 0n) + 1n;
      this.#fences.set(projection, next);
      return next;
    });
    const isHeld = () => this.#leases.get(projection) === lease && lease.expiresAt > this.#now();
    return {
      projection,
      owner,
      fence,
      renew: async () => {
        if (!isHeld()) return false;
        lease.expiresAt = this.#now() + this.#leaseTtlMs;
        return true;
      },
      release: async () => {
        if (this.#leases.get(projection) === lease) this.#leases.delete(projection);
      },
    };
  }

  async #run<T>(work: (transaction: ProjectionTransaction<TState>) => Promise<T>): Promise<T> {
    const base = this.#committed;
    const checkpoints = new Map(base.checkpoints);
    const deadLetters = new Map(base.deadLetters);
    let open = true;
    const check = () => {
      if (!open) throw new InvalidArgumentError('this projection transaction has already ended');
    };
    const transaction: ProjectionTransaction<TState> = {
      context: this.#clone(base.state),
      saveCheckpoint: async (projection: string, update: CheckpointUpdate) => {
        check();
        assertProjectionName(projection);
        assertFence(update.fence, 'saveCheckpoint');
        const current = checkpoints.get(projection) ?? initialCheckpoint(projection);
        if (compareLogPositions(current.position, update.expected) !== 0) return false;
        if (update.fence !== undefined && update.fence !== (this.#fences.get(projection) ?? 0n)) return false;
        checkpoints.set(projection, {
          projection,
          position: { ...update.position },
          lastEventTimestamp: new Date(update.lastEventTimestamp.getTime()),
          updatedAt: new Date(this.#now()),
        });
        return true;
      },
      resetCheckpoint: async (projection: string, options?: ResetCheckpointOptions) => {
        check();
        assertProjectionName(projection);
        const fence = options?.fence;
        assertFence(fence, 'resetCheckpoint');
        if (fence !== undefined && fence !== (this.#fences.get(projection) ?? 0n)) return false;
        checkpoints.set(projection, { ...initialCheckpoint(projection), updatedAt: new Date(this.#now()) });
        for (const [id, letter] of deadLetters) if (letter.projection === projection) deadLetters.delete(id);
        return true;
      },
      addDeadLetter: async (letter: NewDeadLetter) => {
        check();
        assertProjectionName(letter.projection);
        const id = String(this.#nextDeadLetterId++);
        deadLetters.set(id, structuredClone({ ...letter, id }));
        return id;
      },
      removeDeadLetter: async (id: string) => {
        check();
        return deadLetters.delete(id);
      },
    };
    try {
      const result = await work(transaction);
      this.#committed = { state: transaction.context, checkpoints, deadLetters };
      return result;
    } finally {
      open = false;
    }
  }
}

function initialCheckpoint(projection: string): ProjectionCheckpoint {
  return { projection, position: LOG_START, lastEventTimestamp: undefined, updatedAt: undefined };
}
