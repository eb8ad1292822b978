import { type Projection, ProjectionRunner } from '../../core.js';
import type { CliIo } from '../cli-io.js';
import type { OpenedConfig } from '../open-config.js';

/** Options of the command line, parsed. */
export interface CliOptions {
  readonly config: string | undefined;
  readonly json: boolean;
  readonly debug: boolean;
  readonly limit: number | undefined;
  readonly offset: number | undefined;
  /** `--broker <amqp-url>`: `dead-letters` works on the broker's dead-letter queue. */
  readonly broker?: string | undefined;
  /** `--dlq <queue>`: the broker's dead-letter queue (default `dlq_failed_events`). */
  readonly dlq?: string | undefined;
  /** `--max-lag-events <n>`: `status` alerts (exit 2) on a projection or relay more events behind. */
  readonly maxLagEvents?: number | undefined;
  /** `--max-lag-ms <n>`: `status` alerts (exit 2) on a projection or relay further behind in event time. */
  readonly maxLagMs?: number | undefined;
  /** `--fail-on-dead-letters`: `status` alerts (exit 2) on a projection with dead letters. */
  readonly failOnDeadLetters?: boolean | undefined;
  /** `--fail-on-blocked`: `status` alerts (exit 2) on a projection waiting at an unreadable event. */
  readonly failOnBlocked?: boolean | undefined;
  /** `--database-url <url>`: `migrate` works on this database, without a config. */
  readonly databaseUrl?: string | undefined;
  /** `--schema <name>`: `migrate`'s schema without a config. */
  readonly schema?: string | undefined;
  /** `--print-sql`: `migrate` prints the SQL instead of running it. */
  readonly printSql?: boolean | undefined;
}

/** What a command gets. */
export interface CommandContext {
  readonly io: CliIo;
  readonly config: OpenedConfig;
  /** The words after the command's name (and sub-command's, for `dead-letters`). */
  readonly args: readonly string[];
  readonly options: CliOptions;
}

/** A runner over the config's stores, with the config's runner options. */
export function createRunner(
  config: Pick<OpenedConfig, 'eventStore' | 'projectionStore' | 'projections' | 'runner'>,
  projections: readonly Projection<unknown>[] = config.projections,
): ProjectionRunner<unknown> {
  return new ProjectionRunner<unknown>({
    ...config.runner,
    eventStore: config.eventStore,
    projectionStore: config.projectionStore,
    projections,
  });
}
