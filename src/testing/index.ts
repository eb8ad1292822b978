/**
 * Test helpers for annals users and adapter authors: the contract suites of every store (event
 * store, projection store, command log, processed events, snapshots), and given/when/then scenarios
 * for aggregates and deciders. They use vitest (an optional peer dependency); this entry point is
 * ESM only, as vitest is.
 *
 * @packageDocumentation
 * @module annals/testing
 */

export * from './aggregate-scenario.js';
export * from './command-log-contract.js';
export * from './contract/describe-event-store-contract.js';
export { ContractItemAdded, ContractNote, contractRegistry } from './contract/fixtures.js';
export * from './processed-event-store-contract.js';
export * from './projection-store-contract.js';
export * from './snapshot-store-contract.js';
