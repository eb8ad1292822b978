import type { LogPosition } from '../events/event-envelope.js';
import type { IEventStore } from '../store/event-store.js';
import type { LogHorizon } from '../store/log-horizon.js';
import type { ProjectionStore } from './projection-store.js';

/**
 * What a runner is doing with a projection:
 * - `stopped`: not processing (never started, stopped, or a `catchUp()` finished);
 * - `waiting-for-lease`: started, but another runner holds the projection's lease;
 * - `running`: holds the lease and follows the log;
 * - `rebuilding`: replays the log from the start;
 * - `failed`: stopped by an event whose handler kept failing under the `'stop'` policy.
 */
export type ProjectionState = 'stopped' | 'waiting-for-lease' | 'running' | 'rebuilding' | 'failed';

/** The last failure a runner met with a projection. */
export interface ProjectionLastError {
  /** The error (a {@link ProjectionError}; its `cause` holds the original). */
  readonly error: unknown;
  /** Its message. */
  readonly message: string;
  /** When it happened. */
  readonly at: Date;
}

/** Where a projection stands; see {@link ProjectionRunner.status}. */
export interface ProjectionStatus {
  /** The projection's name. */
  readonly projection: string;
  /** What this runner is doing with it. Runners in other processes are not seen here. */
  readonly state: ProjectionState;
  /** The stored checkpoint. */
  readonly checkpoint: LogPosition;
  /** The end of the log. */
  readonly head: LogPosition;
  /** How many events of the log come after the checkpoint. */
  readonly lagEvents: bigint;
  /**
   * How far behind the projection is in event time, in milliseconds: the head event's timestamp
   * minus that of the last processed event (before any, of the first unprocessed one). `0` when
   * caught up.
   */
  readonly lagMs: number;
  /** The timestamp of the last processed event; `undefined` before any. */
  readonly lastEventTimestamp: Date | undefined;
  /** When the checkpoint was last stored; `undefined` when it never was. */
  readonly checkpointUpdatedAt: Date | undefined;
  /** How many dead letters the projection has. */
  readonly deadLetters: number;
  /** The last failure this runner met with the projection since it last started it, if any. */
  readonly lastError: ProjectionLastError | undefined;
  /**
   * The readable end of the log, from an event store that tells it ({@link IEventStore.readHorizon}):
   * its scope and, when committed events wait behind an unfinished transaction
   * (`heldBackEvents > 0`), that transaction. `undefined` for a store that does not tell.
   */
  readonly horizon: LogHorizon | undefined;
}

/** Reads the stored part of a projection's status and adds what the runner knows. */
export async function readProjectionStatus(
  eventStore: IEventStore,
  projectionStore: ProjectionStore<unknown>,
  projection: string,
  live: Pick<ProjectionStatus, 'state' | 'lastError'>,
): Promise<ProjectionStatus> {
  const [checkpoint, head, deadLetters] = await Promise.all([
    projectionStore.loadCheckpoint(projection),
    eventStore.head(),
    projectionStore.countDeadLetters(projection),
  ]);
  const lagEvents = await eventStore.countAfter(checkpoint.position);
  const horizon = await eventStore.readHorizon?.();
  let lagMs = 0;
  if (lagEvents > 0n && head.timestamp) {
    const since =
      checkpoint.lastEventTimestamp ??
      (await eventStore.readAll({ after: checkpoint.position, limit: 1 })).events[0]?.timestamp;
    if (since) lagMs = Math.max(0, head.timestamp.getTime() - since.getTime());
  }
  return {
    projection,
    state: live.state,
    checkpoint: checkpoint.position,
    head: head.position,
    lagEvents,
    lagMs,
    lastEventTimestamp: checkpoint.lastEventTimestamp,
    checkpointUpdatedAt: checkpoint.updatedAt,
    deadLetters,
    lastError: live.lastError,
    horizon,
  };
}
