/**
 * Runs async work one at a time per key, within one process: a second caller with the same key
 * waits until the first one's work has settled, then runs. The in-memory idempotency stores use
 * it to behave like a unique index that makes a second transaction wait for the first.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier `run` with the same key has settled. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      await previous;
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** True while some work for `key` runs or waits. */
  isBusy(key: string): boolean {
    return this.#tails.has(key);
  }
}
