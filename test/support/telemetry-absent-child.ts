/**
 * Child process of test/unit/telemetry-absent.test.ts. With HIDE_OTEL=1 every `@opentelemetry/*`
 * module is unresolvable, as when the peer is not installed. It records every attempt to resolve
 * one, loads annals, runs a workload that would trace and measure (commands, appends, loads, a
 * projection catch-up), and prints what was attempted and what got loaded, as JSON.
 */
import Module, { createRequire } from 'node:module';

interface ResolvingModule {
  _resolveFilename(request: string, ...rest: unknown[]): string;
}

const hide = process.env.HIDE_OTEL === '1';
const attempts: string[] = [];
const resolving = Module as unknown as ResolvingModule;
const resolve = resolving._resolveFilename;
resolving._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request.startsWith('@opentelemetry/')) {
    attempts.push(request);
    if (hide) {
      throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
    }
  }
  return resolve.call(this, request, ...rest);
};

const annals = await import('../../src/index.js');
const { Account, accountRegistry, Opened } = await import('../unit/fixtures.js');

const store = new annals.InMemoryEventStore({ registry: accountRegistry() });
const repository = new annals.AggregateRepository(store, { create: (id) => new Account(id) });
const afterImport = attempts.length;
for (const id of ['a-1', 'a-2']) {
  await repository.execute(id, (account) => {
    account.open(id);
    account.deposit(3);
  });
}
const runner = new annals.ProjectionRunner({
  eventStore: store,
  projectionStore: new annals.InMemoryProjectionStore({ initialState: { opened: 0 } }),
  projections: [
    annals.defineProjection<{ opened: number }>()({
      name: 'opened',
      events: [Opened],
      handlers: {
        Opened: (_event, state) => {
          state.opened++;
        },
      },
    }),
  ],
});
await runner.catchUp();
runner.start();
await runner.stop();

const cache = createRequire(import.meta.url).cache;
const loaded = Object.keys(cache).filter((path) => path.includes('@opentelemetry'));
const [first] = await store.load('a-1');
process.stdout.write(
  JSON.stringify({
    afterImport,
    attempts,
    loaded,
    state: annals.getTelemetryState(),
    traceparent: first?.metadata.traceparent ?? null,
  }),
);
