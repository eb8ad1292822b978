import type { AppendResult } from '../../core.js';
import { isConnectionError, sqlStateOf } from '../driver/errors.js';
import type { PgPool, PgRow } from '../driver/pg-client.js';
import { toAppendError } from './append-errors.js';
import { appendGroupSql } from './append-group-sql.js';
import { freshAppendResult, type PreparedAppend } from './append-input.js';
import type { NamedSql } from './event-store-sql.js';

/**
 * Write coalescing: single-event autocommit appends that wait for a connection are written
 * together, in one INSERT and one commit, while each caller keeps its own outcome.
 *
 * - When no append statement is running, an append is sent at once, alone, as it would be
 *   without coalescing: nothing waits when there is no queue.
 * - Otherwise appends queue. Whenever a statement finishes, the appends waiting are sent as one
 *   group (at most `maxGroupSize`, at most one per stream, no event id twice); while fewer than
 *   `maxConcurrent` statements run, the queue is also sent after the current turn of the event
 *   loop, so the appends made in one turn go together.
 * - The group's INSERT checks each append's expectation on its own row and skips rows whose
 *   version or event id is taken (see `append-group-sql.ts`). An append not written by the
 *   group is then run alone, through the store's usual path, which tells a conflict (with the
 *   actual version) from a retry of a stored append and from a foreign event id.
 * - A group statement that the server refused (an error with a SQLSTATE, other than a lost
 *   connection) was rolled back as a whole, so each of its appends is run alone and gets its own
 *   result. When the connection is lost the outcome is unknown: every caller of the group gets
 *   the error, and retrying is safe because appends are idempotent by event id.
 *
 * @internal
 * @module
 */

/** How the coalescer sends appends. */
export interface AppendCoalescerSettings {
  /** Append statements run at once before appends queue and are grouped. */
  readonly maxConcurrent: number;
  /** Appends in one group at most. */
  readonly maxGroupSize: number;
}

interface Waiting {
  readonly prepared: PreparedAppend;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface GroupRow extends PgRow {
  event_id: string;
  next_version: number;
  position: string;
  transaction_id: string;
}

/** True for an append the coalescer can put into a group: one event, on the fast path. */
export function isCoalescible(prepared: PreparedAppend): boolean {
  return prepared.single && prepared.fastValues !== undefined;
}

/** Queues and groups a store's single-event autocommit appends (see the module comment). */
export class AppendCoalescer {
  readonly #pool: PgPool;
  readonly #statement: NamedSql;
  readonly #settings: AppendCoalescerSettings;
  readonly #runAlone: (prepared: PreparedAppend) => Promise<AppendResult>;
  #running = 0;
  #waiting: Waiting[] = [];
  #idle: Array<() => void> = [];
  #scheduled = false;

  /**
   * @param schema - the quoted schema of the events table.
   * @param runAlone - the store's own path for one append (fast INSERT, then `append_events`).
   */
  constructor(
    pool: PgPool,
    schema: string,
    settings: AppendCoalescerSettings,
    runAlone: (prepared: PreparedAppend) => Promise<AppendResult>,
  ) {
    this.#pool = pool;
    this.#statement = appendGroupSql(schema);
    this.#settings = settings;
    this.#runAlone = runAlone;
  }

