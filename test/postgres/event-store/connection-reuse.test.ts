/**
 * Appends the server refuses keep their connections: `pg.Pool#query` closes a connection on any
 * error, so a conflict used to cost a new connection (a backend started, its prepared statements
 * and `append_events` compiled again) at the moment a stream is contended. Server only: PGlite
 * is one connection.
 */
import { DuplicateEventError, ErrorCode, isAnnalsError } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithServer, usePostgres } from '../../support/postgres.js';
import { added, registry, rejection, streamId } from './fixtures.js';

const db = usePostgres({ serverOnly: true });

describeWithServer('refused appends keep their connections', () => {
  let pool: pg.Pool;
  /** Connections the pool opened and closed since the last `reset`. */
  const counts = { opened: 0, closed: 0 };
  const reset = () => {
    counts.opened = 0;
    counts.closed = 0;
  };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: db.connectionString, max: 4, idleTimeoutMillis: 60_000 });
    pool.on('error', () => undefined);
    pool.on('connect', () => counts.opened++);
    pool.on('remove', () => counts.closed++);
    // Open all four connections first.
    const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    for (const client of clients) client.release();
  });
  afterAll(() => pool.end());

  for (const coalesceAppends of [false, true]) {
    it(`conflicts, stored ids and racing writers (coalescing ${coalesceAppends ? 'on' : 'off'}) open no connection`, async () => {
      const store = new PostgresEventStore({
        pool,
        registry: registry(),
        schema: db.schema,
        coalesceAppends,
      });
      try {
        const id = streamId(`reuse-${coalesceAppends}`);
        await store.append(id, 0, [added('first', { eventId: `${id}-first` })]);
        reset();

        // A stale expected version: the fast path's INSERT writes nothing, append_events raises the conflict.
        for (let n = 0; n < 10; n++) {
          const error = await rejection(store.append(id, 0, [added(`stale-${n}`)]));
          expect(isAnnalsError(error, ErrorCode.Concurrency), String(error)).toBe(true);
        }
        // A stored event id in another stream: the fast path hits the unique index, append_events refuses it.
        const foreign = await rejection(
          store.append(streamId('other'), 0, [added('again', { eventId: `${id}-first` })]),
        );
        expect(foreign).toBeInstanceOf(DuplicateEventError);
        // Eight writers retrying on one stream: many conflicts, in groups when coalescing.
        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            for (let n = 0; n < 3; n++) {
              for (;;) {
                const version = await store.streamVersion(id);
                try {
                  await store.append(id, version, [added(`w${writer}-${n}`)]);
                  break;
                } catch (error) {
                  if (!isAnnalsError(error, ErrorCode.Concurrency)) throw error;
                }
              }
            }
          }),
        );
        expect(await store.streamVersion(id)).toBe(1 + 8 * 3);
        expect(counts).toEqual({ opened: 0, closed: 0 });
      } finally {
        await store.close();
      }
    });
  }

  it('a connection that breaks during an append is discarded, and the next append gets a new one', async () => {
    const store = new PostgresEventStore({
      pool,
      registry: registry(),
      schema: db.schema,
      coalesceAppends: false,
    });
    try {
      const id = streamId('broken');
      await store.append(id, 0, [added('one')]);
      reset();
      // Every connection of the pool is terminated while idle: the next append's fails with a
      // connection error (no SQLSTATE of a refused statement) and is not given back.
      const killer = new pg.Client({ connectionString: db.connectionString });
      await killer.connect();
      try {
        await killer.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ''",
        );
      } finally {
        await killer.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      let appended = false;
      for (let attempt = 0; attempt < 8 && !appended; attempt++) {
        try {
          await store.append(id, 1, [added('two')]);
          appended = true;
        } catch (error) {
          expect(isAnnalsError(error), String(error)).toBe(true);
        }
      }
      expect(appended).toBe(true);
      expect(await store.streamVersion(id)).toBe(2);
      expect(counts.closed).toBeGreaterThan(0);
      expect(counts.opened).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
