import { InvalidArgumentError } from '../errors.js';
import { assertStorableText } from '../events/event-registry.js';
import type { LoadOptions } from './event-store.js';

/** The default page size of {@link IEventStore.readAll}. */
export const DEFAULT_READ_LIMIT = 100;
/**
 * The largest page {@link IEventStore.readAll} returns: a larger `limit` is an {@link InvalidArgumentError}.
 *
 * @category Stores
 */
export const MAX_READ_LIMIT = 10_000;

/** Validates `limit` of a log read; shared by the adapters so they reject the same input. */
export function normaliseLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_READ_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_READ_LIMIT) {
    throw new InvalidArgumentError(
      `limit must be an integer from 1 to ${MAX_READ_LIMIT}; got ${String(limit)}`,
    );
  }
  return limit;
}

/** Validates a load range; shared by the adapters. `toVersion` is `Number.MAX_SAFE_INTEGER` when open. */
export function normaliseLoadRange(options: LoadOptions): { fromVersion: number; toVersion: number } {
  const fromVersion = options.fromVersion ?? 1;
  const toVersion = options.toVersion ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(fromVersion) || fromVersion < 1) {
    throw new InvalidArgumentError(`fromVersion must be an integer >= 1; got ${String(fromVersion)}`);
  }
  if (!Number.isSafeInteger(toVersion) || toVersion < 0) {
    throw new InvalidArgumentError(`toVersion must be an integer >= 0; got ${String(toVersion)}`);
  }
  return { fromVersion, toVersion };
}

/**
 * Validates `types` of a log read; shared by the adapters. Returns the distinct types, or
 * `undefined` for no filter (every type).
 */
export function normaliseTypes(types: readonly string[] | undefined): string[] | undefined {
  if (types === undefined) return undefined;
  if (!Array.isArray(types)) throw new InvalidArgumentError('types must be an array of event types');
  for (const type of types) {
    if (typeof type !== 'string' || type === '') {
      throw new InvalidArgumentError(`types must hold non-empty strings; got ${String(type)}`);
    }
    assertStorableText('an event type in types', type);
  }
  return [...new Set(types)];
}