  /**
   * Appends at once when nothing is running, or waits to be sent with the next group: when a
   * statement finishes, or (while a slot is free) once the appends made in the same turn of the
   * event loop have joined the queue.
   */
  append(prepared: PreparedAppend): Promise<AppendResult> {
    if (this.#running === 0 && this.#waiting.length === 0) return this.#alone(prepared);
    return new Promise<AppendResult>((resolve, reject) => {
      this.#waiting.push({ prepared, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Dispatches after the current turn of the event loop if a slot is free. Callers woken by one
   * finished group come back within the same turn; sent one by one as they come, the first would
   * go alone and, its slot freed, so would the next, in a chain of one-event statements.
   */
  #schedule(): void {
    if (this.#scheduled || this.#running >= this.#settings.maxConcurrent) return;
    this.#scheduled = true;
    nextTurn(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #alone(prepared: PreparedAppend): Promise<AppendResult> {
    this.#running += 1;
    try {
      return await this.#runAlone(prepared);
    } finally {
      this.#finished();
    }
  }

  #finished(): void {
    this.#running -= 1;
    this.#dispatch();
    if (this.#running === 0 && this.#waiting.length === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  #dispatch(): void {
    while (this.#running < this.#settings.maxConcurrent && this.#waiting.length > 0) {
      const group = this.#takeGroup();
      if (group.length === 1) {
        const [only] = group as [Waiting];
        this.#alone(only.prepared).then(only.resolve, only.reject);
      } else {
        void this.#group(group);
      }
    }
  }

  /** The first waiting appends, at most one per stream and per event id, up to the group size. */
  #takeGroup(): Waiting[] {
    const waiting = this.#waiting;
    const max = this.#settings.maxGroupSize;
    const streams = new Set<string>();
    const ids = new Set<string>();
    const group: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const item of waiting) {
      const { aggregateId } = item.prepared;
      const eventId = item.prepared.events[0]!.eventId;
      if (group.length < max && !streams.has(aggregateId) && !ids.has(eventId)) {
        streams.add(aggregateId);
        ids.add(eventId);
        group.push(item);
      } else {
        rest.push(item);
      }
    }
    this.#waiting = rest;
    return group;
  }

  async #group(group: readonly Waiting[]): Promise<void> {
    this.#running += 1;
    try {
      let rows: GroupRow[];
      try {
        rows = (await this.#pool.query<GroupRow>({ ...this.#statement, values: [groupJson(group)] })).rows;
      } catch (error) {
        if (sqlStateOf(error) !== undefined && !isConnectionError(error)) {
          // The server refused the statement, so none of it was written: decide each alone.
          await Promise.all(group.map((item) => this.#settle(item, this.#runAlone(item.prepared))));
        } else {
          for (const item of group) item.reject(toAppendError(error, item.prepared));
        }
        return;
      }
      const written = new Map<string, GroupRow>();
      for (const row of rows) written.set(row.event_id, row);
      const alone: Promise<void>[] = [];
      for (const item of group) {
        const row = written.get(item.prepared.events[0]!.eventId);
        if (!row) {
          alone.push(this.#settle(item, this.#runAlone(item.prepared)));
          continue;
        }
        try {
          item.resolve(
            freshAppendResult(item.prepared, {
              next_version: Number(row.next_version),
              positions: [row.position],
              transaction_id: row.transaction_id,
            }),
          );
        } catch (error) {
          item.reject(error);
        }
      }
      await Promise.all(alone);
    } finally {
      this.#finished();
    }
  }

  #settle(item: Waiting, outcome: Promise<AppendResult>): Promise<void> {
    return outcome.then(item.resolve, item.reject);
  }
}

/** Runs `task` after the current turn of the event loop (its I/O and microtasks). */
const nextTurn: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => setTimeout(task, 0);

/**
 * The group statement's parameter: the appends as one JSON array of rows, built from each
 * append's fast-path values (aggregate id, base version, then the event's id, aggregate type,
 * type, schema version, payload and metadata JSON, and timestamp; see append-input.ts). The JSON
 * texts come from the registry, which checked them storable.
 */
function groupJson(group: readonly Waiting[]): string {
  let json = '[';
  for (let index = 0; index < group.length; index++) {
    const { prepared } = group[index]!;
    const v = prepared.fastValues!;
    json +=
      `${index === 0 ? '' : ','}[${JSON.stringify(v[0])},${v[1] as number},${prepared.fastAt},` +
      `${JSON.stringify(v[2])},${JSON.stringify(v[3])},${JSON.stringify(v[4])},${v[5] as number},` +
      `${v[6] as string},${v[7] as string},"${v[8] as string}"]`;
  }
  return `${json}]`;
}
