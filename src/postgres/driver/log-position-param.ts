/**
 * The PostgreSQL modules that take positions (log reads, checkpoints) check them with the core's
 * `assertLogPosition` before sending them as query parameters; it is re-exported here for them.
 *
 * @internal
 * @module
 */
export { assertLogPosition } from '../../core.js';
