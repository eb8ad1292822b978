import { AggregateRoot } from '../aggregates/aggregate-root.js';
import { CorruptDataError, InvalidArgumentError } from '../errors.js';
import type { DomainEvent } from '../events/event-envelope.js';
import type { StandardSchemaV1 } from '../events/standard-schema.js';
import type { Snapshot } from './snapshot-store.js';

/**
 * The base class of aggregates that can be snapshotted: an {@link AggregateRoot} that turns its
 * state into JSON ({@link SnapshotAggregateRoot.toSnapshot}) and back
 * ({@link SnapshotAggregateRoot.fromSnapshot}). A repository with a snapshot store then loads it
 * from its latest snapshot plus the events after it.
 *
 * Raise {@link SnapshotAggregateRoot.snapshotSchemaVersion} whenever the state's shape or meaning
 * changes: snapshots of another version are ignored and the aggregate is replayed from its events.
 * Give a {@link SnapshotAggregateRoot.snapshotSchema} to have states checked on save and restore.
 *
 * @typeParam TEvent - the union of the aggregate's event types.
 * @typeParam TState - the snapshot state (JSON values only).
 *
 * @example
 * ```ts
 * class Counter extends SnapshotAggregateRoot<CounterEvent, { count: number }> {
 *   readonly aggregateType = 'Counter';
 *   readonly snapshotSchemaVersion = 1;
 *   count = 0;
 *   protected readonly handlers = { Incremented: (event) => { this.count += event.payload.by; } };
 *   protected toSnapshot() { return { count: this.count }; }
 *   protected fromSnapshot(state: { count: number }) { this.count = state.count; }
 * }
 * ```
 *
 * @category Snapshots
 */
export abstract class SnapshotAggregateRoot<
  TEvent extends DomainEvent = DomainEvent,
  TState = unknown,
> extends AggregateRoot<TEvent> {
  /** The version of the snapshot state's shape (integer >= 1). */
  abstract readonly snapshotSchemaVersion: number;
  /**
   * Checks a state before it is saved and before it is restored; a restore of a state that fails
   * it falls back to a full replay. Any synchronous Standard Schema (zod 3.24+ or 4, valibot,
   * ArkType).
   * @defaultValue none: states are not checked
   */
  protected readonly snapshotSchema?: StandardSchemaV1<unknown, TState>;

  /** Returns the aggregate's state as JSON values. It must not return objects the aggregate keeps changing. */
  protected abstract toSnapshot(): TState;
  /** Sets the state of a fresh aggregate from a snapshot's state. */
  protected abstract fromSnapshot(state: TState): void;

  /**
   * A snapshot of the aggregate at its persisted version. Throws {@link InvalidArgumentError}
   * while it has uncommitted events, when it has no events, or when the state fails
   * {@link SnapshotAggregateRoot.snapshotSchema}.
   */
  takeSnapshot(createdAt: Date = new Date()): Snapshot<TState> {
    if (this.uncommittedEvents.length > 0) {
      throw new InvalidArgumentError(
        `${this.aggregateType} "${this.id}": cannot snapshot uncommitted events`,
      );
    }
    if (this.persistedVersion < 1) {
      throw new InvalidArgumentError(
        `${this.aggregateType} "${this.id}": cannot snapshot an aggregate without events`,
      );
    }
    return {
      aggregateId: this.id,
      aggregateType: this.aggregateType,
      version: this.persistedVersion,
      schemaVersion: this.#schemaVersion(),
      state: this.#checked(this.toSnapshot(), this.persistedVersion, 'take'),
      createdAt,
    };
  }

  /**
   * Restores a fresh aggregate from a snapshot's version and state. Throws
   * {@link InvalidArgumentError} when the aggregate is not fresh or the version is invalid, and
   * {@link CorruptDataError} when the state fails {@link SnapshotAggregateRoot.snapshotSchema};
   * anything `fromSnapshot` throws passes through. After a failure, discard the aggregate.
   */
  restoreFromSnapshot(snapshot: Pick<Snapshot, 'version' | 'state'>): this {
    if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1) {
      throw new InvalidArgumentError(
        `${this.aggregateType} "${this.id}": snapshot version must be an integer >= 1, got ${String(snapshot.version)}`,
      );
    }
    const state = this.#checked(snapshot.state, snapshot.version, 'restore');
    this.restoreVersion(snapshot.version);
    this.fromSnapshot(state);
    return this;
  }

  #schemaVersion(): number {
    const version = this.snapshotSchemaVersion;
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new InvalidArgumentError(`${this.aggregateType}: snapshotSchemaVersion must be an integer >= 1`);
    }
    return version;
  }

  #checked(state: unknown, version: number, when: 'take' | 'restore'): TState {
    if (!this.snapshotSchema) return state as TState;
    const result = this.snapshotSchema['~standard'].validate(state);
    if (typeof (result as Partial<PromiseLike<unknown>>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, () => {});
      throw new InvalidArgumentError(
        `${this.aggregateType}: its snapshotSchema validated asynchronously; snapshot schemas must be synchronous`,
      );
    }
    const { issues } = result as StandardSchemaV1.Result<TState>;
    if (issues === undefined) return (result as StandardSchemaV1.SuccessResult<TState>).value;
    const summary = issues
      .slice(0, 5)
      .map((issue) => {
        const path = (issue.path ?? []).map((segment) =>
          String(typeof segment === 'object' && segment !== null ? segment.key : segment),
        );
        return `${path.length ? path.join('.') : '(root)'}: ${issue.message}`;
      })
      .join('; ');
    const message = `${this.aggregateType} "${this.id}": snapshot state at version ${version} fails its schema: ${summary}`;
    // A stored state that fails is corrupt data; a live state that fails is the code's mistake.
    throw when === 'restore' ? new CorruptDataError(message) : new InvalidArgumentError(message);
  }
}

/** True for an aggregate that can be snapshotted (checked by shape, so it works across copies of annals). */
export function isSnapshotAggregate(
  aggregate: unknown,
): aggregate is SnapshotAggregateRoot<DomainEvent, unknown> {
  const candidate = aggregate as Partial<SnapshotAggregateRoot> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.takeSnapshot === 'function' &&
    typeof candidate.restoreFromSnapshot === 'function' &&
    typeof candidate.snapshotSchemaVersion === 'number'
  );
}
