import { eventStoreMigration } from './001-event-store.js';
import { projectionsMigration } from './002-projections.js';
import { idempotencySnapshotsMigration } from './003-idempotency-snapshots.js';
import { projectionFencesMigration } from './004-projection-fences.js';
import type { Migration } from './migration.js';

export type { Migration, MigrationContext } from './migration.js';

/**
 * Every migration of the PostgreSQL adapter, in version order. Adding a migration is one new
 * file and one line here.
 */
export const migrations: readonly Migration[] = Object.freeze([
  eventStoreMigration,
  projectionsMigration,
  idempotencySnapshotsMigration,
  projectionFencesMigration,
]);
