import { describeBlocker, type ProjectionBlocker } from '../../core.js';

/** The exit code of `annals status` when a threshold it was given is breached. */
export const EXIT_UNHEALTHY = 2;

/** The thresholds `annals status` checks (`--max-lag-events`, `--max-lag-ms`, `--fail-on-*`). */
export interface StatusThresholds {
  /** Alert when a projection or relay has more events after its checkpoint. */
  readonly maxLagEvents?: number | undefined;
  /** Alert when a projection or relay lags more milliseconds in event time. */
  readonly maxLagMs?: number | undefined;
  /** Alert when a projection has a dead letter. */
  readonly failOnDeadLetters?: boolean | undefined;
  /** Alert when a projection waits at an event it cannot read. */
  readonly failOnBlocked?: boolean | undefined;
}

/** Which option raised an alert. */
export type StatusCheck = 'max-lag-events' | 'max-lag-ms' | 'fail-on-dead-letters' | 'fail-on-blocked';

/** One breached threshold, as `annals status --json` lists it under `alerts`. */
export interface StatusAlert {
  /** The projection's name, or the relay's `relay:<exchange>`. */
  readonly subject: string;
  readonly check: StatusCheck;
  /** The figure that breached the limit, in decimal; `null` for `fail-on-blocked`. */
  readonly value: string | null;
  /** The limit it breached, in decimal; `null` for `fail-on-blocked`. */
  readonly limit: string | null;
  /** What stderr says after `annals: alert: `. */
  readonly message: string;
}

/** What the thresholds are checked against: a projection's row or a relay's (no dead letters, never blocked). */
export interface StatusFigures {
  readonly subject: string;
  readonly lagEvents: bigint;
  readonly lagMs: number;
  readonly deadLetters?: number;
  readonly blockedBy?: ProjectionBlocker | undefined;
}

/** True when any threshold was given. */
export function hasThresholds(thresholds: StatusThresholds): boolean {
  return (
    thresholds.maxLagEvents !== undefined ||
    thresholds.maxLagMs !== undefined ||
    thresholds.failOnDeadLetters === true ||
    thresholds.failOnBlocked === true
  );
}

/**
 * The breached thresholds, in the order of the rows, and per row: lag in events, lag in time,
 * dead letters, blocker. A limit is breached when the figure is above it (`--max-lag-events 0`
 * alerts on any lag).
 */
export function findAlerts(rows: readonly StatusFigures[], thresholds: StatusThresholds): StatusAlert[] {
  const alerts: StatusAlert[] = [];
  for (const row of rows) {
    const { subject } = row;
    const { maxLagEvents, maxLagMs } = thresholds;
    if (maxLagEvents !== undefined && row.lagEvents > BigInt(maxLagEvents)) {
      alerts.push({
        subject,
        check: 'max-lag-events',
        value: String(row.lagEvents),
        limit: String(maxLagEvents),
        message: `${subject} is ${row.lagEvents} events behind (limit ${maxLagEvents})`,
      });
    }
    if (maxLagMs !== undefined && row.lagMs > maxLagMs) {
      alerts.push({
        subject,
        check: 'max-lag-ms',
        value: String(row.lagMs),
        limit: String(maxLagMs),
        message: `${subject} is ${row.lagMs}ms behind in event time (limit ${maxLagMs}ms)`,
      });
    }
    if (thresholds.failOnDeadLetters && row.deadLetters !== undefined && row.deadLetters > 0) {
      alerts.push({
        subject,
        check: 'fail-on-dead-letters',
        value: String(row.deadLetters),
        limit: '0',
        message: `${subject} has ${row.deadLetters} dead letter${row.deadLetters === 1 ? '' : 's'}`,
      });
    }
    if (thresholds.failOnBlocked && row.blockedBy) {
      alerts.push({
        subject,
        check: 'fail-on-blocked',
        value: null,
        limit: null,
        message: `${subject} is ${describeBlocker(row.blockedBy).split('\n')[0]!.trim()}`,
      });
    }
  }
  return alerts;
}
