import { InvalidArgumentError } from '../errors.js';
import type { LogPosition } from '../events/event-envelope.js';

/** The largest `transactionId` a position may hold (PostgreSQL's xid8 is unsigned 64-bit). */
const MAX_TRANSACTION_ID = 2n ** 64n - 1n;
/** The largest `globalPosition` a position may hold (PostgreSQL's bigint). */
const MAX_GLOBAL_POSITION = 2n ** 63n - 1n;

/**
 * Checks a {@link LogPosition} given by a caller (`readAll`'s `after`, `countAfter`, checkpoints):
 * an object with bigints `transactionId` (0 to 2^64 - 1) and `globalPosition` (0 to 2^63 - 1).
 * Throws {@link InvalidArgumentError} naming `what` otherwise, so a malformed position (a number,
 * a string, a negative bigint, half an object) never reads the log from its start. Every store
 * calls it, so they accept and reject the same positions.
 *
 * @internal
 */
export function assertLogPosition(
  position: unknown,
  what = 'a log position',
): asserts position is LogPosition {
  const candidate = position as Partial<LogPosition> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.transactionId !== 'bigint' ||
    typeof candidate.globalPosition !== 'bigint' ||
    candidate.transactionId < 0n ||
    candidate.globalPosition < 0n ||
    candidate.transactionId > MAX_TRANSACTION_ID ||
    candidate.globalPosition > MAX_GLOBAL_POSITION
  ) {
    throw new InvalidArgumentError(
      `${what} must be { transactionId, globalPosition } of bigints >= 0 (within 64 and 63 bits)`,
    );
  }
}
