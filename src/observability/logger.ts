import { InvalidArgumentError } from '../errors.js';

/**
 * The logger annals writes to: levels and structured fields, shaped like pino's
 * (`logger.warn(fields, message)`), so a pino or bunyan logger is one as it is.
 *
 * @module
 */

/**
 * The fields of a log record: ids (`correlationId`, `eventId`, `projection`, ...) and `err`.
 *
 * @category Observability
 */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * What annals logs to. pino and bunyan loggers satisfy it as they are (`logger.info(fields,
 * message)`); for `console` use {@link consoleLogger}, for winston {@link winstonLogger}.
 *
 * annals logs warnings (a dead letter, a lost lease, a store failure it retries, a LISTEN
 * connection that keeps failing) and errors (a projection or relay that stopped), each with the
 * ids that matter: `correlationId`, `causationId`, `eventId`, `eventType`, `aggregateId`,
 * `projection`, `position` (as `txid:position`), `attempt`, and the error under `err`.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { setDefaultLogger } from 'annals';
 *
 * setDefaultLogger(pino({ name: 'orders' })); // every component created afterwards logs to it
 * ```
 *
 * @category Observability
 */
export interface AnnalsLogger {
  /** Detail for debugging (annals logs nothing at this level on a hot path). */
  debug(fields: LogFields, message: string): void;
  /** Events of note: a projection started, a lease taken over. */
  info(fields: LogFields, message: string): void;
  /** Something went wrong and annals recovers or parks it: retries, dead letters, a lost lease. */
  warn(fields: LogFields, message: string): void;
  /** Something stopped: a projection at an event it cannot apply, a relay that gave up. */
  error(fields: LogFields, message: string): void;
}

/**
 * The levels of {@link AnnalsLogger}, and `silent`.
 *
 * @category Observability
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * The part of `console` that {@link consoleLogger} writes to.
 *
 * @category Observability
 */
export interface ConsoleLike {
  /** Writes a `debug` record. */
  debug(...data: unknown[]): void;
  /** Writes an `info` record. */
  info(...data: unknown[]): void;
  /** Writes a `warn` record. */
  warn(...data: unknown[]): void;
  /** Writes an `error` record. */
  error(...data: unknown[]): void;
}

/**
 * Options of {@link consoleLogger}.
 *
 * @category Observability
 */
export interface ConsoleLoggerOptions {
  /**
   * The lowest level written.
   * @defaultValue `'warn'`
   */
  readonly level?: LogLevel;
  /**
   * Where to write.
   * @defaultValue the global `console`
   */
  readonly console?: ConsoleLike;
}

/**
 * A logger on `console`: one line per record, `annals: <message>` followed by the fields as
 * JSON (the error's message and stack under `err`).
 *
 * @example
 * ```ts
 * const logger = consoleLogger({ level: 'info' });
 * ```
 *
 * @category Observability
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): AnnalsLogger {
  const threshold = RANK[options.level ?? 'warn'];
  if (threshold === undefined) {
    throw new InvalidArgumentError(
      `consoleLogger: level must be one of ${Object.keys(RANK).join(', ')}; got ${String(options.level)}`,
    );
  }
  const out = options.console ?? console;
  const write =
    (level: Exclude<LogLevel, 'silent'>) =>
    (fields: LogFields, message: string): void => {
      if (RANK[level] < threshold) return;
      const json = stringifyFields(fields);
      out[level](json === '{}' ? `annals: ${message}` : `annals: ${message} ${json}`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * A logger that drops every record: silence as an explicit choice.
 *
 * @category Observability
 */
export const silentLogger: AnnalsLogger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

/**
 * The part of a winston logger that {@link winstonLogger} uses.
 *
 * @category Observability
 */
export interface WinstonLike {
  /** Writes one record at `level` (`'debug'`, `'info'`, `'warn'` or `'error'`), with the fields as `meta`. */
  log(level: string, message: string, meta: Record<string, unknown>): unknown;
}

/**
 * Adapts a winston logger (its `log(level, message, meta)` order).
 *
 * @example
 * ```ts
 * setDefaultLogger(winstonLogger(winston.createLogger({ transports: [new winston.transports.Console()] })));
 * ```
 *
 * @category Observability
 */
export function winstonLogger(logger: WinstonLike): AnnalsLogger {
  const write =
    (level: Exclude<LogLevel, 'silent'>) =>
    (fields: LogFields, message: string): void => {
      logger.log(level, message, { ...fields });
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

let defaultLogger: AnnalsLogger = consoleLogger();

/**
 * Sets the logger of every annals component created afterwards without a `logger` option of its
 * own. The default writes warnings and errors to `console`; pass {@link silentLogger} for none.
 *
 * @category Observability
 */
export function setDefaultLogger(logger: AnnalsLogger): void {
  assertLogger('setDefaultLogger', logger);
  defaultLogger = logger;
}

/**
 * The logger components use when given none: the one of {@link setDefaultLogger}.
 *
 * @category Observability
 */
export function getDefaultLogger(): AnnalsLogger {
  return defaultLogger;
}

/**
 * Checks that `logger` has the four methods; throws {@link InvalidArgumentError} naming `where`
 * otherwise.
 *
 * @internal
 */
export function assertLogger(where: string, logger: unknown): asserts logger is AnnalsLogger {
  const candidate = logger as Partial<Record<string, unknown>> | null;
  const missing = ['debug', 'info', 'warn', 'error'].filter(
    (method) => typeof candidate?.[method] !== 'function',
  );
  if (typeof logger !== 'object' || logger === null || missing.length > 0) {
    throw new InvalidArgumentError(
      `${where}: a logger needs debug, info, warn and error methods (pino's shape); missing ${missing.join(', ')}`,
    );
  }
}

/**
 * Calls `logger[level]`, never throwing: a failing logger must not stop a projection.
 *
 * @internal
 */
export function safeLog(
  logger: AnnalsLogger,
  level: Exclude<LogLevel, 'silent'>,
  fields: LogFields,
  message: string,
): void {
  try {
    logger[level](fields, message);
  } catch {
    // Nothing sensible to do: the logger itself failed.
  }
}

function stringifyFields(fields: LogFields): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (value instanceof Error) {
        const code = (value as { code?: unknown }).code;
        return {
          name: value.name,
          message: value.message,
          ...(code === undefined ? {} : { code }),
          stack: value.stack,
        };
      }
      return value;
    });
  } catch {
    return '{}';
  }
}
