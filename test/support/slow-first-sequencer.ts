import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest files on a server (DATABASE_URL and RABBITMQ_URL set), in the order they should
 * start: with several workers the run lasts at least as long as its slowest file, so those go
 * first. vitest does this by itself from its cache of the last run's durations, but a fresh
 * clone (CI) has no cache and starts the largest files first. Files that open many connections
 * (`usePostgres({ manyConnections: true })`, which run one at a time) are spread out so that they
 * seldom wait for each other. Measured on the 2-core CI machine (December 2026), in seconds.
 */
const SLOWEST_FIRST = [
  'test/cli/cli.test.ts', // 33-39
  'test/example/run-example.test.ts', // 24-34
  'test/amqp/consumer-faults.test.ts', // 26-29, many connections
  'test/cli/status-alerts.test.ts', // 13-24
  'test/postgres/projections/crash-recovery.test.ts', // 16-24
  'test/amqp/end-to-end.test.ts', // 16-21
  'test/cli/typescript-config.test.ts', // 5-19
  'test/postgres/projections/lease.test.ts', // 14-18, many connections
  'test/postgres/event-store/contract.test.ts', // 6-16
  'test/amqp/consumer.test.ts', // 4-11
  'test/postgres/event-store/concurrency.test.ts', // 12-14, many connections
  'test/postgres/projections/rebuild.test.ts', // 5-10
  'test/cli/status-relays.test.ts', // 8
  'test/amqp/relay.test.ts', // 6-7
  'test/postgres/event-store/horizon.test.ts', // 5-7, many connections
];

/** vitest's order (its cache, else the largest file first), with {@link SLOWEST_FIRST} before the rest. */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const path = file.moduleId.replaceAll('\\', '/');
      const index = SLOWEST_FIRST.findIndex((slow) => path.endsWith(`/${slow}`));
      return index === -1 ? SLOWEST_FIRST.length : index;
    };
    // A stable sort: the rest keep vitest's order.
    return sorted
      .map((file, index) => ({ file, index, rank: rank(file) }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index)
      .map(({ file }) => file);
  }
}
