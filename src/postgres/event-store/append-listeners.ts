import type { Unsubscribe } from '../../core.js';
import type { PgNotification, PgPool, PgPoolClient } from '../driver/pg-client.js';

/** Options of {@link AppendListeners}. */
export interface AppendListenersOptions {
  /** Wait this long before listening again after the listening connection failed. */
  readonly reconnectDelayMs: number;
  /** Told about failures of the listening connection (they are retried). */
  readonly onError?: (error: unknown) => void;
}

/**
 * The store's `onAppended` machinery: local listeners, and one LISTEN on the schema's channel,
 * started when the first listener subscribes and stopped when the last one leaves.
 *
 * With `pg` the LISTEN holds one pool connection; when it fails the listeners are woken (a
 * notification may have been lost, so readers should poll) and it reconnects after a delay.
 * With a pool that offers `listen` (PGlite) no connection is held.
 *
 * @internal
 */
export class AppendListeners {
  readonly #pool: PgPool;
  readonly #channel: string;
  readonly #options: AppendListenersOptions;
  readonly #listeners = new Set<() => void>();
  /** Stops the current LISTEN; set while one is active or starting. */
  #active: Promise<(() => Promise<void>) | undefined> | undefined;
  #generation = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(pool: PgPool, channel: string, options: AppendListenersOptions) {
    this.#pool = pool;
    this.#channel = channel;
    this.#options = options;
  }

  /** Adds a listener; the first one starts listening. */
  add(listener: () => void): Unsubscribe {
    if (this.#closed) return () => {};
    const entry = () => listener();
    this.#listeners.add(entry);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (!this.#listeners.delete(entry)) return;
      if (this.#listeners.size === 0) void this.#stop();
    };
  }

  /** Wakes every listener (soon, never synchronously, never throwing). */
  wake(): void {
    for (const listener of this.#listeners) {
      queueMicrotask(() => {
        try {
          listener();
        } catch {
          // A listener's failure is its own.
        }
      });
    }
  }

  /** Removes every listener and stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#stop();
  }

  #start(): void {
    const generation = ++this.#generation;
    this.#active = this.#listen(generation).catch((error: unknown) => {
      this.#failed(generation, error);
      return undefined;
    });
  }

  async #stop(): Promise<void> {
    this.#generation++;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const active = this.#active;
    this.#active = undefined;
    const stop = await active;
    await stop?.().catch(() => undefined);
  }

  /** A failure of the LISTEN of `generation`: wake readers, then listen again later. */
  #failed(generation: number, error: unknown): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#options.onError?.(error);
    this.wake();
    this.#active = undefined;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (generation === this.#generation && !this.#closed && this.#listeners.size > 0) this.#start();
    }, this.#options.reconnectDelayMs);
    this.#retryTimer.unref?.();
  }

  async #listen(generation: number): Promise<(() => Promise<void>) | undefined> {
    if (this.#pool.listen) {
      const unlisten = await this.#pool.listen(this.#channel, () => this.wake());
      return unlisten;
    }
    const client = await this.#pool.connect();
    let released = false;
    const release = (error?: Error) => {
      if (released) return;
      released = true;
      client.release(error ?? false);
    };
    const onNotification = (message: PgNotification) => {
      if (message.channel === this.#channel) this.wake();
    };
    let failed = false;
    const onError = (error: Error) => {
      // Stays attached after a failure: a driver may emit more than one error, and an
      // 'error' event without a listener would crash the process.
      if (failed) return;
      failed = true;
      client.removeListener?.('notification', onNotification);
      release(error);
      this.#failed(generation, error);
    };
    client.on?.('notification', onNotification);
    client.on?.('error', onError);
    try {
      // The channel is derived from a validated schema name; see appendedChannel().
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      detach(client, onNotification, onError);
      release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    // Wake once: appends made while the LISTEN was starting were not announced to it.
    this.wake();
    return async () => {
      if (released) return;
      detach(client, onNotification, onError);
      try {
        await client.query(`UNLISTEN "${this.#channel}"`);
        release();
      } catch (error) {
        release(error instanceof Error ? error : new Error(String(error)));
      }
    };
  }
}

function detach(
  client: PgPoolClient,
  onNotification: (message: PgNotification) => void,
  onError: (error: Error) => void,
): void {
  client.removeListener?.('notification', onNotification);
  client.removeListener?.('error', onError);
}
