import type { AggregateRoot } from '../aggregates/aggregate-root.js';
import { CorruptDataError } from '../errors.js';
import { type AnnalsLogger, safeLog } from '../observability/logger.js';
import type { IEventStore } from '../store/event-store.js';
import { isSnapshotAggregate } from './snapshot-aggregate-root.js';
import type { SnapshotPolicy } from './snapshot-policy.js';
import type { Snapshot, SnapshotStore } from './snapshot-store.js';

/**
 * Something the repository noticed that does not fail the call (a snapshot ignored or not saved).
 *
 * @category Snapshots
 */
export interface RepositoryWarning {
  /**
   * What happened:
   * - `snapshot_load_failed`: the snapshot store failed to load; the aggregate was replayed.
   * - `snapshot_corrupt`: the snapshot could not be restored (restore threw, state failed its
   *   schema, it belongs to another aggregate, or it is ahead of the stream); the aggregate was
   *   replayed from its events.
   * - `snapshot_save_failed`: taking or saving a snapshot failed; the command succeeded.
   */
  readonly code: 'snapshot_load_failed' | 'snapshot_corrupt' | 'snapshot_save_failed';
  /** The aggregate concerned. */
  readonly aggregateId: string;
  /** A sentence for logs. */
  readonly message: string;
  /** The underlying error, when there is one. */
  readonly error?: unknown;
}

/**
 * Receives {@link RepositoryWarning}s.
 *
 * @category Snapshots
 */
export type RepositoryWarningHandler = (warning: RepositoryWarning) => void;

/**
 * The default {@link RepositoryWarningHandler}: a warning of `logger` with `aggregateId`, the
 * warning's `code` and the error under `err`.
 *
 * @internal
 */
export function loggerWarning(logger: AnnalsLogger): RepositoryWarningHandler {
  return (warning) =>
    safeLog(
      logger,
      'warn',
      {
        aggregateId: warning.aggregateId,
        code: warning.code,
        ...(warning.error === undefined ? {} : { err: warning.error }),
      },
      warning.message,
    );
}

/** Options of {@link SnapshotKeeper}. */
export interface SnapshotKeeperOptions<TAggregate> {
  readonly events: IEventStore;
  readonly snapshots: SnapshotStore;
  readonly policy: SnapshotPolicy;
  readonly create: (id: string) => TAggregate;
  readonly warn: RepositoryWarningHandler;
}

/**
 * The repository's snapshot logic: loads an aggregate from its latest usable snapshot plus the
 * events after it (falling back to a full replay, never to wrong state), and takes snapshots
 * after saves as the policy says (never failing the save).
 */
export class SnapshotKeeper<TAggregate extends AggregateRoot<any>> {
  readonly #options: SnapshotKeeperOptions<TAggregate>;
  /** The snapshot version each live aggregate was loaded from or last snapshotted at. */
  readonly #snapshotVersions = new WeakMap<object, number>();

  constructor(options: SnapshotKeeperOptions<TAggregate>) {
    this.#options = options;
  }

  /** Loads an aggregate, from its snapshot when it has a usable one. */
  async load(id: string): Promise<TAggregate> {
    const aggregate = this.#options.create(id);
    if (!isSnapshotAggregate(aggregate)) return this.#replay(aggregate);
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await this.#options.snapshots.load(id);
    } catch (error) {
      this.#warn('snapshot_load_failed', id, 'loading the snapshot failed; replaying all events', error);
      return this.#replay(aggregate);
    }
    // No snapshot, or one of another state shape (after a deploy): replay, quietly.
    if (!snapshot || snapshot.schemaVersion !== aggregate.snapshotSchemaVersion)
      return this.#replay(aggregate);
    try {
      if (snapshot.aggregateId !== id) {
        throw new CorruptDataError(`the snapshot store returned the snapshot of "${snapshot.aggregateId}"`);
      }
      aggregate.restoreFromSnapshot(snapshot);
    } catch (error) {
      return this.#fallBack(id, snapshot, error);
    }
    const events = await this.#options.events.load(id, { fromVersion: snapshot.version + 1 });
    if (events.length === 0) {
      // Nothing after the snapshot: make sure the stream really ends there (a snapshot ahead of
      // its stream, after a restore of the events only, would otherwise give a state from nowhere).
      const streamVersion = await this.#options.events.streamVersion(id);
      if (streamVersion !== snapshot.version) {
        return this.#fallBack(
          id,
          snapshot,
          new CorruptDataError(
            `the snapshot is at version ${snapshot.version}, the stream at ${streamVersion}`,
          ),
        );
      }
    }
    try {
      aggregate.loadFromHistory(events);
    } catch (error) {
      return this.#fallBack(id, snapshot, error);
    }
    this.#snapshotVersions.set(aggregate, snapshot.version);
    return aggregate;
  }

  /** After a successful save: takes and stores a snapshot when the policy says so. Never throws. */
  async afterSave(aggregate: TAggregate, eventsAppended: number): Promise<void> {
    if (eventsAppended === 0 || !isSnapshotAggregate(aggregate)) return;
    try {
      const due = this.#options.policy({
        aggregateId: aggregate.id,
        aggregateType: aggregate.aggregateType,
        version: aggregate.persistedVersion,
        lastSnapshotVersion: this.#snapshotVersions.get(aggregate) ?? 0,
        eventsAppended,
      });
      if (!due) return;
      const snapshot = aggregate.takeSnapshot();
      await this.#options.snapshots.save(snapshot);
      this.#snapshotVersions.set(aggregate, snapshot.version);
    } catch (error) {
      this.#warn(
        'snapshot_save_failed',
        aggregate.id,
        `taking a snapshot of ${aggregate.aggregateType} "${aggregate.id}" at version ${aggregate.persistedVersion} failed; the command succeeded`,
        error,
      );
    }
  }

  async #replay(aggregate: TAggregate): Promise<TAggregate> {
    return aggregate.loadFromHistory(await this.#options.events.load(aggregate.id));
  }

  #fallBack(id: string, snapshot: Snapshot, error: unknown): Promise<TAggregate> {
    const reason = error instanceof Error ? error.message : String(error);
    this.#warn(
      'snapshot_corrupt',
      id,
      `ignoring the snapshot of "${id}" at version ${snapshot.version} (${reason}); replaying all events`,
      error,
    );
    return this.#replay(this.#options.create(id));
  }

  #warn(code: RepositoryWarning['code'], aggregateId: string, message: string, error?: unknown): void {
    try {
      this.#options.warn({ code, aggregateId, message, error });
    } catch {
      // A failing warning handler must not fail a load or a save.
    }
  }
}
