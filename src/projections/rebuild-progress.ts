/**
 * How far a rebuild is; passed to {@link RebuildOptions.onProgress} after each batch.
 *
 * @category Projections
 */
export interface RebuildProgress {
  /** The projection being rebuilt. */
  readonly projection: string;
  /** Events replayed so far (handled, skipped or parked). */
  readonly processed: number;
  /**
   * Events in the log when the rebuild started. Events appended meanwhile are replayed too, so
   * `processed` can end above it.
   */
  readonly total: number;
  /** Time since the rebuild started, in milliseconds. */
  readonly elapsedMs: number;
  /** The average rate so far, in events per second (`0` until time has passed). */
  readonly eventsPerSecond: number;
  /**
   * The time left at that rate, in milliseconds: `0` when `processed` reached `total`,
   * `undefined` while the rate is unknown.
   */
  readonly estimatedRemainingMs: number | undefined;
}

/**
 * Options of {@link ProjectionRunner.rebuild}.
 *
 * @category Projections
 */
export interface RebuildOptions {
  /**
   * Called once when the replay starts and after each batch.
   * @defaultValue none
   */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * Stops the rebuild after the current batch. The read model is then partly rebuilt, with a
   * matching checkpoint: starting the runner later continues the replay.
   * @defaultValue none
   */
  readonly signal?: AbortSignal;
}

/**
 * What a finished rebuild did.
 *
 * @category Projections
 */
export interface RebuildResult {
  /** The projection. */
  readonly projection: string;
  /** Events replayed. */
  readonly processed: number;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
  /** Dead letters the projection has after the replay. */
  readonly deadLetters: number;
}

/** Computes a progress report from counts and times. */
export function rebuildProgress(
  projection: string,
  processed: number,
  total: number,
  elapsedMs: number,
): RebuildProgress {
  const eventsPerSecond = elapsedMs > 0 ? (processed * 1000) / elapsedMs : 0;
  const remaining = Math.max(0, total - processed);
  const estimatedRemainingMs =
    remaining === 0 ? 0 : eventsPerSecond > 0 ? (remaining * 1000) / eventsPerSecond : undefined;
  return { projection, processed, total, elapsedMs, eventsPerSecond, estimatedRemainingMs };
}
