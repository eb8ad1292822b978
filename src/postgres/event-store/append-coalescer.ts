import { type AppendResult, type StoreTelemetryTarget, telemetry } from '../../core.js';
import { isConnectionError, sqlStateOf } from '../driver/errors.js';
import type { PgPool, PgRow } from '../driver/pg-client.js';
import { queryKeepingConnection } from '../driver/pool-query.js';
import { isUniqueViolation, toAppendError } from './append-errors.js';
import { appendGroupSql } from './append-group-sql.js';
import { isoTimestamp, oneEventAppendResult, type PreparedAppend } from './append-input.js';
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
 * - The group's INSERT checks each append's expectation on its own row (see
 *   `append-group-sql.ts`). It is sent first as a statement that fails as a whole when a row's
 *   version or event id is taken (cheaper for the server); when it does, nothing was written and
 *   the group is sent again as one that skips such rows (as are the next groups for a while).
 *   An append not written by the group is then run alone, through the store's usual path, which
 *   tells a conflict (with the actual version) from a retry of a stored append and from a
 *   foreign event id.
 * - A group also carries the store's announcement (a NOTIFY) when one is due (see
 *   `append-announcer.ts`): it is delivered at the group's commit.
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
  /** The LISTEN/NOTIFY channel of the store's announcements (see {@link AppendCoalescer.carryNotifications}). */
  readonly channel: string;
  /** The attributes of the group size metric (the store's `db.*` attributes). */
  readonly metricAttributes: StoreTelemetryTarget['append'];
}

/** Where a group takes a due NOTIFY from (the store's `AppendAnnouncer`). */
export interface DueNotifications {
  /** A due NOTIFY, taken: call the function with whether the statement sending it succeeded. */
  takeDue(): ((committed: boolean) => void) | undefined;
}

interface Waiting {
  readonly prepared: PreparedAppend;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** The group statement's one row (see `append-group-sql.ts`). */
interface GroupRow extends PgRow {
  transaction_id: string | null;
  /** JSON text: `[[event id, version, global position], ...]` of the written events. */
  written: string | null;
}

/** A group: its appends by event id, in the order they were queued. */
type Group = Map<string, Waiting>;

/** True for an append the coalescer can put into a group: one event, on the fast path. */
export function isCoalescible(prepared: PreparedAppend): boolean {
  return prepared.single && prepared.fast;
}

/** Queues and groups a store's single-event autocommit appends (see the module comment). */
export class AppendCoalescer {
  readonly #pool: PgPool;
  /** The group statements: `[notify ? 1 : 0][skipTaken ? 1 : 0][allAtBase ? 1 : 0]`. */
  readonly #statements: readonly (readonly (readonly NamedSql[])[])[];
  /** Groups still to be sent with `skipTaken` after one met a taken version or event id. */
  #skipTakenGroups = 0;
  readonly #settings: AppendCoalescerSettings;
  readonly #runAlone: (prepared: PreparedAppend) => Promise<AppendResult>;
  #running = 0;
  #waiting: Waiting[] = [];
  #idle: Array<() => void> = [];
  #scheduled = false;
  #notifications: DueNotifications | undefined;

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
    this.#statements = [false, true].map((notify) =>
      [false, true].map((skipTaken) =>
        [false, true].map((allAtBase) => appendGroupSql(schema, { notify, skipTaken, allAtBase })),
      ),
    );
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

  /**
   * Sends the store's announcements with its groups: each group first takes a due NOTIFY, if
   * any, and sends it in its transaction (delivered at its commit).
   */
  carryNotifications(notifications: DueNotifications): void {
    this.#notifications = notifications;
  }

