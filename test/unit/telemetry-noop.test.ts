import { AggregateRepository, getTelemetryState, InMemoryEventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { Account, accountRegistry } from './fixtures.js';

// No SDK is registered in this file: the API is installed, its tracer and meter are no-ops.
describe('telemetry with the no-op API (no SDK registered)', () => {
  it('is on, yet writes no traceparent and runs commands as usual', async () => {
    expect(getTelemetryState()).toEqual({ active: true, tracing: true, metrics: true });
    const store = new InMemoryEventStore({ registry: accountRegistry() });
    const repository = new AggregateRepository(store, { create: (id) => new Account(id) });
    const result = await repository.execute('noop-1', (account) => account.open('ada'));
    expect(result.version).toBe(1);
    expect((await store.load('noop-1'))[0]!.metadata).toEqual({});
  });
});
