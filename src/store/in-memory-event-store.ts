import { DuplicateEventError, InvalidArgumentError } from '../errors.js';
import {
  type EventMetadata,
  LOG_START,
  type LogPosition,
  type NewEvent,
  type StoredEvent,
} from '../events/event-envelope.js';
import { eventIdOf } from '../events/event-id.js';
import {
  assertValidId,
  type CopiedEvent,
  decodeOwnRaw,
  type EventRegistry,
  encodeToCopy,
  type RawStoredEvent,
} from '../events/event-registry.js';
import { copyJson, type FlatShape } from '../events/json-copy.js';
import {
  instrumentAppend,
  instrumentLoad,
  type StoreTelemetryTarget,
  storeTelemetryTarget,
} from '../observability/store-telemetry.js';
import { telemetry } from '../observability/telemetry.js';
import { assertLogPosition } from './assert-log-position.js';
import type {
  AppendResult,
  CountAfterOptions,
  IEventStore,
  LoadOptions,
  LogHead,
  ReadAllOptions,
  ReadAllResult,
  Unsubscribe,
} from './event-store.js';
import { assertExpectedVersion, checkExpectedVersion, type ExpectedVersionMode } from './expected-version.js';
import { MemoryIds } from './memory-ids.js';
import { MemoryRows } from './memory-rows.js';
import { MemoryStream } from './memory-stream.js';
import { MemoryValues } from './memory-values.js';
import { normaliseLimit, normaliseLoadRange, normaliseTypes } from './read-options.js';
import { decodeLogPage } from './undecodable-event.js';

/**
 * What events of one type, aggregate type and schema version share: one object for all of them,
 * so a row holds one index instead of three values.
 */
interface RowKind {
  /** Its index in the store's list of kinds: what a row holds. */
  readonly index: number;
  readonly type: string;
  readonly aggregateType: string;
  readonly schemaVersion: number;
}

/**
 * The integers of a row in `#cells` (a {@link MemoryRows}), side by side, read together. First
 * four indexes: its stream's, its kind's, its payload's shape (-1 for a payload kept whole) and
 * its metadata copy's.
 */
const STREAM = 0;
const KIND = 1;
const SHAPE = 2;
const METADATA = 3;
/** Its version in its stream, and the id of the append that wrote it. */
const VERSION = 4;
const TRANSACTION = 5;
/** Where its payload starts in `#values`: a flat payload's values, or the copy of any other. */
const PAYLOAD_AT = 6;
/**
 * Its timestamp in milliseconds, an integer of up to 53 bits: the multiple of 2^32 below it,
 * then the rest (0 to 2^32 - 1, kept as its 32 bits).
 */
const TIME_HIGH = 7;
const TIME_LOW = 8;
/**
 * Its event id: for an id the registry made in the row's millisecond, the id's counter (0 to
 * 2^26 - 1; `eventIdOf` writes the text again from the two); for any other, -1 - its index in
 * `#ids`.
 */
const ID = 9;
const ROW_WIDTH = 10;
const TWO_TO_32 = 4_294_967_296;
/**
 * What a row's integers can count up to: values in `#values`, and so rows, versions and appends
 * (a row holds at least one value).
 */
const MAX_VALUES = 2_147_483_647;

const MEMORY_TARGET: StoreTelemetryTarget = storeTelemetryTarget('memory');

/**
 * Options of {@link InMemoryEventStore}.
 *
 * @category Stores
 */
export interface InMemoryEventStoreOptions {
  /** The event types the store accepts, with their schemas (and upcasters). */
  readonly registry: EventRegistry;
}

/**
 * An event store in process memory, with the same semantics as the PostgreSQL store: atomic
 * appends, every expected-version mode, idempotent event ids and an ordered global log.
 * For unit tests, examples and prototypes; it keeps nothing across restarts.
 *
 * Each append runs its checks and its write in one synchronous step, so interleaved async
 * appends to one stream behave like racing database transactions: exactly one wins per version.
 *
 * @example
 * ```ts
 * const store = new InMemoryEventStore({ registry: new EventRegistry([OrderCreated]) });
 * await store.append('order-1', NO_STREAM, [{ type: 'OrderCreated', aggregateType: 'Order', payload }]);
 * ```
 *
 * @category Stores
 */
