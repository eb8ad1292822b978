import { InvalidArgumentError, type LogPosition } from '../../core.js';

/**
 * Checks a {@link LogPosition} before it is sent as query parameters: bigints, not negative,
 * `transactionId` within xid8 and `globalPosition` within bigint. Throws
 * {@link InvalidArgumentError} naming `what` otherwise. Shared by the PostgreSQL modules that
 * take positions (log reads, checkpoints).
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
    candidate.transactionId >= 2n ** 64n ||
    candidate.globalPosition >= 2n ** 63n
  ) {
    throw new InvalidArgumentError(`${what} must be { transactionId, globalPosition } of bigints >= 0`);
  }
}
