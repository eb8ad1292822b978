// A consumer of the installed tarball, in the scratch project of scripts/package-test.sh: it
// imports every entry point, and is type-checked under `moduleResolution` node16, bundler and
// node10 (tsconfig.*.json there), then compiled (node16) and run: an aggregate -> store ->
// projection round trip on PGlite. No top-level await: node10 configs compile to CommonJS.
import { PGlite } from '@electric-sql/pglite';
import {
  type AggregateEventHandlers,
  AggregateRepository,
  AggregateRoot,
  DomainRuleError,
  defineEvent,
  defineProjection,
  type EventOf,
  EventRegistry,
  ProjectionRunner,
} from 'annals';
import { routingKeyOf } from 'annals/amqp';
import { createPostgres, type PostgresProjectionContext, quoteIdentifier } from 'annals/postgres';
// Types only: the value would load vitest, an optional peer the run does not need.
import type { aggregateScenario } from 'annals/testing';
import { z } from 'zod';

const Deposited = defineEvent({ type: 'Deposited', schema: z.object({ amount: z.number().positive() }) });
const events = [Deposited] as const;
type AccountEvent = EventOf<(typeof events)[number]>;

class Account extends AggregateRoot<AccountEvent> {
  readonly aggregateType = 'Account';
  balance = 0;
  protected readonly handlers: AggregateEventHandlers<AccountEvent> = {
    Deposited: (event) => {
      this.balance += event.payload.amount;
    },
  };
  open(amount: number) {
    this.raiseCreation(Deposited, { amount });
  }
  deposit(amount: number) {
    this.assertExists();
    if (amount > 1000) throw new DomainRuleError('too much', 'too-much');
    this.raise(Deposited, { amount });
  }
}

// The types are the package's, not `any`: a wrong payload is an error.
// @ts-expect-error amount is a number
const _wrongPayload: AccountEvent['payload'] = { amount: 'ten' };
const balanceOf = (event: AccountEvent): number => event.payload.amount;
// @ts-expect-error the payload has no `total`
const _noTotal = (event: AccountEvent) => event.payload.total;
type Scenario = typeof aggregateScenario;
const _scenario: Scenario | undefined = undefined;
const routingKey: string = routingKeyOf({ aggregateType: 'Account', type: 'Deposited' });

const table = (schema: string) => `${quoteIdentifier('schema', schema)}.balances`;
const balances = defineProjection<PostgresProjectionContext>()({
  name: 'balances',
  events,
  handlers: {
    Deposited: async (event, { client, schema }) => {
      await client.query(
        `INSERT INTO ${table(schema)} (id, total) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET total = ${table(schema)}.total + $2`,
        [event.aggregateId, balanceOf(event)],
      );
    },
  },
  setup: async ({ client, schema }) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table(schema)} (id text PRIMARY KEY, total integer NOT NULL)`,
    );
  },
});

async function main(): Promise<void> {
  const pg = await createPostgres({
    pglite: await PGlite.create(),
    registry: new EventRegistry(events),
    closeDatabase: true,
  });
  const runner = new ProjectionRunner({
    eventStore: pg.eventStore,
    projectionStore: pg.projectionStore,
    projections: [balances],
  });
  try {
    const accounts = new AggregateRepository(pg.eventStore, { create: (id) => new Account(id) });
    await accounts.execute('acc-1', (account) => account.open(10));
    const result = await accounts.execute('acc-1', (account) => account.deposit(32));
    if (result.version !== 2) throw new Error(`the stream is at version ${result.version}, not 2`);
    const refused = await accounts.execute('acc-1', (account) => account.deposit(5000)).catch((e) => e);
    if (!(refused instanceof DomainRuleError)) throw new Error(`a refused command threw ${refused}`);
    runner.start();
    await runner.catchUp();
    const { rows } = await pg.pool.query<{ total: number }>(
      `SELECT total FROM ${table('annals')} WHERE id = $1`,
      ['acc-1'],
    );
    if (rows[0]?.total !== 42) throw new Error(`the projection wrote ${JSON.stringify(rows)}, not 42`);
  } finally {
    await runner.stop();
    await pg.close();
  }
  console.log(`consumer: aggregate -> store -> projection on PGlite ok (${routingKey})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
