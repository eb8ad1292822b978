/**
 * A runner process for the crash test: follows the log with the ledger projection, slowed down
 * per event, until it is killed. Arguments: schema, projection name. Needs DATABASE_URL.
 */
import { ProjectionRunner } from 'annals';
import { PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import pg from 'pg';
import { orderRegistry } from '../../../../examples/order/upcasters.js';
import { ledgerProjection } from '../fixtures.js';

const [schema, name] = process.argv.slice(2);
if (!schema || !name || !process.env.DATABASE_URL)
  throw new Error('usage: slow-runner-child <schema> <name>');
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
pool.on('error', () => undefined);
const runner = new ProjectionRunner({
  eventStore: new PostgresEventStore({ pool, registry: orderRegistry(), schema }),
  projectionStore: new PostgresProjectionStore({ pool, schema }),
  projections: [
    ledgerProjection({
      name,
      runner: 'child',
      before: async (_event, { client }) => {
        await client.query('SELECT pg_sleep(0.002)');
      },
    }),
  ],
  batchSize: 10,
  onError: (error) => console.error(error.message),
});
runner.start();
