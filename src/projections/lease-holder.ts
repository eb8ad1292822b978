import type { ProjectionLease } from './projection-store.js';

/**
 * Holds one lease at a time for a runner or a relay: renews it every `renewMs`, marks it lost
 * (and tells `onLost` once) when a renewal fails or says it is gone, and releases it.
 *
 * @internal
 */
export class LeaseHolder {
  #lease: ProjectionLease | undefined;
  #lost = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly renewMs: number,
    /** Called once per lease when it is lost, with the renewal's error if it failed. */
    private readonly onLost: (cause?: unknown) => void,
  ) {}

  /** The lease held now, lost or not; `undefined` when none is. */
  get lease(): ProjectionLease | undefined {
    return this.#lease;
  }

  /** True when the held lease was lost: drop it before doing more work under it. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Starts holding `lease`, renewing it in the background. */
  hold(lease: ProjectionLease): void {
    this.#lease = lease;
    this.#lost = false;
    let renewing = false;
    const lose = (cause?: unknown) => {
      if (this.#lease !== lease || this.#lost) return;
      this.#lost = true;
      this.onLost(cause);
    };
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      lease
        .renew()
        .then((held) => held || lose(), lose)
        .finally(() => {
          renewing = false;
        });
    }, this.renewMs);
    this.#timer.unref?.();
  }

  /** Stops renewing and releases the lease, if one is held. */
  async drop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const lease = this.#lease;
    this.#lease = undefined;
    this.#lost = false;
    if (!lease) return;
    try {
      await lease.release();
    } catch {
      // A lease whose release fails ends with its holder's connection anyway.
    }
  }
}
