/**
 * Event ids that the in-memory store keeps as text (those it cannot keep as a counter: ids given
 * with the events, mostly), in log order: each block of {@link BLOCK_ROWS} ids is kept as one
 * string (the ids one after another) with where each ends, and read back as a slice of it. A
 * string per event is an object per event, which the garbage collector copies as it ages; one
 * string per block costs it almost nothing, and V8 slices a string without copying.
 * The ids of the block being filled stay as given until it is full.
 *
 * @internal
 */
export class MemoryIds {
  /** The text of each full block. */
  readonly #texts: string[] = [];
  /** The ids of the block being filled. */
  #pending: string[] = [];
  /** Where each id ends in its block's text (ids are at most 512 characters: a block's text fits 16 bits). */
  #ends = new Uint16Array(FIRST_CAPACITY);
  #length = 0;

  /** How many ids are kept. */
  get length(): number {
    return this.#length;
  }

  /** Keeps `id` after the others: its index is the {@link MemoryIds.length} before. */
  push(id: string): void {
    const row = this.#length;
    if (row === this.#ends.length) {
      const grown = new Uint16Array(row * 2);
      grown.set(this.#ends);
      this.#ends = grown;
    }
    this.#ends[row] = ((row & BLOCK_MASK) === 0 ? 0 : this.#ends[row - 1]!) + id.length;
    this.#length = row + 1;
    const pending = this.#pending;
    pending.push(id);
    if (pending.length === BLOCK_ROWS) {
      // One flat string for the block; its ids become garbage while still young.
      this.#texts.push(pending.join(''));
      this.#pending = [];
    }
  }

  /** The id at index `row` (below {@link MemoryIds.length}). */
  at(row: number): string {
    const block = row >>> BLOCK_BITS;
    if (block === this.#texts.length) return this.#pending[row & BLOCK_MASK]!;
    const start = (row & BLOCK_MASK) === 0 ? 0 : this.#ends[row - 1]!;
    return this.#texts[block]!.slice(start, this.#ends[row]);
  }
}

const BLOCK_BITS = 6;
/** Ids per block. */
const BLOCK_ROWS = 1 << BLOCK_BITS;
const BLOCK_MASK = BLOCK_ROWS - 1;
const FIRST_CAPACITY = 256;
