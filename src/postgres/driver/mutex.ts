/**
 * A first-come, first-served async lock. The PGlite adapter uses it to give one connection
 * the behaviour of a pool: a transaction holds the lock until it releases its client, and
 * plain queries wait for it.
 *
 * @internal
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves, once the lock is free, to a function that frees it again (call it exactly once). */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.#tail.then(() => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        release();
      };
    });
    this.#tail = this.#tail.then(() => released);
    return acquired;
  }

  /** Runs `fn` while holding the lock. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
