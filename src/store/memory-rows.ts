/**
 * The rows of the in-memory store's log: four references per row, side by side, appended in log
 * order.
 *
 * The first {@link CHUNK_ROWS} rows live in an array that grows as usual; later ones in arrays of
 * exactly {@link CHUNK_ROWS} rows, made once and never copied. One growing array would be copied
 * again and again as it grows (three times its final size in all), and each new copy is a young
 * object that the garbage collector scans in full.
 *
 * @internal
 */
export class MemoryRows {
  readonly #chunks: unknown[][] = [[]];

  /** Appends row `row` (the number of rows so far) with its four references. */
  push(row: number, a: unknown, b: unknown, c: unknown, d: unknown): void {
    if (row < CHUNK_ROWS) {
      this.#chunks[0]!.push(a, b, c, d);
      return;
    }
    let chunk = this.#chunks[row >>> CHUNK_BITS];
    if (chunk === undefined) {
      chunk = new Array<unknown>(CHUNK_ROWS * WIDTH);
      this.#chunks.push(chunk);
    }
    const base = (row & CHUNK_MASK) * WIDTH;
    chunk[base] = a;
    chunk[base + 1] = b;
    chunk[base + 2] = c;
    chunk[base + 3] = d;
  }

  /** The array that holds row `row` (which must exist); its references start at {@link MemoryRows.offset}. */
  chunk(row: number): readonly unknown[] {
    return this.#chunks[row >>> CHUNK_BITS]!;
  }

  /** Where the references of row `row` start in its {@link MemoryRows.chunk}. */
  offset(row: number): number {
    return (row & CHUNK_MASK) * WIDTH;
  }

  /** Reference `index` (0 to 3) of row `row`. */
  at(row: number, index: number): unknown {
    return this.#chunks[row >>> CHUNK_BITS]![(row & CHUNK_MASK) * WIDTH + index];
  }
}

/** References per row. */
const WIDTH = 4;
const CHUNK_BITS = 12;
/** Rows per chunk: a chunk is a large object of its own (4,096 rows of 4 references: 128 KiB). */
const CHUNK_ROWS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_ROWS - 1;
