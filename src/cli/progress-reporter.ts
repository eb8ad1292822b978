import type { RebuildProgress } from '../core.js';
import type { CliStream } from './cli-io.js';
import { formatDuration } from './format.js';

/** Options of {@link progressReporter}. */
export interface ProgressReporterOptions {
  /** The clock, in milliseconds. @defaultValue `Date.now` */
  readonly now?: () => number;
  /** Least time between two plain lines (not on a terminal), in milliseconds. @defaultValue 1000 */
  readonly lineIntervalMs?: number;
  /** Least time between two redraws of the bar, in milliseconds. @defaultValue 100 */
  readonly redrawIntervalMs?: number;
}

/** Reports rebuild progress; `done()` writes the last state and ends the bar's line. */
export interface ProgressReporter {
  update(progress: RebuildProgress): void;
  done(): void;
}

const BAR_WIDTH = 30;

function describe(progress: RebuildProgress): string {
  const { processed, total, eventsPerSecond, estimatedRemainingMs } = progress;
  const percent = total > 0 ? Math.min(100, Math.floor((processed * 100) / total)) : 100;
  const rate = eventsPerSecond > 0 ? `${Math.round(eventsPerSecond)} events/s` : 'rate unknown';
  const left = estimatedRemainingMs === undefined ? '' : `, ${formatDuration(estimatedRemainingMs)} left`;
  return `${processed}/${total} events (${percent}%), ${rate}${left}`;
}

/**
 * On a terminal, a bar redrawn in place (`\r`); elsewhere (a pipe, a log file) a plain line per
 * `lineIntervalMs` at most, plus the first and the last.
 */
export function progressReporter(stream: CliStream, options: ProgressReporterOptions = {}): ProgressReporter {
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const interval = tty ? (options.redrawIntervalMs ?? 100) : (options.lineIntervalMs ?? 1000);
  let last: RebuildProgress | undefined;
  let shownAt = Number.NEGATIVE_INFINITY;
  let shown: RebuildProgress | undefined;
  const show = (progress: RebuildProgress) => {
    shown = progress;
    shownAt = now();
    if (!tty) {
      stream.write(`rebuild ${progress.projection}: ${describe(progress)}\n`);
      return;
    }
    const ratio = progress.total > 0 ? Math.min(1, progress.processed / progress.total) : 1;
    const filled = Math.round(ratio * BAR_WIDTH);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
    const line = `${progress.projection} ${bar} ${describe(progress)}`;
    const width = stream.columns ?? 120;
    stream.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length + 2))}`);
  };
  return {
    update(progress) {
      last = progress;
      if (now() - shownAt >= interval) show(progress);
    },
    done() {
      if (last && last !== shown) show(last);
      if (tty && shown) stream.write('\n');
    },
  };
}
