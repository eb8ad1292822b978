import { PostgresProjectionStore } from 'annals/postgres';
import { describeProjectionStoreContract } from 'annals/testing';
import { hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();

describeProjectionStoreContract(`PostgresProjectionStore (${hasServer ? 'server' : 'PGlite'})`, {
  createStore: async () => {
    await db.pool.query(
      `CREATE TABLE IF NOT EXISTS "${db.schema}".contract_markers (marker text PRIMARY KEY)`,
    );
    return new PostgresProjectionStore({ pool: db.pool, schema: db.schema });
  },
  writeMarker: async ({ client, schema }, marker) => {
    await client.query(`INSERT INTO "${schema}".contract_markers (marker) VALUES ($1)`, [marker]);
  },
  readMarkers: async () => {
    const { rows } = await db.pool.query<{ marker: string }>(
      `SELECT marker FROM "${db.schema}".contract_markers ORDER BY marker`,
    );
    return rows.map((row) => row.marker);
  },
});
