import type { PgQueryable } from '../driver/pg-client.js';

/** Options of {@link AppendAnnouncer}. */
export interface AppendAnnouncerOptions {
  /** At most one NOTIFY per this many milliseconds; announcements in between are merged. */
  readonly throttleMs: number;
  /** Told when a NOTIFY fails (followers still poll). */
  readonly onError?: (error: unknown) => void;
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
 * @internal
 */
export class AppendAnnouncer {
  readonly #db: PgQueryable;
  readonly #channel: string;
  readonly #options: AppendAnnouncerOptions;
  #busy = false;
  #pending = false;
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
    if (this.#busy) {
      this.#pending = true;
      return;
    }
    this.#send();
  }

  /** Stops announcing; waits for a NOTIFY in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #send(): void {
    this.#busy = true;
    this.#pending = false;
    this.#inFlight = this.#db
      .query('SELECT pg_notify($1, $2)', [this.#channel, ''])
      .then(
        () => undefined,
        (error: unknown) => {
          try {
            this.#options.onError?.(error);
          } catch {
            // The error handler's failure is its own.
          }
        },
      )
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#closed) return;
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#busy = false;
          if (this.#pending && !this.#closed) this.#send();
        }, this.#options.throttleMs);
        this.#timer.unref?.();
      });
  }
}
