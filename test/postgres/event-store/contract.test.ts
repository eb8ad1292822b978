import { PostgresEventStore } from 'annals/postgres';
import { describeEventStoreContract } from 'annals/testing';
import { hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();

describeEventStoreContract(`PostgresEventStore (${hasServer ? 'server' : 'PGlite'})`, {
  createStore: (registry) => new PostgresEventStore({ pool: db.pool, registry, schema: db.schema }),
});

// The same contract with every queue of two or more appends coalesced (small groups, so the
// suite's races mix groups, appends alone and the slow path).
describeEventStoreContract(`PostgresEventStore, appends coalesced (${hasServer ? 'server' : 'PGlite'})`, {
  createStore: (registry) =>
    new PostgresEventStore({
      pool: db.pool,
      registry,
      schema: db.schema,
      maxConcurrentAppends: 1,
      maxAppendGroupSize: 8,
    }),
});