  /** True when appends are waiting: a group (which takes a due NOTIFY) will be sent. */
  willSendSoon(): boolean {
    return this.#waiting.length > 0;
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
      const notify = this.#notifications?.takeDue();
      if (notify) {
        // A group of one is sent as a group too: it carries the NOTIFY.
        void this.#group(group, notify);
      } else if (group.size === 1) {
        const only = group.values().next().value as Waiting;
        this.#alone(only.prepared).then(only.resolve, only.reject);
      } else {
        void this.#group(group, undefined);
      }
    }
  }

  /** The first waiting appends, at most one per stream and per event id, up to the group size. */
  #takeGroup(): Group {
    const waiting = this.#waiting;
    const max = this.#settings.maxGroupSize;
    const group: Group = new Map();
    if (waiting.length <= 1) {
      const only = waiting[0]!;
      group.set(only.prepared.events[0]!.eventId, only);
      this.#waiting = [];
      return group;
    }
    const streams = new Set<string>();
    const rest: Waiting[] = [];
    for (const item of waiting) {
      const { aggregateId } = item.prepared;
      const eventId = item.prepared.events[0]!.eventId;
      if (group.size < max && !streams.has(aggregateId) && !group.has(eventId)) {
        streams.add(aggregateId);
        group.set(eventId, item);
      } else {
        rest.push(item);
      }
    }
    this.#waiting = rest;
    return group;
  }

  async #group(group: Group, notify: ((committed: boolean) => void) | undefined): Promise<void> {
    this.#running += 1;
    telemetry()?.instruments?.appendGroupSize.record(group.size, this.#settings.metricAttributes);
    try {
      let row: GroupRow | undefined;
      try {
        row = await this.#send(group, notify !== undefined);
        notify?.(true);
      } catch (error) {
        notify?.(false);
        if (sqlStateOf(error) !== undefined && !isConnectionError(error)) {
          // The server refused the statement, so none of it was written: decide each alone.
          await Promise.all(
            [...group.values()].map((item) => this.#settle(item, this.#runAlone(item.prepared))),
          );
        } else {
          for (const item of group.values()) item.reject(toAppendError(error, item.prepared));
        }
        return;
      }
      if (row?.written != null && row.transaction_id != null) {
        const transactionId = BigInt(row.transaction_id);
        for (const [eventId, version, position] of JSON.parse(row.written) as Array<
          [string, number, string]
        >) {
          const item = group.get(eventId);
          if (!item) continue;
          group.delete(eventId);
          try {
            item.resolve(oneEventAppendResult(item.prepared, version, position, transactionId));
          } catch (error) {
            item.reject(error);
          }
        }
      }
      // The appends the group did not write: each is decided alone (see the module comment).
      if (group.size > 0) {
        await Promise.all(
          [...group.values()].map((item) => this.#settle(item, this.#runAlone(item.prepared))),
        );
      }
    } finally {
      this.#finished();
    }
  }

  /**
   * Sends a group's rows, with the statement for `allAtBase` when every append of the group goes
   * right after its base version (see `append-group-sql.ts`). First without `skipTaken` (cheaper for the server), unless a recent
   * group met a taken version or event id: such a statement fails as a whole, having written
   * nothing, and the group is sent again with `skipTaken`, as are the next
   * {@link SKIP_TAKEN_GROUPS} groups.
   */
  async #send(group: Group, notify: boolean): Promise<GroupRow | undefined> {
    let allAtBase = true;
    for (const { prepared } of group.values()) allAtBase &&= prepared.fastAt;
    const json = groupJson(group);
    const statements = this.#statements[notify ? 1 : 0]!;
    const at = allAtBase ? 1 : 0;
    const values = notify ? [json, this.#settings.channel] : [json];
    if (this.#skipTakenGroups === 0) {
      try {
        // A taken version or event id fails the statement: the connection is kept (see queryKeepingConnection).
        return (await queryKeepingConnection<GroupRow>(this.#pool, { ...statements[0]![at]!, values }))
          .rows[0];
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        this.#skipTakenGroups = SKIP_TAKEN_GROUPS;
      }
    } else {
      this.#skipTakenGroups -= 1;
    }
    return (await queryKeepingConnection<GroupRow>(this.#pool, { ...statements[1]![at]!, values })).rows[0];
  }

  #settle(item: Waiting, outcome: Promise<AppendResult>): Promise<void> {
    return outcome.then(item.resolve, item.reject);
  }
}

/**
 * After a group met a taken version or event id, this many groups are sent with `skipTaken`
 * before the cheaper statement is tried again: where conflicts are common, a group is not sent
 * twice each time.
 */
const SKIP_TAKEN_GROUPS = 32;

/** Runs `task` after the current turn of the event loop (its I/O and microtasks). */
const nextTurn: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => setTimeout(task, 0);

/**
 * The group statement's parameter: the appends as one JSON array of rows `[aggregate id, base
 * version, at base, event id, aggregate type, type, schema version, payload, metadata, timestamp]`
 * (see `append-group-sql.ts`). The JSON texts come from the registry, which checked them
 * storable.
 */
function groupJson(group: Group): string {
  let json = '';
  for (const { prepared } of group.values()) {
    const event = prepared.events[0]!;
    json +=
      `,[${JSON.stringify(prepared.aggregateId)},${prepared.base},${prepared.fastAt},` +
      `${JSON.stringify(event.eventId)},${JSON.stringify(event.aggregateType)},${JSON.stringify(event.type)},` +
      `${event.schemaVersion},${event.payloadJson},${event.metadataJson},"${isoTimestamp(event.timestamp)}"]`;
  }
  return `[${json.slice(1)}]`;
}
