import { InvalidArgumentError } from '../errors.js';

/**
 * What a {@link SnapshotPolicy} decides on: an aggregate right after a successful save.
 *
 * @category Snapshots
 */
export interface SnapshotPolicyContext {
  /** The aggregate's id. */
  readonly aggregateId: string;
  /** The aggregate's type. */
  readonly aggregateType: string;
  /** The aggregate's version after the save. */
  readonly version: number;
  /**
   * The version of the snapshot the aggregate was loaded from or last saved at, `0` when it has
   * none (none stored, or the stored one was ignored as outdated or corrupt).
   */
  readonly lastSnapshotVersion: number;
  /** How many events the save appended. */
  readonly eventsAppended: number;
}

/**
 * Decides after each save whether the repository takes a snapshot of the aggregate.
 *
 * @category Snapshots
 */
export type SnapshotPolicy = (context: SnapshotPolicyContext) => boolean;

/**
 * Takes a snapshot once `events` events have been appended since the last snapshot (or since the
 * start when there is none): a load then replays fewer than `events` events after the snapshot.
 * An aggregate whose snapshot was ignored (outdated schema, corrupt) gets a fresh one at its next
 * save once it has `events` events.
 *
 * @example
 * ```ts
 * snapshots: { store: new InMemorySnapshotStore(), policy: everyNEvents(200) }
 * ```
 *
 * @category Snapshots
 */
export function everyNEvents(events: number): SnapshotPolicy {
  if (!Number.isSafeInteger(events) || events < 1) {
    throw new InvalidArgumentError(
      `everyNEvents: the number of events must be an integer >= 1; got ${String(events)}`,
    );
  }
  return (context) => context.version - context.lastSnapshotVersion >= events;
}

/**
 * The policy a repository uses when it has a snapshot store and no policy: every 100 events.
 *
 * @category Snapshots
 */
export const DEFAULT_SNAPSHOT_EVERY_N_EVENTS = 100;
