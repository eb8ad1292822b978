/**
 * The rows of the in-memory store's log: four small integers per row, side by side, appended in
 * log order. Each is an index into one of the store's tables (its streams, kinds, payload
 * shapes, metadata copies), not a reference: a row is numbers in a typed array, outside the
 * garbage collector's heap, so writing one costs no write barrier and a large log is nothing for
 * the collector to trace.
 *
 * The first {@link CHUNK_ROWS} rows live in an array that doubles as it fills (a store in a unit
 * test holds a few events); later ones in arrays of exactly {@link CHUNK_ROWS} rows, made once
 * and never copied.
 *
 * @internal
 */
export class MemoryRows {
  readonly #chunks: Int32Array<ArrayBuffer>[] = [new Int32Array(FIRST_ROWS * WIDTH)];

  /** Appends row `row` (the number of rows so far) with its four indexes. */
  push(row: number, a: number, b: number, c: number, d: number): void {
    const index = row >>> CHUNK_BITS;
    const chunks = this.#chunks;
    let chunk: Int32Array<ArrayBuffer> | undefined;
    if (index > 0) {
      chunk = chunks[index];
      if (chunk === undefined) {
        chunk = new Int32Array(CHUNK_ROWS * WIDTH);
        chunks.push(chunk);
      }
    } else {
      chunk = chunks[0]!;
      if (row * WIDTH === chunk.length) {
        const grown = new Int32Array(chunk.length * 2);
        grown.set(chunk);
        chunks[0] = chunk = grown;
      }
    }
    const base = (row & CHUNK_MASK) * WIDTH;
    chunk[base] = a;
    chunk[base + 1] = b;
    chunk[base + 2] = c;
    chunk[base + 3] = d;
  }

  /** The array that holds row `row` (which must exist); its indexes start at {@link MemoryRows.offset}. */
  chunk(row: number): Int32Array<ArrayBuffer> {
    return this.#chunks[row >>> CHUNK_BITS]!;
  }

  /** Where the indexes of row `row` start in its {@link MemoryRows.chunk}. */
  offset(row: number): number {
    return (row & CHUNK_MASK) * WIDTH;
  }

  /** Index `index` (0 to 3) of row `row`. */
  at(row: number, index: number): number {
    return this.#chunks[row >>> CHUNK_BITS]![(row & CHUNK_MASK) * WIDTH + index]!;
  }
}

/** Indexes per row. */
const WIDTH = 4;
const CHUNK_BITS = 12;
/** Rows per chunk: 4,096 rows of 4 indexes, 64 KiB. */
const CHUNK_ROWS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_ROWS - 1;
/** Rows the first array has room for at first. */
const FIRST_ROWS = 64;
