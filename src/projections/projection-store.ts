import type { LogPosition, StoredEvent } from '../events/event-envelope.js';

/**
 * Where a projection stands in the global log.
 *
 * @category Projections
 */
export interface ProjectionCheckpoint {
  /** The projection's name. */
  readonly projection: string;
  /** The position of the last event the projection is done with; {@link LOG_START} before any. */
  readonly position: LogPosition;
  /** When the last processed event was raised (its `timestamp`); `undefined` before any. */
  readonly lastEventTimestamp: Date | undefined;
  /** When the checkpoint was last stored (store clock); `undefined` when it never was. */
  readonly updatedAt: Date | undefined;
}

/**
 * A checkpoint to store; see {@link ProjectionTransaction.saveCheckpoint}.
 *
 * @category Projections
 */
export interface CheckpointUpdate {
  /** The checkpoint the caller read and builds on; the save fails when the stored one differs. */
  readonly expected: LogPosition;
  /** The new position: that of the last event processed in this unit of work. */
  readonly position: LogPosition;
  /** The `timestamp` of that event. */
  readonly lastEventTimestamp: Date;
  /**
   * The {@link ProjectionLease.fence} of the lease the caller holds. When given, the save also
   * fails (returns `false`) once a newer holder took the projection's lease: a runner that lost
   * its lease cannot commit a single batch more.
   * @defaultValue no fence check (the position alone is compared)
   */
  readonly fence?: bigint;
}

/**
 * Options of {@link ProjectionTransaction.resetCheckpoint}.
 *
 * @category Projections
 */
export interface ResetCheckpointOptions {
  /**
   * The {@link ProjectionLease.fence} of the lease the caller holds: the reset applies only
   * while it is still the lease's fence, so a runner that lost its lease cannot reset the
   * projection under its new holder.
   * @defaultValue no fence check
   */
  readonly fence?: bigint;
}

/**
 * The error a dead letter records: what the handler threw, as text.
 *
 * @category Projections
 */
export interface DeadLetterError {
  /** The error's name (class), when it had one. */
  readonly name: string | undefined;
  /** The error's message, or the thrown value as text. */
  readonly message: string;
  /** The stack trace, when there was one. */
  readonly stack: string | undefined;
}

/**
 * An event whose handler failed after every retry, parked so the projection could go on.
 *
 * @category Projections
 */
export interface DeadLetter {
  /** Assigned by the store; unique within it. */
  readonly id: string;
  /** The projection whose handler failed. */
  readonly projection: string;
  /** The event as it was read when it failed. A retry reads it again from the event store. */
  readonly event: StoredEvent;
  /** The last error. */
  readonly error: DeadLetterError;
  /** How many times the handler was called for the event. */
  readonly attempts: number;
  /** When the event was parked. */
  readonly failedAt: Date;
}

/**
 * A dead letter to add; the store assigns the id.
 *
 * @category Projections
 */
export type NewDeadLetter = Omit<DeadLetter, 'id'>;

/**
 * Options of {@link ProjectionStore.listDeadLetters}.
 *
 * @category Projections
 */
export interface ListDeadLettersOptions {
  /**
   * The most dead letters to return.
   * @defaultValue 100
   */
  readonly limit?: number;
  /**
   * Skip this many (for paging).
   * @defaultValue 0
   */
  readonly offset?: number;
}

/**
 * The right to process one projection, held by one runner at a time across processes. Leases end
 * when released, when their holder dies, and (depending on the store) when they are not renewed.
 *
 * @category Projections
 */
export interface ProjectionLease {
  /** The projection the lease is for. */
  readonly projection: string;
  /** Who holds it (the runner's `owner`). */
  readonly owner: string;
  /**
   * The fencing token of this holding: each new holder of a projection's lease gets a greater
   * one, and the store stores it with the projection's checkpoint before the lease is handed
   * out (after any unit of work in progress that already saved the checkpoint has ended). Pass
   * it with {@link CheckpointUpdate.fence}: saves of an older holder then fail. `undefined` for
   * stores that do not fence their leases.
   */
  readonly fence?: bigint;
  /**
   * Confirms or extends the lease. `false` (or an error) means it is lost: someone else may hold
   * it now, and the holder must stop processing.
   */
  renew(): Promise<boolean>;
  /** Gives the lease up. Safe to call more than once and after the lease was lost. */
  release(): Promise<void>;
}

/**
 * One unit of work of a {@link ProjectionStore}: the handlers' writes through `context`, the
 * checkpoint and the dead letters of one call of {@link ProjectionStore.transaction} commit
 * together or not at all.
 *
 * @typeParam TContext - what handlers write the read model through.
 *
 * @category Projections
 */
