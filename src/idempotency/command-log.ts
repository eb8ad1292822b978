import { InvalidArgumentError } from '../errors.js';
import type { IEventStore } from '../store/event-store.js';

/**
 * What a command's unit of work may write through: an event store's `append`, bound to the unit
 * of work. In PostgreSQL it is the transaction that also writes the processed-command record, so
 * the events and the record commit together or not at all.
 *
 * @category Idempotency
 */
export type EventAppender = Pick<IEventStore, 'append'>;

/**
 * The record of a processed command.
 *
 * @category Idempotency
 */
export interface ProcessedCommand {
  /** The command's id. */
  readonly commandId: string;
  /** What the command's work returned, as JSON (a copy: Dates became strings). */
  readonly result: unknown;
  /** When the command was processed. */
  readonly processedAt: Date;
  /** When the record expires: from then on the id counts as new and the record may be purged. */
  readonly expiresAt: Date;
}

/**
 * What a `runOnce` of an idempotency store did: {@link CommandLog.runOnce} and
 * {@link ProcessedEventStore.runOnce} answer in this one shape.
 *
 * @typeParam T - what the work returns.
 * @typeParam TRecord - the store's record: {@link ProcessedCommand} or {@link ProcessedEvent}.
 * @typeParam TDuplicateResult - the `result` of a duplicate: the recorded result's JSON copy for a
 *   command (typed as `T`), `undefined` for a processed event (no result is stored).
 *
 * @category Idempotency
 */
export type RunOnceResult<T, TRecord = ProcessedCommand, TDuplicateResult = T> =
  | {
      /** This call ran the work and recorded it. */
      readonly duplicate: false;
      /** What the work returned, as it returned it. */
      readonly result: T;
      /** The record this call wrote. */
      readonly record: TRecord;
    }
  | {
      /** The work had been recorded already: this call ran nothing. */
      readonly duplicate: true;
      /**
       * What the store recorded of the first run's result: its JSON copy for a command (see
       * {@link ProcessedCommand.result}); `undefined` for a processed event.
       */
      readonly result: TDuplicateResult;
      /** The record of the first run. */
      readonly record: TRecord;
    };

/**
 * Command de-duplication: a command id is processed at most once while its record lives.
 *
 * The contract every implementation keeps (the in-memory one and the PostgreSQL one):
 * - {@link CommandLog.runOnce} runs `work` in a unit of work and writes the record in the same
 *   unit: after a commit both the work's appends and the record exist; after a failure neither.
 *   A `work` that throws records nothing, so the command can be retried.
 * - Concurrent calls with one id: exactly one runs `work`. The others wait until it settles and
 *   then return its result with `duplicate: true`; if it failed, the next one runs `work` itself.
 *   An implementation that cannot wait may instead throw {@link CommandInProgressError}.
 * - A record past its `expiresAt` counts as absent: the id runs again.
 * - The result must be JSON-serialisable; duplicates receive its JSON copy.
 *
 * Keep `work` short: in PostgreSQL it runs inside an open transaction, and a concurrent duplicate
 * waits for it. {@link AggregateRepository} loads the aggregate before `runOnce` (after a
 * {@link CommandLog.find} check), and runs the command and appends inside it, so a duplicate never
 * runs the command while the first run is in flight.
 *
 * @typeParam TUnit - what `work` receives: at least an {@link EventAppender} bound to the unit of
 *   work (the PostgreSQL log passes its transaction, which also exposes the client).
 *
 * @example
 * ```ts
 * import {
 *   type CommandLog,
 *   defineEvent,
 *   EventRegistry,
 *   InMemoryCommandLog,
 *   InMemoryEventStore,
 *   NO_STREAM,
 * } from 'annals';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'OrderPlaced', schema: z.object({ total: z.number() }) });
 * const store = new InMemoryEventStore({ registry: new EventRegistry([OrderPlaced]) });
 * const commands: CommandLog = new InMemoryCommandLog({ store });
 *
 * // The same command id twice (a client retry): the work runs once; the retry gets its result.
 * const placeOrder = () =>
 *   commands.runOnce('cmd-42', async (unit) => {
 *     const { nextExpectedVersion } = await unit.append('order-1', NO_STREAM, [
 *       { type: 'OrderPlaced', aggregateType: 'Order', payload: { total: 42 } },
 *     ]);
 *     return { version: nextExpectedVersion };
 *   });
 * const first = await placeOrder(); // { duplicate: false, result: { version: 1 }, ... }
 * const retry = await placeOrder(); // { duplicate: true, result: { version: 1 }, ... }
 * ```
 *
 * @category Idempotency
 */
export interface CommandLog<TUnit extends EventAppender = EventAppender> {
  /**
   * Runs `work` unless the command was processed already, and records its result atomically with
   * what `work` appended. Throws what `work` throws (recording nothing), {@link InvalidArgumentError}
   * for an unusable id or a result that is not JSON.
   */
  runOnce<T>(
    commandId: string,
    work: (unit: TUnit) => Promise<T>,
  ): Promise<RunOnceResult<T, ProcessedCommand>>;

  /** The live (unexpired) record of a command, or `undefined`. */
  find(commandId: string): Promise<ProcessedCommand | undefined>;

  /**
   * Deletes the records whose expiry has passed and returns how many. Schedule it (for example
   * hourly); until a record is purged it only takes space, since expired records count as absent.
   */
  purgeExpired(): Promise<number>;
}

/**
 * Options every {@link CommandLog} implementation takes.
 *
 * @category Idempotency
 */
export interface CommandLogOptions {
  /**
   * How long a processed-command record lives: a repeat of the command within this time returns
   * the first result; after it the command id counts as new.
   * @defaultValue 72
   */
  readonly ttlHours?: number;
  /**
   * The clock records are stamped and expired with (for tests).
   * @defaultValue `() => new Date()`
   */
  readonly clock?: () => Date;
}

/** The default lifetime of a processed-command record, in hours. */
export const DEFAULT_COMMAND_TTL_HOURS = 72;

/** Validates `ttlHours` (a positive, finite number of hours) and returns it in milliseconds. */
export function resolveCommandTtlMs(ttlHours: number | undefined): number {
  const hours = ttlHours ?? DEFAULT_COMMAND_TTL_HOURS;
  if (typeof hours !== 'number' || !Number.isFinite(hours) || hours <= 0) {
    throw new InvalidArgumentError(`ttlHours must be a positive number of hours; got ${String(hours)}`);
  }
  return hours * 3_600_000;
}

/**
 * Serialises a command's result to JSON text, or throws {@link InvalidArgumentError} naming the
 * command. `undefined` becomes `null`.
 */
export function commandResultJson(commandId: string, result: unknown): string {
  try {
    return JSON.stringify(result) ?? 'null';
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(
      `command "${commandId}": its result must be JSON-serialisable to be recorded (${reason})`,
    );
  }
}
