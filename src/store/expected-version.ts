import { ConcurrencyError, InvalidArgumentError } from '../errors.js';

/**
 * Expect that the stream does not exist yet (it has no events).
 *
 * @category Stores
 */
export const NO_STREAM = 'no_stream' as const;
/**
 * Expect that the stream exists (it has at least one event), whatever its version.
 *
 * @category Stores
 */
export const STREAM_EXISTS = 'stream_exists' as const;
/**
 * Append whatever the stream's state.
 *
 * @category Stores
 */
export const ANY = 'any' as const;

/**
 * The expected-version modes, as one object.
 *
 * @example
 * ```ts
 * await store.append('order-1', ExpectedVersion.NoStream, [created]);
 * await store.append('order-1', 1, [itemAdded]); // exact version
 * ```
 *
 * @category Stores
 */
export const ExpectedVersion = {
  /** See {@link NO_STREAM}. */
  NoStream: NO_STREAM,
  /** See {@link STREAM_EXISTS}. */
  StreamExists: STREAM_EXISTS,
  /** See {@link ANY}. */
  Any: ANY,
} as const;

/**
 * What an append expects of its stream: an exact version (the stream's current version,
 * `0` for a stream with no events), or one of {@link NO_STREAM}, {@link STREAM_EXISTS}, {@link ANY}.
 *
 * @category Stores
 */
export type ExpectedVersionMode = number | typeof NO_STREAM | typeof STREAM_EXISTS | typeof ANY;

/** Throws {@link InvalidArgumentError} unless `expected` is a valid {@link ExpectedVersionMode}. */
export function assertExpectedVersion(expected: unknown): asserts expected is ExpectedVersionMode {
  if (expected === NO_STREAM || expected === STREAM_EXISTS || expected === ANY) return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  throw new InvalidArgumentError(
    `expectedVersion must be a non-negative integer, "no_stream", "stream_exists" or "any"; got ${String(expected)}`,
  );
}

/** True when a stream at `actual` satisfies `expected`. */
export function satisfiesExpectedVersion(expected: ExpectedVersionMode, actual: number): boolean {
  switch (expected) {
    case ANY:
      return true;
    case NO_STREAM:
      return actual === 0;
    case STREAM_EXISTS:
      return actual > 0;
    default:
      return actual === expected;
  }
}

/** Throws {@link ConcurrencyError} unless a stream at `actual` satisfies `expected`. */
export function checkExpectedVersion(
  aggregateId: string,
  expected: ExpectedVersionMode,
  actual: number,
): void {
  if (!satisfiesExpectedVersion(expected, actual)) throw new ConcurrencyError(aggregateId, expected, actual);
}
