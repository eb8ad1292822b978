/**
 * Test helpers for annals users and adapter authors: the contract suites of the event store, the
 * projection store, the command log and the processed-event store, and given/when/then scenarios
 * for aggregates. They use vitest (an optional peer dependency).
 *
 * @packageDocumentation
 */

export * from './aggregate-scenario.js';
export * from './command-log-contract.js';
export * from './contract/describe-event-store-contract.js';
export { ContractItemAdded, ContractNote, contractRegistry } from './contract/fixtures.js';
export * from './processed-event-store-contract.js';
export * from './projection-store-contract.js';
