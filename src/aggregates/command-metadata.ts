import type { EventMetadata } from '../events/event-envelope.js';

/**
 * What a command carries besides its arguments. The repository copies it into the metadata of
 * every event the command produces: `commandId`, `causationId` (defaults to the command id) and
 * `correlationId` (defaults to the causation id), plus any user-defined keys.
 *
 * @category Aggregates
 */
export interface CommandMetadata {
  /** The command's unique id; the key of command de-duplication. */
  readonly commandId?: string;
  /** The id shared by everything caused by one original request. */
  readonly correlationId?: string;
  /** What caused this command (a previous command's or event's id). */
  readonly causationId?: string;
  /** User-defined keys (user id, tenant, ...), copied into each event's metadata. */
  readonly [key: string]: unknown;
}

/** The metadata that events of a command get: the command's metadata with derived ids filled in. */
export function eventMetadataFor(command: CommandMetadata | undefined, own: EventMetadata): EventMetadata {
  if (!command) return own;
  const causationId = command.causationId ?? command.commandId;
  const correlationId = command.correlationId ?? causationId;
  const merged: EventMetadata = { ...command, ...own };
  if (command.commandId !== undefined) merged.commandId = command.commandId;
  if (causationId !== undefined) merged.causationId = causationId;
  if (correlationId !== undefined) merged.correlationId = correlationId;
  return merged;
}
