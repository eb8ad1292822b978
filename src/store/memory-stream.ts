/**
 * A stream of the in-memory store: its id and the log index of each of its events, in version
 * order (the event at version `v` is at `rowAt(v - 1)`).
 *
 * The indexes are kept in a typed array that doubles when full: numbers outside the garbage
 * collector's heap, where an array of numbers would be copied and scanned as it grows.
 *
 * @internal
 */
export class MemoryStream {
  #length = 0;
  #rows = new Uint32Array(FIRST_CAPACITY);

  constructor(
    /** The stream's id. */
    readonly id: string,
    /** Its index in the store's list of streams: what each of its rows holds. */
    readonly index: number,
  ) {}

  /** How many events the stream has: its version. */
  get length(): number {
    return this.#length;
  }

  /** Adds the log index of the stream's next event. */
  push(row: number): void {
    const length = this.#length;
    if (length === this.#rows.length) {
      const grown = new Uint32Array(length * 2);
      grown.set(this.#rows);
      this.#rows = grown;
    }
    this.#rows[length] = row;
    this.#length = length + 1;
  }

  /** The log index of the event at `index` (its version minus one), below {@link MemoryStream.length}. */
  rowAt(index: number): number {
    return this.#rows[index]!;
  }
}

/** Rows of a new stream: most streams stay short. */
const FIRST_CAPACITY = 8;
