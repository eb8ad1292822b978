/**
 * The rows of the in-memory store's log: a fixed count of 32-bit integers per row, side by side,
 * appended in log order. Indexes into the store's tables (its streams, kinds, payload shapes,
 * metadata copies) and the row's numbers, not references: a row is integers in a typed array,
 * outside the garbage collector's heap, so writing one costs no write barrier and a large log is
 * nothing for the collector to trace.
 *
 * The first {@link CHUNK_ROWS} rows live in an array that doubles as it fills (a store in a unit
 * test holds a few events); later ones in arrays of exactly {@link CHUNK_ROWS} rows, made once
 * and never copied. One array doubling to the log's size would copy it again and again, into
 * fresh memory each time.
 *
 * @internal
 */
export class MemoryRows {
  readonly #chunks: Int32Array<ArrayBuffer>[];

  constructor(
    /** Integers per row. */
    readonly width: number,
  ) {
    this.#chunks = [new Int32Array(FIRST_ROWS * width)];
  }

  /**
   * The array for row `row` (the number of rows so far), with room for it: its integers start at
   * {@link MemoryRows.offset}.
   */
  chunkToWrite(row: number): Int32Array<ArrayBuffer> {
    const index = row >>> CHUNK_BITS;
    const chunks = this.#chunks;
    if (index > 0) {
      let chunk = chunks[index];
      if (chunk === undefined) {
        chunk = new Int32Array(CHUNK_ROWS * this.width);
        chunks.push(chunk);
      }
      return chunk;
    }
    let first = chunks[0]!;
    if (row * this.width === first.length) {
      const grown = new Int32Array(first.length * 2);
      grown.set(first);
      chunks[0] = first = grown;
    }
    return first;
  }

  /** The array that holds row `row` (which must exist). */
  chunk(row: number): Int32Array<ArrayBuffer> {
    return this.#chunks[row >>> CHUNK_BITS]!;
  }

  /** Where the integers of row `row` start in its {@link MemoryRows.chunk}. */
  offset(row: number): number {
    return (row & CHUNK_MASK) * this.width;
  }

  /** Integer `index` of row `row`. */
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
