import { InvalidArgumentError, StoreFailedError, StoreUnavailableError } from '../core.js';
import type { AmqpConnect, AmqpConnection } from './amqp-shapes.js';

/**
 * Opening a connection to RabbitMQ through amqplib, which is loaded only when it is needed (it is
 * an optional peer dependency of annals).
 *
 * @module
 */

export type { AmqpConnect, AmqpConnection };

/**
 * Options of {@link connectAmqp}.
 *
 * @category Messaging
 */
export interface ConnectAmqpOptions {
  /**
   * The broker's URL: `amqp://user:password@host:5672/vhost` or `amqps://…` (amqplib's query
   * parameters such as `?heartbeat=30` pass through).
   */
  readonly url: string;
  /**
   * The name the connection shows under in the broker (`rabbitmqctl list_connections
   * client_properties`, the management UI): the `connection_name` client property.
   * @defaultValue no name
   */
  readonly connectionName?: string;
}

/** What the amqplib module gives us: its promise API's `connect`. */
type AmqplibConnect = (url: string, socketOptions?: Record<string, unknown>) => Promise<AmqpConnection>;

/**
 * The URL with its password replaced, for messages: annals never writes a password out.
 *
 * @internal
 */
export function redactAmqpUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * Throws {@link InvalidArgumentError} naming `option` unless `url` is an `amqp:` or `amqps:` URL
 * with a host.
 *
 * @internal
 */
export function assertAmqpUrl(option: string, url: unknown): asserts url is string {
  let parsed: URL | undefined;
  if (typeof url === 'string') {
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
  }
  if (!parsed || (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') || parsed.hostname === '') {
    const shown = typeof url === 'string' ? JSON.stringify(redactAmqpUrl(url)) : typeof url;
    throw new InvalidArgumentError(
      `${option} must be an amqp:// or amqps:// URL with a host (such as amqp://guest:guest@127.0.0.1:5672); got ${shown}`,
    );
  }
}

/** `host:port` of a broker URL, for messages. */
function brokerOf(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
  const vhost = decodeURIComponent(parsed.pathname.slice(1)) || '/';
  return `${parsed.hostname}:${port} (vhost ${JSON.stringify(vhost)})`;
}

/**
 * Refusals that retrying will not fix: wrong credentials (403 ACCESS_REFUSED) and a vhost the user
 * may not use or that does not exist (530 NOT_ALLOWED).
 */
function isRefusal(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /\b(403|530) \(|ACCESS[-_]REFUSED|NOT[-_]ALLOWED/.test(text);
}

let amqplibConnect: Promise<AmqplibConnect> | undefined;

async function loadAmqplib(): Promise<AmqplibConnect> {
  const name = 'amqplib';
  let loaded: { default?: { connect?: AmqplibConnect }; connect?: AmqplibConnect };
  try {
    loaded = (await import(name)) as typeof loaded;
  } catch (error) {
    throw new StoreFailedError('annals/amqp with a `url` needs the `amqplib` package: npm install amqplib', {
      cause: error,
    });
  }
  const connect = loaded.connect ?? loaded.default?.connect;
  if (typeof connect !== 'function') {
    throw new StoreFailedError('the `amqplib` package has no `connect` export');
  }
  return connect;
}

/**
 * Opens a connection to RabbitMQ with amqplib (0.10 or later), loaded on first use.
 *
 * - A malformed `url` is an {@link InvalidArgumentError} naming the option.
 * - A broker that cannot be reached (refused, unknown host, timed out, closed during the
 *   handshake) is a {@link StoreUnavailableError} naming the broker's host, port and vhost:
 *   transient, so `isTransientError` is true and retrying later may succeed.
 * - Wrong credentials or a vhost the user may not use are a {@link StoreFailedError}: permanent.
 *
 * The password never appears in a message.
 *
 * @example
 * ```ts
 * const connection = await connectAmqp({ url: 'amqp://guest:guest@127.0.0.1:5672', connectionName: 'orders relay' });
 * ```
 *
 * @category Messaging
 */
export async function connectAmqp(options: ConnectAmqpOptions): Promise<AmqpConnection> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('connectAmqp needs options: { url, connectionName? }');
  }
  assertAmqpUrl('url', options.url);
  if (
    options.connectionName !== undefined &&
    (typeof options.connectionName !== 'string' || options.connectionName === '')
  ) {
    throw new InvalidArgumentError('connectionName must be a non-empty string when given');
  }
  amqplibConnect ??= loadAmqplib().catch((error: unknown) => {
    amqplibConnect = undefined;
    throw error;
  });
  const connect = await amqplibConnect;
  const broker = brokerOf(options.url);
  try {
    return await connect(
      options.url,
      options.connectionName === undefined
        ? {}
        : { clientProperties: { connection_name: options.connectionName } },
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (isRefusal(error)) {
      throw new StoreFailedError(`the RabbitMQ broker at ${broker} refused the connection: ${reason}`, {
        cause: error,
      });
    }
    throw new StoreUnavailableError(`cannot reach the RabbitMQ broker at ${broker}: ${reason}`, {
      cause: error,
    });
  }
}
