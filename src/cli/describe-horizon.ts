import type { LogHorizon } from '../core.js';
import { formatDuration } from './format.js';

/**
 * What `annals status` says about the readable end of the log: its scope and, when committed
 * events wait behind an unfinished transaction, which one (pid, database, application, age).
 */
export function describeHorizon(horizon: LogHorizon): string {
  const scope = `readers' horizon: ${horizon.scope}`;
  const holder = horizon.holder;
  if (horizon.heldBackEvents === 0n || !holder) return scope;
  const facts = [
    holder.pid === undefined ? undefined : `pid ${holder.pid}`,
    holder.database === undefined ? undefined : `database ${holder.database}`,
    holder.application === undefined ? undefined : `application ${holder.application}`,
    holder.ageMs === undefined ? undefined : `running for ${formatDuration(holder.ageMs)}`,
  ].filter((fact) => fact !== undefined);
  const who = `transaction ${holder.transactionId}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`;
  return `${scope}; ${horizon.heldBackEvents} committed events wait behind ${who}`;
}
