import type { ProjectionError } from '../errors.js';
import type { AnnalsLogger } from '../observability/logger.js';
import type { IEventStore } from '../store/event-store.js';
import type { Projection } from './define-projection.js';
import type { ProjectionStore } from './projection-store.js';

/**
 * Options of {@link ProjectionRunner}.
 *
 * @category Projections
 */
export interface ProjectionRunnerOptions<TContext> {
  /** The store whose global log the projections follow. */
  readonly eventStore: IEventStore;
  /** Where checkpoints, dead letters, leases and the read models' transactions live. */
  readonly projectionStore: ProjectionStore<TContext>;
  /** The projections to run; names must be unique. */
  readonly projections: readonly Projection<TContext>[];
  /**
   * The most events read and processed in one unit of work.
   * @defaultValue 50
   */
  readonly batchSize?: number;
  /**
   * How long an idle projection waits for an append notification before it looks at the log
   * anyway (notifications can be lost), in milliseconds.
   * @defaultValue 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * The delay before the first retry of a failing event, in milliseconds; it doubles with each
   * further retry, up to `maxRetryDelayMs`. Also the first delay after a failure of the stores.
   * @defaultValue 1000
   */
  readonly retryDelayMs?: number;
  /**
   * The longest delay between two retries, in milliseconds.
   * @defaultValue 30000 (or `retryDelayMs`, when that is larger)
   */
  readonly maxRetryDelayMs?: number;
  /**
   * How many times a failing event's handler is retried after its first failure before the
   * projection's `onFailure` policy applies; `0` applies it at the first failure.
   * @defaultValue 5
   */
  readonly maxRetryAttempts?: number;
  /**
   * How often a runner tries to take a projection over while another runner holds its lease, in
   * milliseconds.
   * @defaultValue 5000
   */
  readonly leaseRetryMs?: number;
  /**
   * How often a runner renews the leases it holds, in milliseconds. Keep it well below the
   * store's lease time (the in-memory store's `leaseTtlMs`).
   * @defaultValue 5000
   */
  readonly leaseRenewMs?: number;
  /**
   * Who this runner is, recorded with its leases.
   * @defaultValue `runner-` and a random UUID
   */
  readonly owner?: string;
  /**
   * Called with each failure the runner handles on its own: an event parked as a dead letter, a
   * projection stopped by its `'stop'` policy, a store failure it will retry, a lost lease. They
   * are logged as well (see `logger`).
   * @defaultValue none
   */
  readonly onError?: (error: ProjectionError) => void;
  /**
   * Where the runner logs: dead letters, retried store failures and lost leases as warnings, a
   * projection that stopped as an error, with `projection`, `eventId`, `position`, `attempt` and
   * `err`.
   * @defaultValue the default logger (`setDefaultLogger`; warnings and errors to `console`)
   */
  readonly logger?: AnnalsLogger;
  /**
   * The clock, in milliseconds since the epoch (dead-letter times, rebuild rates).
   * @defaultValue `Date.now`
   */
  readonly now?: () => number;
}
