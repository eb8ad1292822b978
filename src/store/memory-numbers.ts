/**
 * The numbers of the in-memory store's log: a fixed count of them per row, side by side, in
 * typed arrays outside the garbage collector's heap.
 *
 * The first {@link CHUNK_ROWS} rows live in an array that doubles as it fills (a store in a unit
 * test holds a few events); later ones in arrays of exactly {@link CHUNK_ROWS} rows, made once
 * and never copied. One array doubling to the log's size would copy it again and again, into
 * fresh memory each time.
 *
 * @internal
 */
export class MemoryNumbers {
  readonly #chunks: Float64Array<ArrayBuffer>[];

  constructor(
    /** Numbers per row. */
    readonly width: number,
  ) {
    this.#chunks = [new Float64Array(FIRST_ROWS * width)];
  }

  /**
   * The array for row `row` (the number of rows so far), with room for it: its numbers start at
   * {@link MemoryNumbers.offset}.
   */
  chunkToWrite(row: number): Float64Array<ArrayBuffer> {
    const index = row >>> CHUNK_BITS;
    const chunks = this.#chunks;
    if (index > 0) {
      let chunk = chunks[index];
      if (chunk === undefined) {
        chunk = new Float64Array(CHUNK_ROWS * this.width);
        chunks.push(chunk);
      }
      return chunk;
    }
    let first = chunks[0]!;
    if (row * this.width === first.length) {
      const grown = new Float64Array(first.length * 2);
      grown.set(first);
      chunks[0] = first = grown;
    }
    return first;
  }

  /** The array that holds row `row` (which must exist). */
  chunk(row: number): Float64Array<ArrayBuffer> {
    return this.#chunks[row >>> CHUNK_BITS]!;
  }

  /** Where the numbers of row `row` start in its {@link MemoryNumbers.chunk}. */
  offset(row: number): number {
    return (row & CHUNK_MASK) * this.width;
  }

  /** Number `index` of row `row`. */
  at(row: number, index: number): number {
    return this.#chunks[row >>> CHUNK_BITS]![(row & CHUNK_MASK) * this.width + index]!;
  }
}

const CHUNK_BITS = 12;
/** Rows per chunk. */
const CHUNK_ROWS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_ROWS - 1;
/** Rows the first array has room for at first. */
const FIRST_ROWS = 64;
