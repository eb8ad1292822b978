import type { Migration } from './migration.js';

/**
 * Migration 4: fenced projection leases.
 *
 * - `projection_checkpoints.fence`: the fencing token of the projection's latest lease. Each new
 *   holder increments it (inserting the row, at the start of the log, when there is none) in a
 *   transaction of its own before it loads the checkpoint, and every batch's compare-and-set
 *   requires it to be the holder's: a runner that lost its lease cannot commit another batch.
 * - `projection_checkpoints.updated_at` may be NULL: a row created by a lease, before any
 *   checkpoint was stored, has no `updated_at`.
 */
export const projectionFencesMigration: Migration = {
  version: 4,
  name: 'projection-fences',
  sql: (s) => `
ALTER TABLE ${s}.projection_checkpoints
  ADD COLUMN fence bigint NOT NULL DEFAULT 0 CHECK (fence >= 0),
  ALTER COLUMN updated_at DROP NOT NULL;
`,
};
