import type { StandardSchemaV1 } from '../events/standard-schema.js';
import type { RepositorySnapshotOptions } from './aggregate-repository.js';

/**
 * How a decider's state becomes a snapshot and back. A decider's state is data, so by default the
 * snapshot is the state itself: it must then be JSON (no `Date`, `Map`, `BigInt` or class
 * instances); give `toSnapshot`/`fromSnapshot` otherwise.
 *
 * @typeParam TState - the decider's state.
 * @typeParam TSnapshot - the snapshot state, as JSON.
 *
 * @category Snapshots
 */
export interface DeciderSnapshotFormat<TState, TSnapshot = TState> {
  /**
   * The version of the snapshot's shape (integer >= 1). Raise it whenever the state's shape or
   * meaning changes: snapshots of another version are ignored and the aggregate is replayed.
   * @defaultValue 1
   */
  readonly schemaVersion?: number;
  /**
   * Checks the snapshot state when it is taken and when it is restored; a stored state that fails
   * it is ignored (warning `snapshot_corrupt`) and the aggregate is replayed. Any synchronous
   * Standard Schema (zod 3.24+ or 4, valibot, ArkType).
   * @defaultValue none: states are not checked
   */
  readonly schema?: StandardSchemaV1<unknown, TSnapshot>;
  /**
   * Turns the state into JSON values.
   * @defaultValue the state itself
   */
  readonly toSnapshot?: (state: TState) => TSnapshot;
  /**
   * Turns a snapshot state (checked by `schema` when given) back into the decider's state.
   * @defaultValue the snapshot state itself
   */
  readonly fromSnapshot?: (snapshot: TSnapshot) => TState;
}

/**
 * The `snapshots` option of a {@link DeciderRepository}: where and when snapshots are taken (as for
 * an {@link AggregateRepository}) and how the decider's state is stored.
 *
 * @example
 * ```ts
 * snapshots: { store: new InMemorySnapshotStore(), policy: everyNEvents(200), schemaVersion: 1, schema: WalletState }
 * ```
 *
 * @category Snapshots
 */
export interface DeciderSnapshotOptions<TState, TSnapshot = TState>
  extends RepositorySnapshotOptions,
    DeciderSnapshotFormat<TState, TSnapshot> {}
