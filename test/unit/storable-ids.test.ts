/**
 * Ids that PostgreSQL cannot store as they are (a lone surrogate becomes U+FFFD, merging distinct
 * ids; NUL cannot be stored) are refused alike by every store that takes an id: command logs,
 * processed-event stores and snapshot stores, in memory and on PostgreSQL (PGlite, or the server
 * with DATABASE_URL). The event stores are covered by the contract suite.
 */
import {
  ErrorCode,
  type EventRegistry,
  InMemoryCommandLog,
  InMemoryEventStore,
  InMemoryProcessedEventStore,
  InMemorySnapshotStore,
  isAnnalsError,
} from 'annals';
import {
  PostgresCommandLog,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresSnapshotStore,
} from 'annals/postgres';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '../support/postgres.js';
import { accountRegistry } from './fixtures.js';

const db = usePostgres();

const UNSTORABLE = ['cmd-\uD83E', 'cmd-\uD83F', 'cmd-\uDC00', 'cmd-\u0000'];

async function refused(run: () => Promise<unknown>, label: string): Promise<void> {
  let failure: unknown;
  try {
    await run();
  } catch (error) {
    failure = error;
  }
  expect(isAnnalsError(failure, ErrorCode.InvalidArgument), `${label}: ${String(failure)}`).toBe(true);
}

interface Stores {
  readonly commands: {
    runOnce(id: string, work: () => Promise<unknown>): Promise<unknown>;
    find(id: string): Promise<unknown>;
  };
  readonly processed: {
    record(consumer: string, eventId: string): Promise<unknown>;
    find(consumer: string, eventId: string): Promise<unknown>;
  };
  readonly snapshots: { load(id: string): Promise<unknown>; delete(id: string): Promise<unknown> };
}

function inMemory(registry: EventRegistry): Stores {
  return {
    commands: new InMemoryCommandLog({ store: new InMemoryEventStore({ registry }) }),
    processed: new InMemoryProcessedEventStore(),
    snapshots: new InMemorySnapshotStore(),
  };
}

function onPostgres(registry: EventRegistry): Stores {
  const store = new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });
  return {
    commands: new PostgresCommandLog({ store }),
    processed: new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema }),
    snapshots: new PostgresSnapshotStore({ pool: db.pool, schema: db.schema }),
  };
}

describe.each([
  ['in memory', inMemory],
  ['PostgreSQL', onPostgres],
])('ids that cannot be stored exactly, %s', (_, create) => {
  it('command ids, consumers, event ids and snapshot ids: InvalidArgumentError, and nothing runs', async () => {
    const stores = create(accountRegistry());
    let ran = 0;
    for (const id of UNSTORABLE) {
      await refused(() => stores.commands.runOnce(id, async () => ran++), `runOnce ${JSON.stringify(id)}`);
      await refused(() => stores.commands.find(id), 'find command');
      await refused(() => stores.processed.record(id, 'event-1'), 'record consumer');
      await refused(() => stores.processed.record('consumer', id), 'record eventId');
      await refused(() => stores.processed.find('consumer', id), 'find processed');
      await refused(() => stores.snapshots.load(id), 'load snapshot');
      await refused(() => stores.snapshots.delete(id), 'delete snapshot');
    }
    expect(ran).toBe(0);
  });
});
