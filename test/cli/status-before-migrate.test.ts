import { type AnnalsConfig, InMemoryEventStore, InMemoryProjectionStore, resolveAnnalsConfig } from 'annals';
import { migrate, PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import { describe, expect, it } from 'vitest';
import { orderReadModel } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { describeError } from '../../src/cli/cli-error.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { statusCommand } from '../../src/cli/commands/status-command.js';
import { openConfig } from '../../src/cli/open-config.js';
import { ledgerProjection } from '../postgres/projections/fixtures.js';
import { usePostgres } from '../support/postgres.js';

const db = usePostgres({ migrate: false });

let sequence = 0;
const freshSchema = () => `${db.schema}_s${++sequence}`;

/** What `annals status` reports, as the CLI's one error line, or the output. */
async function status(config: AnnalsConfig): Promise<string> {
  let stdout = '';
  const io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => true },
    cwd: process.cwd(),
  } as unknown as CliIo;
  const options = { config: undefined, json: false, debug: false, limit: undefined, offset: undefined };
  try {
    const opened = await openConfig(await resolveAnnalsConfig(config));
    await statusCommand({ io, config: opened, args: [], options });
    return stdout;
  } catch (error) {
    return `error: ${describeError(error)}`;
  }
}

function config(eventSchema: string, projectionSchema = eventSchema): AnnalsConfig {
  return {
    eventStore: new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema: eventSchema }),
    projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: projectionSchema }),
    projections: [orderReadModel, ledgerProjection({ name: 'ledger' })],
  };
}

describe('annals status before annals migrate', () => {
  it('says to run the migrations, every time (20 runs)', async () => {
    const schema = freshSchema();
    const messages = new Set<string>();
    for (let run = 0; run < 20; run++) messages.add(await status(config(schema)));
    expect([...messages]).toEqual([
      `error: the annals tables are missing in schema "${schema}"; run the migrations (annals migrate)`,
    ]);
  });

  it('says so too when only the event store was never migrated', async () => {
    const events = freshSchema();
    const projections = freshSchema();
    await migrate(db.pool, { schema: projections });
    expect(await status(config(events, projections))).toBe(
      `error: the annals tables are missing in schema "${events}" or "${projections}"; run the migrations (annals migrate)`,
    );
  });

  it('after the migrations, it shows the projections', async () => {
    const schema = freshSchema();
    await migrate(db.pool, { schema });
    expect(await status(config(schema))).toMatch(/^PROJECTION\s+CHECKPOINT/);
  });

  it('reports other failures as they are', async () => {
    const projectionStore = new InMemoryProjectionStore({ initialState: {} });
    projectionStore.loadCheckpoint = () => Promise.reject(new Error('the disk is on fire'));
    const eventStore = new InMemoryEventStore({ registry: orderRegistry() });
    expect(await status({ ...config(freshSchema()), eventStore, projectionStore })).toBe(
      'error: the disk is on fire',
    );
  });
});
