/**
 * Every module of the core, public and internal, for the adapters (`annals/postgres`,
 * `annals/amqp`), `annals/testing` and the CLI. The build puts it in a chunk that every entry
 * point shares, so one copy of the core (its classes and error codes) runs. Users import from
 * `annals`, whose entry point (`index.ts`) exports only the public part.
 *
 * @internal
 * @module
 */

export * from './aggregates/aggregate-repository.js';
export * from './aggregates/aggregate-root.js';
export * from './aggregates/command-metadata.js';
export * from './aggregates/decided-event.js';
export * from './aggregates/decider.js';
export * from './aggregates/decider-aggregate.js';
export * from './aggregates/decider-repository.js';
export * from './aggregates/decider-snapshots.js';
export * from './bus/event-bus.js';
export * from './bus/in-memory-event-bus.js';
export * from './config/annals-config.js';
export * from './config/redact-url.js';
export * from './config/resolve-config.js';
export * from './errors.js';
export * from './events/define-event.js';
export * from './events/event-envelope.js';
export * from './events/event-registry.js';
export * from './events/standard-schema.js';
export * from './events/stored-event-json.js';
export * from './events/validate-payload.js';
export * from './evolution/upcaster-registry.js';
export * from './idempotency/command-log.js';
export * from './idempotency/in-memory-command-log.js';
export * from './idempotency/in-memory-processed-event-store.js';
export * from './idempotency/keyed-mutex.js';
export * from './idempotency/processed-event-store.js';
export * from './observability/log-fields.js';
export * from './observability/logger.js';
export * from './observability/store-telemetry.js';
export * from './observability/telemetry.js';
export * from './projections/batch-processor.js';
export * from './projections/define-projection.js';
export * from './projections/in-memory-projection-store.js';
export * from './projections/lease-holder.js';
export * from './projections/projection-handler-error.js';
export * from './projections/projection-runner.js';
export * from './projections/projection-runner-options.js';
export * from './projections/projection-status.js';
export * from './projections/projection-store.js';
export * from './projections/projection-worker.js';
export * from './projections/rebuild-progress.js';
export * from './projections/runner-settings.js';
export * from './projections/wakeup.js';
export * from './retry.js';
export * from './snapshots/in-memory-snapshot-store.js';
export * from './snapshots/snapshot-aggregate-root.js';
export * from './snapshots/snapshot-keeper.js';
export * from './snapshots/snapshot-policy.js';
export * from './snapshots/snapshot-store.js';
export * from './store/assert-log-position.js';
export * from './store/event-store.js';
export * from './store/expected-version.js';
export * from './store/in-memory-event-store.js';
export * from './store/log-horizon.js';
export * from './store/read-options.js';
export * from './store/undecodable-event.js';
