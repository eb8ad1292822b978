/**
 * Reading the global log from the start in pages of 1,000, as a projection catching up does.
 * The baseline is a plain keyset read with raw `pg` (`WHERE (transaction_id, global_position) >
 * ($1, $2) ORDER BY transaction_id, global_position LIMIT n`, the same columns, pg's default type
 * parsing, no validation). Annals keeps its guarantees: the horizon bound (the log never skips an
 * event), exact bigint positions, every payload validated. Target: ratio >= 0.9.
 */
import { LOG_START, type LogPosition } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { benchRegistry, lineEvent } from './support/bench-events.js';
import { alternate, type Benchmark, runId, runWriters } from './support/bench-kit.js';

const PAGE = 1000;
const MAX_EVENTS = 100_000;
const MIN_EVENTS = 50_000;

const benchmark: Benchmark = {
  name: 'read-log',
  async run(ctx) {
    const store = new PostgresEventStore({
      pool: ctx.newPool(16),
      registry: benchRegistry(),
      schema: ctx.schema,
    });
    const events = `"${ctx.schema}".events`;
    // Earlier benchmarks leave plenty of events; run alone, this one writes its own.
    const { rows } = await ctx.pool.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${events}`);
    let stored = Number(rows[0]?.count ?? 0);
    while (stored < MIN_EVENTS) {
      const run = runId();
      await runWriters(16, 1000, (writer, n) => {
        const stream = `log-${run}-${writer}`;
        return store.append(
          stream,
          n * 100,
          Array.from({ length: 100 }, (_, i) => lineEvent(stream, n * 100 + i)),
        );
      });
      const again = await ctx.pool.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${events}`);
      stored = Number(again.rows[0]?.count ?? 0);
    }
    const target = Math.min(stored, MAX_EVENTS);
    const select =
      'SELECT global_position, transaction_id, aggregate_id, aggregate_type, version, event_id, type, ' +
      `schema_version, payload, metadata, "timestamp" FROM ${events} ` +
      'WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) ' +
      'ORDER BY transaction_id, global_position LIMIT $3';

    const result = await alternate(
      ctx.rounds,
      async () => {
        const start = performance.now();
        let read = 0;
        let after: LogPosition = LOG_START;
        while (read < target) {
          const page = await store.readAll({ after, limit: PAGE });
          read += page.events.length;
          after = page.next;
          if (page.caughtUp) break;
        }
        return (read / (performance.now() - start)) * 1000;
      },
      async () => {
        const start = performance.now();
        let read = 0;
        let after = { transactionId: '0', globalPosition: '0' };
        while (read < target) {
          const page = await ctx.pool.query<{ transaction_id: string; global_position: string }>(select, [
            after.transactionId,
            after.globalPosition,
            PAGE,
          ]);
          read += page.rows.length;
          const last = page.rows.at(-1);
          if (!last || page.rows.length < PAGE) break;
          after = { transactionId: last.transaction_id, globalPosition: last.global_position };
        }
        return (read / (performance.now() - start)) * 1000;
      },
    );
    await store.close();
    return [
      {
        name: `read the global log from the start, pages of ${PAGE}`,
        unit: 'events/s',
        annals: result.annals,
        baseline: result.baseline,
        baselineName: 'plain keyset query, raw pg, default parsing',
        ratio: result.annals / result.baseline,
        target: { atLeast: 0.9 },
        note: `${target.toLocaleString('en')} events per round; rounds (events/s) annals ${result.annalsRounds.map(Math.round).join('/')}, baseline ${result.baselineRounds.map(Math.round).join('/')}`,
      },
    ];
  },
};

export default benchmark;
