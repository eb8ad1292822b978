import type {
  LogPosition,
  ProjectionCheckpoint,
  ProjectionLease,
  ProjectionStore,
  ProjectionTransaction,
} from 'annals';

/** What {@link observeStore} saw a runner do through its projection store. */
export interface StoreObservations<TContext> {
  /** The store to give the runner. */
  readonly store: ProjectionStore<TContext>;
  /** Every lease it took, in order. */
  readonly leases: ProjectionLease[];
  /** The first checkpoint it loaded after each lease: where that holder started. */
  readonly startedFrom: ProjectionCheckpoint[];
  /** The position of every unit of work that moved the checkpoint and committed, in order. */
  readonly commits: LogPosition[];
  /** How many checkpoint saves were refused (the compare-and-set or the fence failed). */
  readonly refused: () => number;
}

/**
 * A projection store that forwards to `inner` and records the leases a runner takes, where it
 * starts after each, and the units of work it commits: enough to tell which runner committed
 * what after a takeover.
 */
export function observeStore<TContext>(
  inner: ProjectionStore<TContext>,
  options: { readonly pauseMs?: number } = {},
): StoreObservations<TContext> {
  const leases: ProjectionLease[] = [];
  const startedFrom: ProjectionCheckpoint[] = [];
  const commits: LogPosition[] = [];
  let refused = 0;
  const store: ProjectionStore<TContext> = {
    transaction: async (work) => {
      let savedTo: LogPosition | undefined;
      const result = await inner.transaction(async (transaction) => {
        // A slow unit of work, so that a takeover happens while one is open.
        if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
        const observed: ProjectionTransaction<TContext> = {
          context: transaction.context,
          saveCheckpoint: async (projection, update) => {
            const saved = await transaction.saveCheckpoint(projection, update);
            if (saved) savedTo = update.position;
            else refused += 1;
            return saved;
          },
          resetCheckpoint: (projection, options) => transaction.resetCheckpoint(projection, options),
          addDeadLetter: (letter) => transaction.addDeadLetter(letter),
          removeDeadLetter: (id) => transaction.removeDeadLetter(id),
        };
        return work(observed);
      });
      if (savedTo) commits.push(savedTo);
      return result;
    },
    loadCheckpoint: async (projection) => {
      const checkpoint = await inner.loadCheckpoint(projection);
      if (startedFrom.length < leases.length) startedFrom.push(checkpoint);
      return checkpoint;
    },
    getDeadLetter: (id) => inner.getDeadLetter(id),
    listDeadLetters: (projection, listOptions) => inner.listDeadLetters(projection, listOptions),
    countDeadLetters: (projection) => inner.countDeadLetters(projection),
    tryAcquireLease: async (projection, owner) => {
      const lease = await inner.tryAcquireLease(projection, owner);
      if (lease) leases.push(lease);
      return lease;
    },
    isTransientError: (error) => inner.isTransientError?.(error) === true,
  };
  return { store, leases, startedFrom, commits, refused: () => refused };
}
