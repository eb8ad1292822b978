/**
 * Runs async work one at a time per key, within one process: a second caller with the same key
 * waits until the first one's work has settled, then runs. The in-memory idempotency stores use
 * it to behave like a unique index that makes a second transaction wait for the first.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `work` once every earlier `run` with the same key has settled. With `wait`, a caller
   * that waited `wait.timeoutMs` for earlier ones gives up: it throws `wait.onTimeout()` and
   * runs nothing (later callers still wait for the earlier ones).
   */
  async run<T>(
    key: string,
    work: () => Promise<T>,
    wait?: { readonly timeoutMs: number; readonly onTimeout: () => Error },
  ): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      if (wait) await waitAtMost(previous, wait.timeoutMs, wait.onTimeout);
      else await previous;
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

/** Resolves when `promise` does, or rejects with `onTimeout()` after `timeoutMs`. */
async function waitAtMost(promise: Promise<void>, timeoutMs: number, onTimeout: () => Error): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
