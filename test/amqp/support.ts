/**
 * RabbitMQ for a test file, in a vhost of its own.
 *
 * - `RABBITMQ_URL` set (e.g. `amqp://guest:guest@127.0.0.1:5672`): {@link useRabbitVhost}
 *   creates a vhost for the file (`annals_test_<time>_<random>`, with `rabbitmqctl add_vhost` and
 *   `set_permissions -p <vhost> guest ".*" ".*" ".*"`) before its tests and deletes it after
 *   (`delete_vhost`, which also drops its exchanges, queues and connections). Files run side by
 *   side without seeing each other's exchanges or queues. `rabbitmqctl` must work (as root here).
 * - `RABBITMQ_URL` unset: wrap the file in {@link describeWithRabbit}; it is skipped and its
 *   title says `SKIPPED: needs RabbitMQ and RABBITMQ_URL is unset`. No broker is touched.
 *
 * Fault tests close their own connections by the name they gave them
 * (`clientProperties.connection_name`) with {@link closeConnectionsNamed}.
 *
 * @example
 * ```ts
 * const rabbit = useRabbitVhost();            // registers beforeAll/afterAll
 * describeWithRabbit('relay', () => {
 *   it('publishes', async () => {
 *     const connection = await amqplib.connect(rabbit.url);
 *   });
 * });
 * ```
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe } from 'vitest';

const run = promisify(execFile);

/** The broker's connection string (`RABBITMQ_URL`), when one is configured. */
export const rabbitUrl: string | undefined = process.env.RABBITMQ_URL || undefined;

/** True when `RABBITMQ_URL` is set: tests run on the real broker. */
export const hasRabbit: boolean = rabbitUrl !== undefined;

/** Why broker tests are skipped, for their titles. */
export const NO_RABBIT_REASON = 'SKIPPED: needs RabbitMQ and RABBITMQ_URL is unset';

/** `describe` for tests that need RabbitMQ; without `RABBITMQ_URL` it is skipped with a plain reason. */
export function describeWithRabbit(name: string, fn: () => void): void {
  describe.skipIf(!hasRabbit)(hasRabbit ? name : `${name} (${NO_RABBIT_REASON})`, fn);
}

/** Runs `rabbitmqctl` with `args` and returns its standard output. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

/** The connection string of `vhost` on the broker of `url` (the vhost is the URL's path, encoded). */
export function urlOfVhost(url: string, vhost: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return parsed.toString();
}

/** What a test file gets. Read the fields inside tests or hooks, not at collection time. */
export interface RabbitTestVhost {
  /** The file's vhost. */
  readonly vhost: string;
  /** The connection string of the file's vhost (`RABBITMQ_URL` with the vhost as its path). */
  readonly url: string;
}

const VHOST_PREFIX = 'annals_test_';

/**
 * Registers `beforeAll`/`afterAll` that create a vhost for this file (guest may do anything in it)
 * and delete it after. Without `RABBITMQ_URL` it does nothing; use it with {@link describeWithRabbit}.
 */
export function useRabbitVhost(): RabbitTestVhost {
  const vhost = `${VHOST_PREFIX}${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  let created = false;

  beforeAll(async () => {
    if (!rabbitUrl) return;
    await rabbitmqctl('add_vhost', vhost);
    created = true;
    const user = decodeURIComponent(new URL(rabbitUrl).username || 'guest');
    await rabbitmqctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*');
  }, 60_000);

  afterAll(async () => {
    if (!created) return;
    try {
      await rabbitmqctl('delete_vhost', vhost);
    } catch (error) {
      console.warn(
        `useRabbitVhost teardown: deleting vhost ${vhost} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }, 60_000);

  return {
    vhost,
    get url(): string {
      if (!rabbitUrl) throw new Error(`useRabbitVhost.url: ${NO_RABBIT_REASON}`);
      return urlOfVhost(rabbitUrl, vhost);
    },
  };
}

/** A connection the broker holds: its process id (for `close_connection`), vhost and name. */
export interface BrokerConnection {
  readonly pid: string;
  readonly vhost: string;
  /** The client's `connection_name` property, when it gave one. */
  readonly connectionName: string | undefined;
}

/** The connections the broker holds now (all vhosts). */
export async function listConnections(): Promise<BrokerConnection[]> {
  const out = await rabbitmqctl(
    'list_connections',
    '--no-table-headers',
    'pid',
    'vhost',
    'client_properties',
  );
  const connections: BrokerConnection[] = [];
  for (const line of out.split('\n')) {
    const [pid, vhost, properties] = line.split('\t');
    if (!pid?.startsWith('<') || vhost === undefined) continue;
    const name = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(properties ?? '')?.[1];
    connections.push({ pid, vhost, connectionName: name });
  }
  return connections;
}

/**
 * Force-closes (320 CONNECTION_FORCED) every connection named `connectionName`, optionally only
 * in `vhost`, and returns how many it closed. It waits up to `timeoutMs` for one to show up.
 */
export async function closeConnectionsNamed(
  connectionName: string,
  options: { readonly vhost?: string; readonly reason?: string; readonly timeoutMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const matches = (await listConnections()).filter(
      (c) =>
        c.connectionName === connectionName && (options.vhost === undefined || c.vhost === options.vhost),
    );
    if (matches.length > 0) {
      for (const c of matches) {
        await rabbitmqctl('close_connection', c.pid, options.reason ?? 'closed by an annals test');
      }
      return matches.length;
    }
    if (Date.now() > deadline) return 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 15_000, intervalMs = 20, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waitUntil: ${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
