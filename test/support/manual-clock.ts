const HOUR_MS = 3_600_000;

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => new Date(now),
    advanceHours: (hours: number) => {
      now += hours * HOUR_MS;
    },
  };
}
