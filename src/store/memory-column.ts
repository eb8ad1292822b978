/**
 * A column of the in-memory store's log: one value per log index, appended in order.
 *
 * The first {@link CHUNK} values live in an array that grows as usual; later ones in arrays of
 * exactly {@link CHUNK} values, made once and never copied. One growing array would be copied
 * again and again as it grows (three times its final size in all), and each new copy is a young
 * object that the garbage collector scans in full.
 *
 * @internal
 */
export class MemoryColumn<T> {
  readonly #chunks: T[][] = [[]];

  /** Sets the value of log index `row`, which is the column's length (the next index). */
  push(row: number, value: T): void {
    if (row < CHUNK) {
      this.#chunks[0]!.push(value);
      return;
    }
    const index = row >>> CHUNK_BITS;
    let chunk = this.#chunks[index];
    if (chunk === undefined) {
      chunk = new Array<T>(CHUNK);
      this.#chunks.push(chunk);
    }
    chunk[row & CHUNK_MASK] = value;
  }

  /** The value at log index `row` (which must be below the length). */
  at(row: number): T {
    return this.#chunks[row >>> CHUNK_BITS]![row & CHUNK_MASK]!;
  }
}

const CHUNK_BITS = 14;
/** Values per chunk: a chunk of 16,384 references is a large object of its own (128 KiB). */
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