export interface ProjectionTransaction<TContext> {
  /** What handlers and hooks receive: bound to this unit of work. */
  readonly context: TContext;
  /**
   * Stores a projection's checkpoint, only if its stored checkpoint still equals
   * `update.expected` (a projection that never stored one is at {@link LOG_START}) and, when
   * `update.fence` is given, its lease's fence is still that one. Returns `false` and changes
   * nothing otherwise: someone else moved the projection on or took its lease, and the caller
   * must roll back. This compare-and-set keeps effects exactly-once even when two runners overlap.
   */
  saveCheckpoint(projection: string, update: CheckpointUpdate): Promise<boolean>;
  /**
   * Moves a projection's checkpoint back to {@link LOG_START} and discards its dead letters (a
   * replay meets those events again). With `options.fence`, only while the projection's lease
   * still has that fence: once a newer holder took the lease it changes nothing and returns
   * `false`, and the caller must roll back (as for {@link ProjectionTransaction.saveCheckpoint}).
   */
  resetCheckpoint(projection: string, options?: ResetCheckpointOptions): Promise<boolean>;
  /** Parks an event; returns the new dead letter's id. */
  addDeadLetter(letter: NewDeadLetter): Promise<string>;
  /** Removes a dead letter. Returns `false` when there is none with that id (anymore). */
  removeDeadLetter(id: string): Promise<boolean>;
}

/**
 * Where projections keep their checkpoints, dead letters and leases, and the transaction boundary
 * of their read models. A runner processes a batch of events in one
 * {@link ProjectionStore.transaction}: the handlers write through the transaction's `context`,
 * and the checkpoint advance commits with those writes. When the read model lives in the same
 * database (PostgreSQL projections), each event therefore takes effect exactly once.
 *
 * `annals/testing` has the contract suite (`describeProjectionStoreContract`) every
 * implementation should pass.
 *
 * @typeParam TContext - what handlers and hooks receive inside a unit of work.
 *
 * @example
 * ```ts
 * import { formatLogPosition, InMemoryProjectionStore, type ProjectionStore } from 'annals';
 *
 * interface Totals {
 *   byOrder: Map<string, number>;
 * }
 * const projectionStore: ProjectionStore<Totals> = new InMemoryProjectionStore<Totals>({
 *   initialState: { byOrder: new Map() },
 * });
 *
 * // A ProjectionRunner writes through it; operators read how far each projection got.
 * const checkpoint = await projectionStore.loadCheckpoint('order-totals');
 * for (const letter of await projectionStore.listDeadLetters('order-totals')) {
 *   console.log(letter.event.eventId, letter.error.message, letter.attempts);
 * }
 * ```
 *
 * @category Projections
 */
export interface ProjectionStore<TContext> {
  /**
   * Runs `work` in one unit of work and commits it when `work` resolves; when `work` throws,
   * nothing of it is kept and the error is rethrown unchanged. Resolves with `work`'s value.
   */
  transaction<T>(work: (transaction: ProjectionTransaction<TContext>) => Promise<T>): Promise<T>;
  /** The stored checkpoint; {@link annals!LOG_START} with no timestamps when there is none. */
  loadCheckpoint(projection: string): Promise<ProjectionCheckpoint>;
  /** One dead letter, or `undefined`. */
  getDeadLetter(id: string): Promise<DeadLetter | undefined>;
  /** A projection's dead letters in the order they were parked. */
  listDeadLetters(projection: string, options?: ListDeadLettersOptions): Promise<DeadLetter[]>;
  /** How many dead letters a projection has. */
  countDeadLetters(projection: string): Promise<number>;
  /**
   * Takes the lease of a projection for `owner`, or returns `undefined` when someone holds it.
   * A lease is exclusive: a second call while it is held returns `undefined`, whoever asks.
   * A store that fences its leases gives the new lease a {@link ProjectionLease.fence} greater
   * than any before, stored before this resolves: a unit of work that saved the checkpoint under
   * an older fence has committed or rolled back by then, and no later one can save under it.
   */
  tryAcquireLease(projection: string, owner: string): Promise<ProjectionLease | undefined>;
  /**
   * Whether an error thrown inside a unit of work means the store failed (lost connection,
   * server shut down) rather than the handler. Runners retry such errors without limit and never
   * park an event because of them.
   * @defaultValue only the transient annals errors count ({@link isTransientError})
   */
  isTransientError?(error: unknown): boolean;
}
