/**
 * An aggregate's state at one version, so that a load replays only the events after it.
 *
 * @typeParam TState - the state as the aggregate's `toSnapshot()` returns it (JSON).
 *
 * @category Snapshots
 */
export interface Snapshot<TState = unknown> {
  /** The aggregate (stream) id. */
  readonly aggregateId: string;
  /** The aggregate's type, such as `Order`. */
  readonly aggregateType: string;
  /** The version of the last event the state includes. */
  readonly version: number;
  /**
   * The version of the state's shape (the aggregate's `snapshotSchemaVersion` when it was taken).
   * A snapshot of another version than the code's is ignored and the aggregate is replayed.
   */
  readonly schemaVersion: number;
  /** The state, as JSON. */
  readonly state: TState;
  /** When the snapshot was taken. */
  readonly createdAt: Date;
}

/**
 * Where snapshots are kept: one per aggregate, the latest saved.
 *
 * Snapshots are a cache. Losing one costs a full replay, never correctness, so an implementation
 * may drop them at will; what it must not do is hand out a snapshot of another aggregate.
 *
 * @example
 * ```ts
 * import { InMemorySnapshotStore, type SnapshotStore } from 'annals';
 *
 * const snapshots: SnapshotStore = new InMemorySnapshotStore();
 * await snapshots.save({
 *   aggregateId: 'order-1',
 *   aggregateType: 'Order',
 *   version: 100,
 *   schemaVersion: 1,
 *   state: { status: 'shipped', total: 42 },
 *   createdAt: new Date(),
 * });
 * const latest = await snapshots.load('order-1'); // replay only the events after version 100
 * ```
 *
 * @category Snapshots
 */
export interface SnapshotStore {
  /** The aggregate's snapshot, or `undefined` when there is none. */
  load(aggregateId: string): Promise<Snapshot | undefined>;
  /**
   * Stores a snapshot, replacing the aggregate's previous one (whatever its version: a snapshot of
   * an older version is still a correct state, and replacing always lets a broken one be
   * overwritten). The state must be JSON-serialisable; otherwise it throws and keeps the old one.
   */
  save(snapshot: Snapshot): Promise<void>;
  /** Removes the aggregate's snapshot, if any (for operators, or after a stream was deleted). */
  delete(aggregateId: string): Promise<void>;
}
