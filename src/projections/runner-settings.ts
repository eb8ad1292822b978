import { InvalidArgumentError, type ProjectionError } from '../errors.js';
import { type AnnalsLogger, assertLogger, getDefaultLogger } from '../observability/logger.js';
import { type ResolvedRetryOptions, resolveRetryOptions } from '../retry.js';
import { normaliseLimit } from '../store/read-options.js';
import type { ProjectionRunnerOptions } from './projection-runner-options.js';

/** The runner's options with defaults filled in, as its workers use them. */
export interface RunnerSettings {
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  /** Attempts per event (`maxAttempts` = retries + 1), without jitter. */
  readonly retry: ResolvedRetryOptions;
  readonly leaseRetryMs: number;
  readonly leaseRenewMs: number;
  readonly owner: string;
  readonly onError: (error: ProjectionError) => void;
  readonly logger: AnnalsLogger;
  readonly now: () => number;
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `ProjectionRunner: ${name} must be a finite number > 0; got ${String(value)}`,
    );
  }
  return value;
}

/** `value` when it is a finite number >= `minimum`; else an error naming the option. */
function atLeast(name: string, value: number, minimum: number, minimumName = String(minimum)): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum) {
    throw new InvalidArgumentError(
      `ProjectionRunner: ${name} must be a finite number >= ${minimumName}; got ${String(value)}`,
    );
  }
  return value;
}

/** Fills in and validates the runner's options. */
export function resolveRunnerSettings(options: ProjectionRunnerOptions<unknown>): RunnerSettings {
  let batchSize: number;
  try {
    batchSize = normaliseLimit(options.batchSize ?? 50);
  } catch {
    throw new InvalidArgumentError(
      `ProjectionRunner: batchSize must be an integer from 1 to 10000; got ${String(options.batchSize)}`,
    );
  }
  const maxRetryAttempts = options.maxRetryAttempts ?? 5;
  if (!Number.isSafeInteger(maxRetryAttempts) || maxRetryAttempts < 0) {
    throw new InvalidArgumentError(
      `ProjectionRunner: maxRetryAttempts must be an integer >= 0; got ${String(maxRetryAttempts)}`,
    );
  }
  // Checked here, by the names the user passed, before they become RetryOptions.
  const retryDelayMs = atLeast('retryDelayMs', options.retryDelayMs ?? 1000, 0);
  const maxRetryDelayMs =
    options.maxRetryDelayMs === undefined
      ? Math.max(30_000, retryDelayMs)
      : atLeast('maxRetryDelayMs', options.maxRetryDelayMs, retryDelayMs, `retryDelayMs (${retryDelayMs})`);
  const retry = resolveRetryOptions({
    maxAttempts: maxRetryAttempts + 1,
    initialDelayMs: retryDelayMs,
    maxDelayMs: maxRetryDelayMs,
    jitter: false,
  });
  const owner = options.owner ?? `runner-${globalThis.crypto.randomUUID()}`;
  if (typeof owner !== 'string' || owner === '') {
    throw new InvalidArgumentError('ProjectionRunner: owner must be a non-empty string');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidArgumentError('ProjectionRunner: onError must be a function');
  }
  const logger = options.logger ?? getDefaultLogger();
  assertLogger('ProjectionRunner: logger', logger);
  return {
    batchSize,
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs ?? 1000),
    retry,
    leaseRetryMs: positive('leaseRetryMs', options.leaseRetryMs ?? 5000),
    leaseRenewMs: positive('leaseRenewMs', options.leaseRenewMs ?? 5000),
    owner,
    onError: options.onError ?? (() => {}),
    logger,
    now: options.now ?? Date.now,
  };
}
