import { compareLogPositions, type IEventStore, LOG_START, type LogPosition, type StoredEvent } from 'annals';

/**
 * The log from its start through our last append, `through`. On a busy PostgreSQL server one
 * read right after an append can show the newest commits a moment late (docs/postgres.md, "A
 * moment late, never wrongly"), so the pages are read on until they reach our own last position.
 */
export async function readLogThrough(eventStore: IEventStore, through: LogPosition): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = LOG_START;
  while (compareLogPositions(after, through) < 0) {
    const page = await eventStore.readAll({ after, limit: 1000 });
    events.push(...page.events);
    after = page.next;
    if (page.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return events;
}
