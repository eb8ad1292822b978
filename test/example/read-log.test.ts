import {
  defineEvent,
  EventRegistry,
  type IEventStore,
  InMemoryEventStore,
  LOG_START,
  logPositionOf,
  NO_STREAM,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readLogThrough } from '../../examples/order/read-log.js';

const Noted = defineEvent({ type: 'Noted', schema: z.object({ n: z.number() }) });

describe("the Order example's read of the log", () => {
  it('reads on through the last append when a read shows the newest commit late', async () => {
    const inner = new InMemoryEventStore({ registry: new EventRegistry([Noted]) });
    const appended = [];
    for (let n = 1; n <= 3; n++) {
      const result = await inner.append(`note-${n}`, NO_STREAM, [
        { type: 'Noted', aggregateType: 'Note', payload: { n } },
      ]);
      appended.push(result.events[0]!);
    }
    const last = appended.at(-1)!;
    // The first read hides the last commit, as a busy PostgreSQL server can for one read
    // (docs/postgres.md, "A moment late, never wrongly"); its `next` covers only what it showed.
    let reads = 0;
    const late: IEventStore = Object.create(inner, {
      readAll: {
        value: async (options: Parameters<IEventStore['readAll']>[0]) => {
          const page = await inner.readAll(options);
          if (++reads > 1) return page;
          const events = page.events.filter((event) => event.globalPosition < last.globalPosition);
          const next = events.at(-1) ? logPositionOf(events.at(-1)!) : (options?.after ?? LOG_START);
          return { ...page, events, next, caughtUp: true };
        },
      },
    });
    const events = await readLogThrough(late, logPositionOf(last));
    expect(events.map((event) => event.eventId)).toEqual(appended.map((event) => event.eventId));
    expect(reads).toBe(2);
  });
});
