import { ErrorCode, InvalidArgumentError, isAnnalsError, UpcastError } from '../errors.js';
import type { EventRegistry, PayloadUpcaster, RawStoredEvent } from '../events/event-registry.js';

/**
 * One step of an event type's schema evolution: turns a payload stored at `fromSchemaVersion`
 * into the payload of `fromSchemaVersion + 1`.
 *
 * @typeParam TFrom - the payload at `fromSchemaVersion`, as stored.
 * @typeParam TTo - the payload at the next schema version.
 *
 * @category Evolution
 */
export interface Upcaster<TFrom = any, TTo = unknown> {
  /** The event type, such as `OrderCreated`. */
  readonly type: string;
  /** The schema version this step reads (1-based); it writes `fromSchemaVersion + 1`. */
  readonly fromSchemaVersion: number;
  /**
   * Returns the payload at the next schema version. It must be synchronous and pure: it runs on
   * every read of an older event and its result is never written back. It may change and return
   * `payload`, which is a fresh copy on every read.
   *
   * @param payload - the payload at `fromSchemaVersion` (the output of the previous step).
   * @param event - the stored event as read, with its original payload and stored schema version.
   */
  readonly upcast: (payload: TFrom, event: RawStoredEvent) => TTo;
}

/**
 * The upcasters of an application, keyed by event type and schema version. Each step takes one
 * type from version n to n + 1, and steps chain: an event stored at v1 is read through v1→v2, then
 * v2→v3, up to its definition's current version. Hand it to the {@link EventRegistry}, and every
 * read path of every store (aggregate loads, the global log, relays, consumers) upcasts through it;
 * after the last step the registry validates the payload against the current schema.
 *
 * Stored events are never rewritten, and new events are always written at the current version.
 *
 * @example
 * ```ts
 * const upcasters = new UpcasterRegistry().register({
 *   type: 'OrderCreated',
 *   fromSchemaVersion: 1,
 *   upcast: ({ totalAmount: _derived, ...rest }: { totalAmount: number }) => rest,
 * });
 * const registry = new EventRegistry([OrderCreated, OrderShipped], { upcasters });
 * ```
 *
 * @category Evolution
 */
export class UpcasterRegistry implements PayloadUpcaster {
  readonly #steps = new Map<string, Map<number, Upcaster>>();

  /** Creates a registry, optionally with its steps. */
  constructor(upcasters: Iterable<Upcaster> = []) {
    for (const upcaster of upcasters) this.register(upcaster);
  }

  /**
   * Adds a step. Throws {@link InvalidArgumentError} for a malformed step or a second step for the
   * same type and `fromSchemaVersion` (a chain must be unambiguous). Returns the registry, so calls
   * chain.
   */
  register<TFrom = any, TTo = unknown>(upcaster: Upcaster<TFrom, TTo>): this {
    if (typeof upcaster !== 'object' || upcaster === null) {
      throw new InvalidArgumentError('UpcasterRegistry.register: an upcaster must be an object');
    }
    const { type, fromSchemaVersion, upcast } = upcaster;
    if (typeof type !== 'string' || type.trim() === '') {
      throw new InvalidArgumentError('UpcasterRegistry.register: `type` must be a non-empty string');
    }
    if (!Number.isSafeInteger(fromSchemaVersion) || fromSchemaVersion < 1) {
      throw new InvalidArgumentError(
        `UpcasterRegistry.register("${type}"): fromSchemaVersion must be an integer >= 1, got ${String(fromSchemaVersion)}`,
      );
    }
    if (typeof upcast !== 'function') {
      throw new InvalidArgumentError(`UpcasterRegistry.register("${type}"): \`upcast\` must be a function`);
    }
    let steps = this.#steps.get(type);
    if (!steps) {
      steps = new Map();
      this.#steps.set(type, steps);
    }
    if (steps.has(fromSchemaVersion)) {
      throw new InvalidArgumentError(
        `UpcasterRegistry.register("${type}"): an upcaster from schema version ${fromSchemaVersion} to ${fromSchemaVersion + 1} is registered already`,
      );
    }
    steps.set(fromSchemaVersion, upcaster as Upcaster);
    return this;
  }

  /** True when a step from `fromSchemaVersion` of `type` is registered. */
  has(type: string, fromSchemaVersion: number): boolean {
    return this.#steps.get(type)?.has(fromSchemaVersion) ?? false;
  }

  /**
   * Brings a stored event's payload to `toSchemaVersion` by running each step in turn. Throws
   * {@link UpcastError} (naming the event id, the type, the stored and the target version) when
   * the event is newer than `toSchemaVersion`, when a step is missing, or when a step throws or
   * returns `undefined` or a promise.
   */
  upcast(event: RawStoredEvent, toSchemaVersion: number): unknown {
    const from = event.schemaVersion;
    const fail = (message: string, cause?: unknown): UpcastError =>
      new UpcastError(event.eventId, event.type, from, toSchemaVersion, message, { cause });
    if (!Number.isSafeInteger(from) || from < 1)
      throw fail('the stored schema version is not an integer >= 1');
    if (from > toSchemaVersion) {
      throw fail('the stored event is newer than this code knows; deploy the newer definition');
    }
    const steps = this.#steps.get(event.type);
    let payload = event.payload;
    for (let version = from; version < toSchemaVersion; version++) {
      const step = steps?.get(version);
      if (!step) throw fail(`no upcaster is registered from schema version ${version} to ${version + 1}`);
      try {
        payload = step.upcast(payload, event);
      } catch (error) {
        if (isAnnalsError(error, ErrorCode.Upcast)) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw fail(`the upcaster from schema version ${version} to ${version + 1} threw: ${reason}`, error);
      }
      if (payload === undefined) {
        throw fail(`the upcaster from schema version ${version} to ${version + 1} returned undefined`);
      }
      if (typeof (payload as { then?: unknown })?.then === 'function') {
        throw fail(
          `the upcaster from schema version ${version} to ${version + 1} returned a promise; upcasters must be synchronous`,
        );
      }
    }
    return payload;
  }

  /**
   * Checks the registered steps against the event definitions, for a start-up check or a test:
   * throws {@link InvalidArgumentError} listing every step for a type the registry does not know,
   * every step at or beyond a type's current schema version (it would never run: did the
   * definition's `schemaVersion` stay behind?), and every gap in a chain between a type's lowest
   * registered step and its current version.
   */
  verify(registry: EventRegistry): void {
    const problems: string[] = [];
    for (const [type, steps] of this.#steps) {
      const definition = registry.get(type);
      if (!definition) {
        problems.push(`"${type}" has upcasters but is not in the event registry`);
        continue;
      }
      const versions = [...steps.keys()].sort((a, b) => a - b);
      for (const version of versions) {
        if (version >= definition.schemaVersion) {
          problems.push(
            `"${type}": the upcaster from schema version ${version} never runs, the current version is ${definition.schemaVersion}`,
          );
        }
      }
      for (
        let version = versions[0] ?? definition.schemaVersion;
        version < definition.schemaVersion;
        version++
      ) {
        if (!steps.has(version)) {
          problems.push(`"${type}": no upcaster from schema version ${version} to ${version + 1}`);
        }
      }
    }
    if (problems.length > 0) {
      throw new InvalidArgumentError(`UpcasterRegistry.verify: ${problems.join('; ')}`);
    }
  }
}
