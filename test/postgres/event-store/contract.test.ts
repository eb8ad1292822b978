import { PostgresEventStore } from 'annals/postgres';
import { describeEventStoreContract } from 'annals/testing';
import { hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();

describeEventStoreContract(`PostgresEventStore (${hasServer ? 'server' : 'PGlite'})`, {
  createStore: (registry) => new PostgresEventStore({ pool: db.pool, registry, schema: db.schema }),
});
