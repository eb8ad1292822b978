/**
 * Wakes an idle loop early. A {@link Wakeup.notify} that comes while nobody waits is kept, so the
 * next {@link Wakeup.wait} returns at once: an append during a batch is never slept through.
 */
export class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;

  /** Ends the current wait, or the next one. */
  notify(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }

  /** Resolves on {@link Wakeup.notify}, after `ms` milliseconds, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#pending || signal?.aborted) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}
