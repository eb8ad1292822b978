import { InvalidArgumentError } from '../errors.js';
import { assertValidId } from '../events/event-registry.js';
import type { Snapshot, SnapshotStore } from './snapshot-store.js';

interface StoredSnapshot {
  readonly aggregateType: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly stateJson: string;
  readonly createdAt: Date;
}

/**
 * A {@link SnapshotStore} in process memory. It keeps each state as JSON text, as a database
 * does, so a loaded snapshot never shares objects with the aggregate that was saved.
 *
 * @example
 * ```ts
 * const orders = new AggregateRepository(store, {
 *   create: (id) => new OrderAggregate(id),
 *   snapshots: { store: new InMemorySnapshotStore(), policy: everyNEvents(100) },
 * });
 * ```
 *
 * @category Snapshots
 */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, StoredSnapshot>();

  async load(aggregateId: string): Promise<Snapshot | undefined> {
    assertValidId('aggregateId', aggregateId);
    const stored = this.#snapshots.get(aggregateId);
    if (!stored) return undefined;
    return {
      aggregateId,
      aggregateType: stored.aggregateType,
      version: stored.version,
      schemaVersion: stored.schemaVersion,
      state: JSON.parse(stored.stateJson),
      createdAt: new Date(stored.createdAt.getTime()),
    };
  }

  async save(snapshot: Snapshot): Promise<void> {
    assertValidSnapshot(snapshot);
    const stateJson = snapshotStateJson(snapshot);
    this.#snapshots.set(snapshot.aggregateId, {
      aggregateType: snapshot.aggregateType,
      version: snapshot.version,
      schemaVersion: snapshot.schemaVersion,
      stateJson,
      createdAt: new Date(snapshot.createdAt.getTime()),
    });
  }

  async delete(aggregateId: string): Promise<void> {
    assertValidId('aggregateId', aggregateId);
    this.#snapshots.delete(aggregateId);
  }

  /** How many snapshots are held (for tests and metrics). */
  get size(): number {
    return this.#snapshots.size;
  }
}

/** Throws {@link InvalidArgumentError} unless `snapshot` is well-formed (state aside); for adapters. */
export function assertValidSnapshot(snapshot: Snapshot): void {
  if (typeof snapshot !== 'object' || snapshot === null) {
    throw new InvalidArgumentError('a snapshot must be an object');
  }
  assertValidId('aggregateId', snapshot.aggregateId);
  if (typeof snapshot.aggregateType !== 'string' || snapshot.aggregateType === '') {
    throw new InvalidArgumentError(
      `snapshot of "${snapshot.aggregateId}": aggregateType must be a non-empty string`,
    );
  }
  if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1) {
    throw new InvalidArgumentError(`snapshot of "${snapshot.aggregateId}": version must be an integer >= 1`);
  }
  if (!Number.isSafeInteger(snapshot.schemaVersion) || snapshot.schemaVersion < 1) {
    throw new InvalidArgumentError(
      `snapshot of "${snapshot.aggregateId}": schemaVersion must be an integer >= 1`,
    );
  }
  if (!(snapshot.createdAt instanceof Date) || Number.isNaN(snapshot.createdAt.getTime())) {
    throw new InvalidArgumentError(`snapshot of "${snapshot.aggregateId}": createdAt must be a valid Date`);
  }
}

/**
 * Serialises a snapshot's state to JSON text, or throws {@link InvalidArgumentError} naming the
 * aggregate when it is not JSON (a BigInt, a cycle, `undefined`); for adapters.
 */
export function snapshotStateJson(snapshot: Snapshot): string {
  let stateJson: string | undefined;
  try {
    stateJson = JSON.stringify(snapshot.state);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(
      `snapshot of "${snapshot.aggregateId}": the state is not JSON (${reason})`,
    );
  }
  if (stateJson === undefined) {
    throw new InvalidArgumentError(`snapshot of "${snapshot.aggregateId}": the state is not a JSON value`);
  }
  return stateJson;
}
