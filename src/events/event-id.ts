/**
 * Event ids: UUIDv7 (RFC 9562), made without a random UUID per call.
 *
 * Layout of each id (RFC 9562 section 6.2, method 1, a fixed-length dedicated counter):
 * - `unix_ts_ms` (48 bits): milliseconds since the epoch, never going back within a process;
 * - `ver` (4 bits): 7;
 * - a 26-bit counter in `rand_a` (12 bits) and the first 14 bits of `rand_b` after the variant:
 *   seeded at random (its top bit clear) in each new millisecond, incremented for each id of
 *   that millisecond; when it would overflow the timestamp moves on by one millisecond;
 * - `var` (2 bits): 0b10;
 * - the last 48 bits of `rand_b`: random, drawn once per process (a worker thread is a process
 *   here: it loads its own copy of this module).
 *
 * So the ids of one process are unique and strictly increasing (as strings as well), time-ordered
 * across processes (which keeps PostgreSQL's index on event ids appending at its right edge), and
 * ids of two processes differ in their random 48 bits. They are not secrets: the counter and the
 * per-process part make them guessable, as any UUIDv7's timestamp is.
 */

const COUNTER_BITS = 26;
const COUNTER_LIMIT = 2 ** COUNTER_BITS;
/** A seed leaves at least 2^25 increments in its millisecond. */
const SEED_MASK = 2 ** (COUNTER_BITS - 1) - 1;
/** Char codes of the lowercase hex digits. */
const HEX_CODES = Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));
const DASH = 0x2d;
const SEVEN = 0x37;

/**
 * The id being built, as char codes: written in place and turned into a flat string at once
 * (a concatenation would make a rope that every Map lookup has to flatten first).
 */
const codes: number[] = new Array<number>(36).fill(0);
let initialised = false;
let lastMs = -1;
let counter = 0;
const seeds = new Uint32Array(64);
let seedIndex = seeds.length;

function randomSeed(): number {
  if (seedIndex === seeds.length) {
    globalThis.crypto.getRandomValues(seeds);
    seedIndex = 0;
  }
  return seeds[seedIndex++]! & SEED_MASK;
}

/** Writes `digits` hex digits of `value` (at most 2^53) at `at` of `target`. */
function writeHex(target: number[], at: number, value: number, digits: number): void {
  for (let index = at + digits - 1; index >= at; index--) {
    target[index] = HEX_CODES[value % 16]!;
    value = Math.floor(value / 16);
  }
}

/** Writes the millisecond `ms` of an id: its first 12 hex digits. */
function writeMs(target: number[], ms: number): void {
  writeHex(target, 9, ms % 0x10000, 4);
  writeHex(target, 0, Math.floor(ms / 0x10000), 8);
}

/** Writes the counter `value` of an id: rand_a (its top 12 bits), then the variant (0b10) with the next 2, and the last 12. */
function writeCounter(target: number[], value: number): void {
  target[15] = HEX_CODES[(value >>> 22) & 15]!;
  target[16] = HEX_CODES[(value >>> 18) & 15]!;
  target[17] = HEX_CODES[(value >>> 14) & 15]!;
  target[19] = HEX_CODES[8 | ((value >>> 12) & 3)]!;
  target[20] = HEX_CODES[(value >>> 8) & 15]!;
  target[21] = HEX_CODES[(value >>> 4) & 15]!;
  target[22] = HEX_CODES[value & 15]!;
}

function initialise(): void {
  codes[8] = DASH;
  codes[13] = DASH;
  codes[14] = SEVEN;
  codes[18] = DASH;
  codes[23] = DASH;
  const random = new Uint8Array(6);
  globalThis.crypto.getRandomValues(random);
  for (let index = 0; index < random.length; index++) writeHex(codes, 24 + 2 * index, random[index]!, 2);
  initialised = true;
}

function startMillisecond(ms: number): void {
  lastMs = ms;
  counter = randomSeed();
  writeMs(codes, ms);
}

/**
 * The 36 char codes of an id as a flat string. Thirty-six arguments: `fromCharCode.apply` with the
 * array costs 20–30 ns more per id (it spreads the array onto the stack first).
 */
function textOf(c: readonly number[]): string {
  return String.fromCharCode(
    c[0]!,
    c[1]!,
    c[2]!,
    c[3]!,
    c[4]!,
    c[5]!,
    c[6]!,
    c[7]!,
    c[8]!,
    c[9]!,
    c[10]!,
    c[11]!,
    c[12]!,
    c[13]!,
    c[14]!,
    c[15]!,
    c[16]!,
    c[17]!,
    c[18]!,
    c[19]!,
    c[20]!,
    c[21]!,
    c[22]!,
    c[23]!,
    c[24]!,
    c[25]!,
    c[26]!,
    c[27]!,
    c[28]!,
    c[29]!,
    c[30]!,
    c[31]!,
    c[32]!,
    c[33]!,
    c[34]!,
    c[35]!,
  );
}

/**
 * A new event id: a UUIDv7 (RFC 9562), time-ordered, unique and increasing within the process.
 * What the registry and aggregates give events that have no id of their own.
 *
 * @param now - the clock's reading in milliseconds (`Date.now()`), when the caller has just read
 *   it (a clock reading costs 100 ns or more on some machines). Ids stay increasing whatever it is.
 *
 * @internal
 */
export function newEventId(now: number = Date.now()): string {
  if (!initialised) initialise();
  if (now > lastMs) startMillisecond(now);
  else if (++counter === COUNTER_LIMIT) startMillisecond(lastMs + 1);
  writeCounter(codes, counter);
  return textOf(codes);
}

/**
 * The millisecond of the id {@link newEventId} made last: the clock reading it was given, or a
 * later one when the clock went back or the counter ran out.
 *
 * @internal
 */
export function lastEventIdMs(): number {
  return lastMs;
}

/**
 * The counter of the id {@link newEventId} made last (below 2^26): with {@link lastEventIdMs}, all
 * that {@link eventIdOf} needs to make its text again.
 *
 * @internal
 */
export function lastEventIdCounter(): number {
  return counter;
}

/** The char codes of the ids {@link eventIdOf} rebuilds, and the millisecond written there last. */
let rebuilt: number[] | undefined;
let rebuiltMs = -1;

/**
 * The text of the id that {@link newEventId} made in millisecond `ms` with counter `value`
 * ({@link lastEventIdMs} and {@link lastEventIdCounter} right after it): the in-memory store keeps
 * those two numbers for the ids it had made, not their 36 characters.
 *
 * @internal
 */
export function eventIdOf(ms: number, value: number): string {
  if (rebuilt === undefined) {
    if (!initialised) initialise();
    // The generator's dashes, version and per-process random digits; the rest is written below.
    rebuilt = codes.slice();
    rebuiltMs = -1;
  }
  if (ms !== rebuiltMs) {
    rebuiltMs = ms;
    writeMs(rebuilt, ms);
  }
  writeCounter(rebuilt, value);
  return textOf(rebuilt);
}
