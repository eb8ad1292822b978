/**
 * A TCP proxy in front of a real server, for fault tests: clients connect to the proxy's port and
 * reach the server through it, until {@link TcpProxy.cut} makes the server unreachable (every
 * connection through the proxy reset, new ones refused) and {@link TcpProxy.restore} brings it
 * back. Nothing is mocked: the bytes go to the real server.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 * const pool = db.newPool(10, { port: proxy.port });
 * await proxy.cut();     // the database is unreachable for this pool
 * await proxy.restore(); // and reachable again
 * await proxy.close();
 * ```
 */
import net from 'node:net';

/** A running proxy; see {@link startTcpProxy}. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Client connections reset by {@link TcpProxy.cut} so far. */
  readonly reset: number;
  /** Resets every connection through the proxy and refuses new ones (ECONNREFUSED). */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /** Resets every connection and stops listening for good. */
  close(): Promise<void>;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `target`. */
export async function startTcpProxy(target: {
  readonly host: string;
  readonly port: number;
}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let reset = 0;
  const server = net.createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    reset += clients.size;
    for (const socket of sockets) socket.resetAndDestroy();
    await closed;
  };
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get reset() {
      return reset;
    },
    cut: stop,
    restore: () => listen(port),
    close: async () => {
      if (server.listening) await stop();
    },
  };
}
