/**
 * A LISTEN connection that fails is logged (as a warning naming the channel), LISTEN is retried,
 * and notifications resume. On the server, where the LISTEN backend can be terminated.
 */
import type { AnnalsLogger, LogFields } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { expect, it } from 'vitest';
import { orderRegistry } from '../../../examples/order/upcasters.js';
import { waitUntil } from '../../amqp/support.js';
import { describeWithServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres({ serverOnly: true });

describeWithServer('LISTEN failures', () => {
  it('are logged as warnings with the channel, and LISTEN comes back', async () => {
    const warnings: { fields: LogFields; message: string }[] = [];
    const logger: AnnalsLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (fields, message) => warnings.push({ fields, message }),
      error: () => undefined,
    };
    const told: unknown[] = [];
    const store = new PostgresEventStore({
      pool: db.newPool(4),
      registry: orderRegistry(),
      schema: db.schema,
      logger,
      listenReconnectDelayMs: 50,
      onNotificationError: (error) => told.push(error),
    });
    let wakes = 0;
    const unsubscribe = store.onAppended(() => {
      wakes += 1;
    });
    try {
      const listening = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN "${store.channel}"'`;
      await waitUntil(async () => (await db.pool.query(listening)).rows.length === 1, { what: 'LISTEN' });
      await db.pool.query(`SELECT pg_terminate_backend(pid) FROM (${listening}) AS listener`);
      await waitUntil(() => warnings.length === 1, { what: 'the warning' });
      expect(warnings[0]!.message).toMatch(
        new RegExp(`^LISTEN/NOTIFY on ${store.channel} failed \\(1 failure\\(s\\) so far\\)`),
      );
      expect(warnings[0]!.fields).toMatchObject({ schema: db.schema, channel: store.channel, failures: 1 });
      expect(warnings[0]!.fields.err).toBeInstanceOf(Error);
      expect(told).toHaveLength(1);
      // LISTEN again: an append wakes the listener.
      await waitUntil(async () => (await db.pool.query(listening)).rows.length === 1, {
        what: 'LISTEN again',
      });
      const before = wakes;
      await db.pool.query(`NOTIFY ${store.channel}`);
      await waitUntil(() => wakes > before, { what: 'a notification after the reconnect' });
    } finally {
      unsubscribe();
      await store.close();
    }
  });
});
