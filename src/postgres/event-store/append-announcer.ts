import type { PgQueryable } from '../driver/pg-client.js';

/** Options of {@link AppendAnnouncer}. */
export interface AppendAnnouncerOptions {
  /** At most one NOTIFY per this many milliseconds; announcements in between are merged. */
  readonly throttleMs: number;
  /** Told when a NOTIFY fails (followers still poll). */
  readonly onError?: (error: unknown) => void;
  /**
   * A sender of statements that can carry the NOTIFY (the write coalescer, which takes it with
   * {@link AppendAnnouncer.takeDue}).
   */
  readonly carrier?: NotifyCarrier;
}

/** What can carry the announcer's NOTIFY in one of its own statements. */
export interface NotifyCarrier {
  /** True when it will send a statement soon (appends are waiting), and take the NOTIFY then. */
  willSendSoon(): boolean;
}

/**
 * Announces the store's committed appends on the schema's channel with a NOTIFY of its own,
 * sent after the commit and outside any transaction.
 *
 * Why not NOTIFY inside each append's transaction: PostgreSQL takes a database-wide lock for
 * the commit of every notifying transaction and holds it while the commit is flushed, so
 * concurrent appends could no longer share a disk flush (group commit) and append throughput
 * halved in our measurements. A NOTIFY sent on its own needs no flush. Announcements are
 * throttled: the first is sent at once, later ones within `throttleMs` are merged into one.
 *
 * Under load the NOTIFY rides on a statement the store sends anyway. With a `carrier` (the
 * write coalescer) a due NOTIFY waits for the end of the event loop's turn; if appends are
 * waiting then, the coalescer's next group takes it ({@link AppendAnnouncer.takeDue}) and sends
 * it in its transaction, which takes that lock for its commit, at most once per `throttleMs`.
 * Otherwise, or when the group fails, it is sent on its own. Either way it is sent after the
 * commits it announces were seen, so a follower it wakes finds them.
 *
 * @internal
 */
export class AppendAnnouncer {
  readonly #db: PgQueryable;
  readonly #channel: string;
  readonly #options: AppendAnnouncerOptions;
  /** A NOTIFY sent, or the throttle window after it, is running. */
  #busy = false;
  /** Appends were announced since the last NOTIFY was sent. */
  #due = false;
  /** A flush is scheduled for the end of this turn. */
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;

  constructor(db: PgQueryable, channel: string, options: AppendAnnouncerOptions) {
    this.#db = db;
    this.#channel = channel;
    this.#options = options;
  }

  /** Announces an append: now, or merged into the next NOTIFY. */
  announce(): void {
    if (this.#closed) return;
    this.#due = true;
    if (!this.#busy && !this.#scheduled) this.#scheduleFlush();
  }

  /**
   * For the carrier, as it sends a statement: when a NOTIFY is due (and the throttle allows
   * one), takes it. The statement must then send the NOTIFY and call the returned function
   * with whether it succeeded (if not, the NOTIFY is due again).
   */
  takeDue(): ((committed: boolean) => void) | undefined {
    if (this.#closed || this.#busy || !this.#due) return undefined;
    this.#due = false;
    let settle!: (committed: boolean) => void;
    const carried = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    this.#sent(
      carried.then((committed) => {
        if (!committed) this.#due = true;
      }),
    );
    return settle;
  }

  /** Stops announcing; waits for a NOTIFY in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #scheduleFlush(): void {
    if (!this.#options.carrier) {
      this.#flush();
      return;
    }
    this.#scheduled = true;
    nextTurn(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Sends a due NOTIFY on its own, unless the carrier is about to take it. */
  #flush(): void {
    if (this.#closed || this.#busy || !this.#due) return;
    if (this.#options.carrier?.willSendSoon()) return;
    this.#due = false;
    this.#sent(
      this.#db.query('SELECT pg_notify($1, $2)', [this.#channel, '']).then(
        () => undefined,
        (error: unknown) => {
          try {
            this.#options.onError?.(error);
          } catch {
            // The error handler's failure is its own.
          }
        },
      ),
    );
  }

  /** A NOTIFY is on its way: the throttle window starts when it has been sent. */
  #sent(sending: Promise<void>): void {
    this.#busy = true;
    this.#inFlight = sending.finally(() => {
      this.#inFlight = undefined;
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#busy = false;
        if (this.#due && !this.#closed && !this.#scheduled) this.#scheduleFlush();
      }, this.#options.throttleMs);
      this.#timer.unref?.();
    });
  }
}

/** Runs `task` after the current turn of the event loop (its I/O and microtasks). */
const nextTurn: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => setTimeout(task, 0);
