/** A mistake in how the CLI was called or configured: reported as one line, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
]);

interface ErrorFields {
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and everything it wraps (`cause`, and `errors` of an AggregateError), outermost first. */
function chain(error: unknown): ErrorFields[] {
  const found: ErrorFields[] = [];
  const visit = (value: unknown, depth: number) => {
    if (depth > 5 || typeof value !== 'object' || value === null) return;
    const fields = value as ErrorFields;
    found.push(fields);
    visit(fields.cause, depth + 1);
    if (Array.isArray(fields.errors)) for (const inner of fields.errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return found;
}

/**
 * The one line an error is reported as: its message, or, when the database could not be
 * reached at all, that fact with the driver's reason (`connect ECONNREFUSED 127.0.0.1:5432`).
 */
export function describeError(error: unknown): string {
  const links = chain(error);
  const unreachable = links.find((link) => typeof link.code === 'string' && UNREACHABLE_CODES.has(link.code));
  if (unreachable) {
    const reason =
      typeof unreachable.message === 'string' && unreachable.message ? unreachable.message : unreachable.code;
    return `cannot reach the database (${String(reason)})`;
  }
  const message = links.map((link) => link.message).find((text) => typeof text === 'string' && text !== '');
  const text = typeof message === 'string' ? message : String(error);
  return text.split('\n')[0]!.trim();
}
