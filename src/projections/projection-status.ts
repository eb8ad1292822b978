import { formatLogPosition, type LogPosition } from '../events/event-envelope.js';
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
 *
 * @category Projections
 */
export type ProjectionState = 'stopped' | 'waiting-for-lease' | 'running' | 'rebuilding' | 'failed';

/**
 * The last failure a runner met with a projection.
 *
 * @category Projections
 */
export interface ProjectionLastError {
  /** The error (a {@link ProjectionError}; its `cause` holds the original). */
  readonly error: unknown;
  /** Its message. */
  readonly message: string;
  /** When it happened. */
  readonly at: Date;
  /** The event it happened on, when it was one event's (a handler's failure, an unreadable event). */
  readonly eventId?: string;
  /** That event's position in the global log. */
  readonly position?: LogPosition;
}

/**
 * The event a projection cannot get past: the first one after its checkpoint, of a type it
 * handles, which the registry cannot read. Computed from the stores, so any process sees it.
 *
 * @inline
 */
export interface ProjectionBlocker {
  /** The event's id. */
  readonly eventId: string;
  /** Its type. */
  readonly eventType: string;
  /** Its stored schema version. */
  readonly schemaVersion: number;
  /** Its position in the global log. */
  readonly position: LogPosition;
  /** Why it cannot be read (the decode error's message). */
  readonly reason: string;
}

/**
 * Where a projection stands; see {@link ProjectionRunner.status}.
 *
 * @category Projections
 */
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
   * Set when the next event after the checkpoint is of a type the projection handles and cannot
   * be read (under `onUndecodable: 'stop'` the projection waits there for a deploy that can).
   * Only checked when the status knows the projection's types (a runner's `status()`, the CLI).
   */
  readonly blockedBy: ProjectionBlocker | undefined;
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
  live: Pick<ProjectionStatus, 'state' | 'lastError'> & {
    /** Whether the projection handles a type; without it `blockedBy` is not computed. */
    readonly handles?: (type: string) => boolean;
  },
): Promise<ProjectionStatus> {
  // One after the other: the first read tells whether the schema exists at all, so a store that
  // was never migrated fails the same way every time.
  const checkpoint = await projectionStore.loadCheckpoint(projection);
  const head = await eventStore.head();
  const deadLetters = await projectionStore.countDeadLetters(projection);
  const lagEvents = await eventStore.countAfter(checkpoint.position);
  const horizon = await eventStore.readHorizon?.();
  let lagMs = 0;
  let blockedBy: ProjectionBlocker | undefined;
  if (lagEvents > 0n) {
    const next = await eventStore.readAll({ after: checkpoint.position, limit: 1, onUndecodable: 'report' });
    const unreadable = next.undecodable?.[0];
    const since = checkpoint.lastEventTimestamp ?? next.events[0]?.timestamp ?? unreadable?.raw.timestamp;
    if (since && head.timestamp) lagMs = Math.max(0, head.timestamp.getTime() - since.getTime());
    if (unreadable && live.handles?.(unreadable.raw.type)) {
      blockedBy = {
        eventId: unreadable.raw.eventId,
        eventType: unreadable.raw.type,
        schemaVersion: unreadable.raw.schemaVersion,
        position: unreadable.position,
        reason: unreadable.error.message,
      };
    }
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
    blockedBy,
    horizon,
  };
}

/** One line that says why a projection cannot get past an event. */
export function describeBlocker(blocker: ProjectionBlocker): string {
  return `blocked at ${blocker.eventType} event ${blocker.eventId} (schema version ${blocker.schemaVersion}, position ${formatLogPosition(blocker.position)}): ${blocker.reason}`;
}