export class InMemoryEventStore implements IEventStore {
  readonly #registry: EventRegistry;
  readonly #streams = new Map<string, MemoryStream>();
  // The global log as columns: the event at log index `i` has global position `i + 1`. A row is
  // a few numbers in typed arrays and its payload's values, not an object of its own: a million
  // events are not a million more objects for the garbage collector to copy and mark.
  #length = 0;
  /**
   * The integers of each row, side by side (see {@link STREAM} and after): indexes into
   * `#streamList`, `#kindList`, `#shapes` and `#metadataCopies`, then its numbers.
   */
  readonly #cells = new MemoryRows(ROW_WIDTH);
  readonly #streamList: MemoryStream[] = [];
  readonly #kindList: RowKind[] = [];
  /** The shapes of flat payloads, each once, with their indexes. */
  readonly #shapes: FlatShape[] = [];
  readonly #shapeIndexes = new Map<FlatShape, number>();
  #lastShape: FlatShape | undefined;
  #lastShapeIndex = -1;
  /**
   * The store's own deep copies of metadata (what a round trip through JSON text gives; never
   * handed out): consecutive rows with equal flat metadata share one.
   */
  readonly #metadataCopies = new MemoryValues();
  /** The event ids that a row cannot keep as a counter (see {@link ID}): ids given, mostly. */
  readonly #ids = new MemoryIds();
  /** Payloads, in log order: a flat one as its values, any other as the store's own deep copy. */
  readonly #values = new MemoryValues();
  /**
   * The rows whose ids grow in log order (every id the registry makes, and any given id that
   * sorts after the last one of them), as runs of consecutive log indexes: run `k` is
   * `#runStarts[k]` up to `#runEnds[k]` (excluded). Found by binary search, with no index entry
   * per event: most logs are one run, or a few.
   */
  readonly #runStarts: number[] = [];
  readonly #runEnds: number[] = [];
  /** The id of the last row of the last run. */
  #lastSortedId: string | undefined;
  /** The log index of every other id, by id. */
  readonly #byEventId = new Map<string, number>();
  /** The kind of the last row, which the next row shares when it is the same. */
  #lastKind: RowKind | undefined;
  readonly #kindsByType = new Map<string, RowKind[]>();
  readonly #listeners = new Set<() => void>();
  #nextTransactionId = 1;
  /** The transaction id of the row read last, as a number and as a bigint. */
  #readTransactionId = 0;
  #readTransactionIdBig = 0n;
  /** The metadata copy of the last row, which the next row shares when its metadata is the same (see `encodeToCopy`). */
  #lastMetadata: EventMetadata | undefined;
  /** The index of {@link InMemoryEventStore.#lastMetadata} in `#metadataCopies`. */
  #lastMetadataIndex = -1;

  constructor(options: InMemoryEventStoreOptions) {
    if (!options?.registry) throw new InvalidArgumentError('InMemoryEventStore needs a `registry`');
    this.#registry = options.registry;
  }

  /** The registry the store validates and decodes with. */
  get registry(): EventRegistry {
    return this.#registry;
  }

