/**
 * annals: event sourcing and CQRS for TypeScript.
 *
 * The root entry point is the core: event definitions, aggregates, the {@link IEventStore}
 * contract with its in-memory adapter, the event bus and the errors. Adapters live behind
 * `annals/postgres` and `annals/amqp`; test helpers behind `annals/testing`.
 *
 * @packageDocumentation
 */

export * from './aggregates/aggregate-repository.js';
export * from './aggregates/aggregate-root.js';
export * from './aggregates/command-metadata.js';
export * from './aggregates/decided-event.js';
export * from './aggregates/decider.js';
export * from './aggregates/decider-aggregate.js';
export * from './aggregates/decider-repository.js';
export * from './aggregates/decider-snapshots.js';
export * from './snapshots/snapshot-aggregate-root.js';
export * from './snapshots/in-memory-snapshot-store.js';
export {
  consoleWarning,
  type RepositoryWarning,
  type RepositoryWarningHandler,
} from './snapshots/snapshot-keeper.js';
export * from './snapshots/snapshot-policy.js';
export * from './snapshots/snapshot-store.js';
export * from './bus/event-bus.js';
export * from './bus/in-memory-event-bus.js';
export * from './config/annals-config.js';
export * from './errors.js';
export * from './events/define-event.js';
export * from './events/event-envelope.js';
export * from './events/event-registry.js';
export * from './evolution/upcaster-registry.js';
export * from './idempotency/command-log.js';
export * from './idempotency/in-memory-command-log.js';
export * from './idempotency/in-memory-processed-event-store.js';
export * from './idempotency/processed-event-store.js';
export * from './projections/define-projection.js';
export * from './projections/in-memory-projection-store.js';
export * from './projections/projection-handler-error.js';
export * from './projections/projection-runner.js';
export * from './projections/projection-runner-options.js';
export * from './projections/projection-status.js';
export * from './projections/projection-store.js';
export * from './projections/rebuild-progress.js';
export * from './retry.js';
export * from './store/event-store.js';
export * from './store/expected-version.js';
export {
  assertDistinctIds,
  InMemoryEventStore,
  type InMemoryEventStoreOptions,
} from './store/in-memory-event-store.js';
export * from './store/read-options.js';
