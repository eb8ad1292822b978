import { InvalidArgumentError } from './errors.js';

/**
 * How an operation is retried: exponential backoff with full jitter, bounded in attempts.
 *
 * @category Configuration
 */
export interface RetryOptions {
  /**
   * Attempts in all, the first included. `1` means no retry.
   * @defaultValue 5
   */
  readonly maxAttempts?: number;
  /**
   * Delay before the first retry; it doubles with each further retry.
   * @defaultValue 10
   */
  readonly initialDelayMs?: number;
  /**
   * The longest delay between two attempts.
   * @defaultValue 1000
   */
  readonly maxDelayMs?: number;
  /**
   * Randomise each delay between half and all of its value, so that racing writers spread out.
   * @defaultValue true
   */
  readonly jitter?: boolean;
}

/** {@link RetryOptions} with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/** Fills in the defaults of {@link RetryOptions} and validates them. */
export function resolveRetryOptions(
  options: RetryOptions = {},
  defaults: Partial<ResolvedRetryOptions> = {},
): ResolvedRetryOptions {
  const resolved: ResolvedRetryOptions = {
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts ?? 5,
    initialDelayMs: options.initialDelayMs ?? defaults.initialDelayMs ?? 10,
    maxDelayMs: options.maxDelayMs ?? defaults.maxDelayMs ?? 1000,
    jitter: options.jitter ?? defaults.jitter ?? true,
  };
  if (!Number.isSafeInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new InvalidArgumentError(
      `retry.maxAttempts must be an integer >= 1; got ${String(resolved.maxAttempts)}`,
    );
  }
  if (!(resolved.initialDelayMs >= 0) || !Number.isFinite(resolved.initialDelayMs)) {
    throw new InvalidArgumentError(
      `retry.initialDelayMs must be a finite number >= 0; got ${String(resolved.initialDelayMs)}`,
    );
  }
  if (!(resolved.maxDelayMs >= resolved.initialDelayMs) || !Number.isFinite(resolved.maxDelayMs)) {
    throw new InvalidArgumentError(
      `retry.maxDelayMs must be a finite number >= retry.initialDelayMs (${resolved.initialDelayMs}); got ${String(resolved.maxDelayMs)}`,
    );
  }
  return resolved;
}

/** The delay before retry number `retry` (1 for the first retry). */
export function backoffDelayMs(options: ResolvedRetryOptions, retry: number): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, retry - 1));
  return options.jitter ? exponential / 2 + Math.random() * (exponential / 2) : exponential;
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
