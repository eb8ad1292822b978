/**
 * Test helpers for annals users and adapter authors: the `IEventStore` and projection-store contract suites and
 * given/when/then scenarios for aggregates. They use vitest (an optional peer dependency).
 *
 * @packageDocumentation
 */

export * from './aggregate-scenario.js';
export * from './contract/describe-event-store-contract.js';
export { ContractItemAdded, ContractNote, contractRegistry } from './contract/fixtures.js';
export * from './projection-store-contract.js';
