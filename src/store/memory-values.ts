/**
 * Values of the in-memory store's flat payloads, one after another in log order: a payload whose
 * values are all primitives is kept as its values here (its keys once, in its shape), not as an
 * object of its own. An object per event is what the garbage collector copies and marks; a
 * reference in a long-lived array costs it far less, and a small integer nothing.
 *
 * Values live in arrays of exactly {@link CHUNK_VALUES} entries, made once and never copied.
 *
 * @internal
 */
export class MemoryValues {
  readonly #chunks: unknown[][] = [];
  #length = 0;

  /** How many values are kept; the index the next {@link MemoryValues.push} writes at. */
  get length(): number {
    return this.#length;
  }

  /** Keeps `value` at index {@link MemoryValues.length}. */
  push(value: unknown): void {
    const index = this.#length;
    let chunk = this.#chunks[index >>> CHUNK_BITS];
    if (chunk === undefined) {
      chunk = new Array<unknown>(CHUNK_VALUES);
      this.#chunks.push(chunk);
    }
    chunk[index & CHUNK_MASK] = value;
    this.#length = index + 1;
  }

  /**
   * Keeps `values` (all of them) from index {@link MemoryValues.length} on: one call for a
   * payload's values instead of one per value.
   */
  pushAll(values: readonly unknown[]): void {
    let index = this.#length;
    const end = index + values.length;
    let from = 0;
    while (index < end) {
      let chunk = this.#chunks[index >>> CHUNK_BITS];
      if (chunk === undefined) {
        chunk = new Array<unknown>(CHUNK_VALUES);
        this.#chunks.push(chunk);
      }
      // Up to the end of this chunk, or of the values.
      // A product, not a shift: the last chunk ends at 2^31, past a 32-bit shift.
      const stop = Math.min(end, ((index >>> CHUNK_BITS) + 1) * CHUNK_VALUES);
      for (; index < stop; index++) chunk[index & CHUNK_MASK] = values[from++];
    }
    this.#length = end;
  }

  /** The value at `index` (below {@link MemoryValues.length}). */
  at(index: number): unknown {
    return this.#chunks[index >>> CHUNK_BITS]![index & CHUNK_MASK];
  }
}

const CHUNK_BITS = 15;
/** Values per chunk: 32,768 references (256 KiB). */
const CHUNK_VALUES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_VALUES - 1;