  append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    const found = telemetry();
    if (found === null || !found.live) return this.#append(aggregateId, expectedVersion, events);
    return this.#appendTraced(aggregateId, expectedVersion, events);
  }

  // A method of its own: the closure it makes would otherwise cost every append (without
  // telemetry too) the allocation of its context.
  #appendTraced(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    return instrumentAppend(MEMORY_TARGET, aggregateId, expectedVersion, events, (traced) =>
      this.#append(aggregateId, expectedVersion, traced),
    );
  }

  /** {@link InMemoryEventStore.#write} as a promise: a rejected one for what it throws. */
  #append(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    // Not an async function: it never awaits, and an async call allocates more than a resolved promise.
    try {
      return Promise.resolve(this.#write(aggregateId, expectedVersion, events));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Checks and writes an append, all in one synchronous step. */
  #write(
    aggregateId: string,
    expectedVersion: ExpectedVersionMode,
    events: readonly NewEvent[],
  ): AppendResult {
    // A stream's id was checked when the stream began.
    let stream = this.#streams.get(aggregateId);
    if (stream === undefined) assertValidId('aggregateId', aggregateId);
    assertExpectedVersion(expectedVersion);
    if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array');
    const count = events.length;
    const encoded = new Array<CopiedEvent>(count);
    // An event whose flat metadata equals the last row's (or the previous event's) shares its copy.
    let previousMetadata = this.#lastMetadata;
    // The payload values the append adds (a row's integers are 32-bit: checked before writing).
    let valuesNeeded = 0;
    for (let index = 0; index < count; index++) {
      const event = encodeToCopy(this.#registry, events[index]!, previousMetadata);
      encoded[index] = event;
      previousMetadata = event.metadataCopy;
      valuesNeeded += event.payloadValues?.length ?? 1;
    }
    if (count > 1) assertDistinctIds(encoded);

    // From here to the end of the write nothing awaits: the check and the write are atomic.
    const duplicate = this.#findDuplicate(aggregateId, encoded);
    if (duplicate) return duplicate;

    // A new stream is looked up again after encoding: a schema's transform could have begun it
    // meanwhile (a known one stays the same object, its length read below).
    if (stream === undefined) stream = this.#streams.get(aggregateId);
    const current = stream === undefined ? 0 : stream.length;
    checkExpectedVersion(aggregateId, expectedVersion, current);
    if (count === 0) {
      return { aggregateId, nextExpectedVersion: current, events: [], duplicate: false };
    }
    // A row's integers are 32-bit: refused before anything is written.
    if (this.#values.length > MAX_VALUES - valuesNeeded) {
      throw new InvalidArgumentError(
        `the in-memory store is full: it holds at most ${MAX_VALUES} payload values, and ${this.#values.length} are stored`,
      );
    }
    if (stream === undefined) {
      stream = new MemoryStream(aggregateId, this.#streamList.length);
      this.#streamList.push(stream);
      this.#streams.set(aggregateId, stream);
    }
    const transactionId = this.#nextTransactionId++;
    const transactionIdBig = BigInt(transactionId);
    const stored = new Array<StoredEvent>(count);
    for (let index = 0; index < count; index++) {
      const event = encoded[index]!;
      const metadata = event.metadataCopy;
      const kind = this.#kindOf(event);
      const row = this.#length;
      const version = current + index + 1;
      this.#length = row + 1;
      const flat = event.payloadValues;
      const values = this.#values;
      const payloadAt = values.length;
      let shape = -1;
      if (flat !== undefined) {
        shape = this.#shapeIndex(event.payloadShape!);
        values.pushAll(flat);
      } else {
        values.push(event.payloadCopy);
      }
      if (metadata !== this.#lastMetadata) {
        this.#lastMetadata = metadata;
        this.#lastMetadataIndex = this.#metadataCopies.length;
        this.#metadataCopies.push(metadata);
      }
      const cells = this.#cells.chunkToWrite(row);
      const cell = this.#cells.offset(row);
      const timestampMs = event.timestamp.getTime();
      const timeHigh = Math.floor(timestampMs / TWO_TO_32);
      cells[cell + STREAM] = stream.index;
      cells[cell + KIND] = kind.index;
      cells[cell + SHAPE] = shape;
      cells[cell + METADATA] = this.#lastMetadataIndex;
      cells[cell + VERSION] = version;
      cells[cell + TRANSACTION] = transactionId;
      cells[cell + PAYLOAD_AT] = payloadAt;
      cells[cell + TIME_HIGH] = timeHigh;
      // The rest below 2^32, stored as its 32 bits (an Int32Array keeps them; `>>> 0` reads them back).
      cells[cell + TIME_LOW] = timestampMs - timeHigh * TWO_TO_32;
      if (event.idCounter >= 0) {
        cells[cell + ID] = event.idCounter;
      } else {
        cells[cell + ID] = -1 - this.#ids.length;
        this.#ids.push(event.eventId);
      }
      stream.push(row);
      this.#index(event.eventId, row);
      // The append's result, as the PostgreSQL store's: the payload as validated on the way in
      // (the stored copy is the store's own), fresh metadata, timestamp and positions.
      stored[index] = {
        eventId: event.eventId,
        aggregateId,
        aggregateType: kind.aggregateType,
        type: kind.type,
        version,
        schemaVersion: kind.schemaVersion,
        timestamp: event.timestamp,
        payload: event.payload,
        metadata: copyJson(metadata),
        globalPosition: BigInt(row + 1),
        transactionId: transactionIdBig,
      };
    }
    if (this.#listeners.size > 0) this.#notify();
    return { aggregateId, nextExpectedVersion: stream.length, events: stored, duplicate: false };
  }

  load(aggregateId: string, options: LoadOptions = {}): Promise<StoredEvent[]> {
    return instrumentLoad(MEMORY_TARGET, aggregateId, async () => {
      assertValidId('aggregateId', aggregateId);
      const { fromVersion, toVersion } = normaliseLoadRange(options);
      const stream = this.#streams.get(aggregateId);
      if (stream === undefined) return [];
      const start = fromVersion - 1;
      const end = Math.min(toVersion, stream.length);
      if (start >= end) return [];
      const events = new Array<StoredEvent>(end - start);
      for (let index = start; index < end; index++) events[index - start] = this.#decode(stream.rowAt(index));
      return events;
    });
  }

  async streamVersion(aggregateId: string): Promise<number> {
    assertValidId('aggregateId', aggregateId);
    return this.#streams.get(aggregateId)?.length ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    // Only a missing `after` means the start: null or any other malformed value is refused.
    const after = options.after === undefined ? LOG_START : options.after;
    assertLogPosition(after, 'readAll: after');
    const limit = normaliseLimit(options.limit);
    const types = normaliseTypes(options.types);
    const length = this.#length;
    // Positions and transaction ids both grow with the log, so the first event after `after`
    // is found by binary search on the position.
    let low = 0;
    let high = length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#isAtOrBefore(middle, after)) low = middle + 1;
      else high = middle;
    }
    let raws: RawStoredEvent[];
    let last: number | undefined;
    if (types) {
      const rows = this.#rowsOfTypes(low, limit, new Set(types));
      raws = new Array<RawStoredEvent>(rows.length);
      for (let index = 0; index < rows.length; index++) raws[index] = this.#raw(rows[index]!);
      // A filtered page that is not full covered the whole log: `next` skips the other types too.
      last = rows.length < limit && length > low ? length - 1 : rows.at(-1);
    } else {
      const end = Math.min(length, low + limit);
      raws = new Array<RawStoredEvent>(end - low);
      for (let row = low; row < end; row++) raws[row - low] = this.#raw(row);
      last = end > low ? end - 1 : undefined;
    }
    const { events, undecodable } = decodeLogPage(
      this.#registry,
      raws,
      options.onUndecodable ?? 'throw',
      true,
    );
    return {
      events,
      undecodable,
      next: last === undefined ? after : this.#positionOf(last),
      caughtUp: raws.length < limit,
    };
  }

  async head(): Promise<LogHead> {
    const last = this.#length - 1;
    return last >= 0
      ? { position: this.#positionOf(last), timestamp: new Date(this.#timestampOf(last)) }
      : { position: LOG_START, timestamp: undefined };
  }

  async countAfter(position: LogPosition, options: CountAfterOptions = {}): Promise<bigint> {
    assertLogPosition(position, 'countAfter: position');
    const types = normaliseTypes(options.types);
    const wanted = types ? new Set(types) : undefined;
    let count = 0n;
    for (let row = this.#length - 1; row >= 0; row--) {
      if (this.#isAtOrBefore(row, position)) break;
      if (!wanted || wanted.has(this.#kindOfRow(row).type)) count++;
    }
    return count;
  }

  onAppended(listener: () => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** The shared kind of a new row. */
  #kindOf(event: CopiedEvent): RowKind {
    const last = this.#lastKind;
    if (
      last !== undefined &&
      last.type === event.type &&
      last.aggregateType === event.aggregateType &&
      last.schemaVersion === event.schemaVersion
    ) {
      return last;
    }
    let kinds = this.#kindsByType.get(event.type);
    if (kinds === undefined) {
      kinds = [];
      this.#kindsByType.set(event.type, kinds);
    }
    // A loop, not `find`: its callback's context would be allocated on every call, the first
    // test's included.
    let kind: RowKind | undefined;
    for (let index = 0; index < kinds.length && kind === undefined; index++) {
      const known = kinds[index]!;
      if (known.aggregateType === event.aggregateType && known.schemaVersion === event.schemaVersion)
        kind = known;
    }
    if (kind === undefined) {
      kind = {
        index: this.#kindList.length,
        type: event.type,
        aggregateType: event.aggregateType,
        schemaVersion: event.schemaVersion,
      };
      kinds.push(kind);
      this.#kindList.push(kind);
    }
    this.#lastKind = kind;
    return kind;
  }

  /** The index of a flat payload's shape in `#shapes`, which it joins when it is new. */
  #shapeIndex(shape: FlatShape): number {
    if (shape === this.#lastShape) return this.#lastShapeIndex;
    let index = this.#shapeIndexes.get(shape);
    if (index === undefined) {
      index = this.#shapes.length;
      this.#shapes.push(shape);
      this.#shapeIndexes.set(shape, index);
    }
    this.#lastShape = shape;
    this.#lastShapeIndex = index;
    return index;
  }

  /** Makes a new row findable by its id. */
  #index(eventId: string, row: number): void {
    const last = this.#lastSortedId;
    // An id goes to the runs when it sorts after the last one there (ids the registry makes
    // always do: they are made in increasing order and written at once); any other id to the map.
    if (last === undefined || eventId > last) {
      const ends = this.#runEnds;
      const runs = ends.length;
      if (runs > 0 && ends[runs - 1] === row) ends[runs - 1] = row + 1;
      else {
        this.#runStarts.push(row);
        ends.push(row + 1);
      }
      this.#lastSortedId = eventId;
    } else {
      this.#byEventId.set(eventId, row);
    }
  }

  /** The log index of an event id, or -1 when it is not stored. */
  #find(eventId: string): number {
    if (this.#byEventId.size > 0) {
      const row = this.#byEventId.get(eventId);
      if (row !== undefined) return row;
    }
    const last = this.#lastSortedId;
    if (last === undefined || eventId > last) return -1;
    const starts = this.#runStarts;
    // The last run whose first id is not after `eventId`, then the row in it.
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#idOf(starts[middle]!) <= eventId) low = middle + 1;
      else high = middle;
    }
    if (low === 0) return -1;
    const end = this.#runEnds[low - 1]!;
    low = starts[low - 1]!;
    high = end;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#idOf(middle) < eventId) low = middle + 1;
      else high = middle;
    }
    return low < end && this.#idOf(low) === eventId ? low : -1;
  }

  #findDuplicate(aggregateId: string, encoded: readonly CopiedEvent[]): AppendResult | undefined {
    let found: number[] | undefined;
    for (let index = 0; index < encoded.length; index++) {
      const row = this.#find(encoded[index]!.eventId);
      if (row < 0) continue;
      found ??= new Array<number>(encoded.length).fill(-1);
      found[index] = row;
    }
    return found === undefined ? undefined : this.#duplicateResult(aggregateId, encoded, found);
  }

  /**
   * The result of an append whose event ids are stored already (`found`: their rows, -1 for one
   * not found yet), or {@link DuplicateEventError} when it is not the same append again. Apart
   * from {@link InMemoryEventStore.#findDuplicate}: its closures' context would be allocated on
   * every call.
   */
  #duplicateResult(aggregateId: string, encoded: readonly CopiedEvent[], found: number[]): AppendResult {
    for (let index = 0; index < encoded.length; index++) {
      if (found[index]! < 0) found[index] = this.#find(encoded[index]!.eventId);
    }
    const first = found[0]!;
    const inStream = (row: number) => row >= 0 && this.#streamOfRow(row).id === aggregateId;
    const sameAppend =
      inStream(first) &&
      found.every(
        (row, index) =>
          inStream(row) &&
          this.#transactionIdOf(row) === this.#transactionIdOf(first) &&
          this.#versionOf(row) === this.#versionOf(first) + index,
      );
    if (!sameAppend) {
      const id = encoded[found.findIndex((row) => row >= 0)]!.eventId;
      throw new DuplicateEventError(id, 'it belongs to another stream or another append');
    }
    // The original append's result: its version is that of its last event, as when it first ran.
    return {
      aggregateId,
      nextExpectedVersion: this.#versionOf(found.at(-1)!),
      events: found.map((row) => this.#decode(row)),
      duplicate: true,
    };
  }

  /** The first `limit` rows from index `from` on whose type is in `types`. */
  #rowsOfTypes(from: number, limit: number, types: ReadonlySet<string>): number[] {
    const rows: number[] = [];
    for (let row = from; row < this.#length && rows.length < limit; row++) {
      if (types.has(this.#kindOfRow(row).type)) rows.push(row);
    }
    return rows;
  }

  /** True when the row at log index `row` is at `position` or before it in the log. */
  #isAtOrBefore(row: number, position: LogPosition): boolean {
    // Numbers and bigints compare exactly.
    const transactionId = this.#transactionIdOf(row);
    if (transactionId !== Number(position.transactionId)) return transactionId < position.transactionId;
    return row + 1 <= position.globalPosition;
  }

  #idOf(row: number): string {
    return this.#idAt(this.#cells.chunk(row), this.#cells.offset(row));
  }

  /** The event id of the row whose integers start at `cell` in `cells`. */
  #idAt(cells: Int32Array, cell: number): string {
    const id = cells[cell + ID]!;
    return id >= 0 ? eventIdOf(timestampOf(cells, cell), id) : this.#ids.at(-1 - id);
  }

  #streamOfRow(row: number): MemoryStream {
    return this.#streamList[this.#cells.at(row, STREAM)]!;
  }

  #kindOfRow(row: number): RowKind {
    return this.#kindList[this.#cells.at(row, KIND)]!;
  }

  #versionOf(row: number): number {
    return this.#cells.at(row, VERSION);
  }

  #transactionIdOf(row: number): number {
    return this.#cells.at(row, TRANSACTION);
  }

  /** The timestamp of the row at log index `row`, in milliseconds. */
  #timestampOf(row: number): number {
    const cells = this.#cells.chunk(row);
    const cell = this.#cells.offset(row);
    return timestampOf(cells, cell);
  }

  /** The log position of the row at log index `row`. */
  #positionOf(row: number): LogPosition {
    return { transactionId: BigInt(this.#transactionIdOf(row)), globalPosition: BigInt(row + 1) };
  }

  #decode(row: number): StoredEvent {
    return decodeOwnRaw(this.#registry, this.#raw(row));
  }

  /**
   * A row as read: fresh copies of everything, for the registry to upcast and validate. Its
   * fields are a {@link StoredEvent}'s, in their order: it becomes the event (see `decodeOwnRaw`).
   */
  #raw(row: number): RawStoredEvent {
    const cells = this.#cells.chunk(row);
    const cell = this.#cells.offset(row);
    const kind = this.#kindList[cells[cell + KIND]!]!;
    const transactionId = cells[cell + TRANSACTION]!;
    // Bigints are immutable: the rows of one append (read one after another) share one.
    if (transactionId !== this.#readTransactionId) {
      this.#readTransactionId = transactionId;
      this.#readTransactionIdBig = BigInt(transactionId);
    }
    const payloadAt = cells[cell + PAYLOAD_AT]!;
    const shape = cells[cell + SHAPE]!;
    return {
      eventId: this.#idAt(cells, cell),
      aggregateId: this.#streamList[cells[cell + STREAM]!]!.id,
      aggregateType: kind.aggregateType,
      type: kind.type,
      version: cells[cell + VERSION]!,
      schemaVersion: kind.schemaVersion,
      timestamp: new Date(timestampOf(cells, cell)),
      payload:
        shape < 0 ? copyJson(this.#values.at(payloadAt)) : this.#flatPayload(this.#shapes[shape]!, payloadAt),
      metadata: copyJson(this.#metadataCopies.at(cells[cell + METADATA]!) as EventMetadata),
      globalPosition: BigInt(row + 1),
      transactionId: this.#readTransactionIdBig,
    };
  }

  /** A fresh copy of the flat payload whose values start at `at`. */
  #flatPayload(shape: FlatShape, at: number): Record<string, unknown> {
    const out: Record<string, unknown> = { ...shape.template };
    const keys = shape.keys;
    const values = this.#values;
    for (let index = 0; index < keys.length; index++) out[keys[index]!] = values.at(at + index);
    return out;
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      queueMicrotask(() => {
        try {
          listener();
        } catch {
          // A listener's failure is its own; appends never fail because of it.
        }
      });
    }
  }
}

/** The timestamp of the row whose integers start at `cell` in `cells`, in milliseconds. */
function timestampOf(cells: Int32Array, cell: number): number {
  return cells[cell + TIME_HIGH]! * TWO_TO_32 + (cells[cell + TIME_LOW]! >>> 0);
}

/** Throws {@link InvalidArgumentError} when one append holds the same event id twice. */
export function assertDistinctIds(encoded: readonly { readonly eventId: string }[]): void {
  const seen = new Set<string>();
  for (const event of encoded) {
    if (seen.has(event.eventId)) {
      throw new InvalidArgumentError(`event id "${event.eventId}" appears twice in one append`);
    }
    seen.add(event.eventId);
  }
}
