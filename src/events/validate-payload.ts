import { EventValidationError, InvalidArgumentError, type ValidationIssue } from '../errors.js';
import type { AnyEventDefinition } from './define-event.js';
import type { StandardSchemaV1 } from './standard-schema.js';

const NO_PATH: readonly PropertyKey[] = Object.freeze([]);

/**
 * The validator's own code for an issue, when it reports one: `code` of zod and ArkType issues,
 * `type` of valibot issues (such as `min_value`).
 */
function issueCode(issue: StandardSchemaV1.Issue, vendor: string): string | undefined {
  const { code, type } = issue as { code?: unknown; type?: unknown };
  if (typeof code === 'string') return code;
  if (vendor === 'valibot' && typeof type === 'string') return type;
  return undefined;
}

/**
 * Maps the issues of a Standard Schema validation to annals' {@link ValidationIssue}s: path
 * segments given as `{ key }` objects become their keys.
 */
export function toValidationIssues(
  issues: ReadonlyArray<StandardSchemaV1.Issue>,
  vendor: string,
): ValidationIssue[] {
  return issues.map((issue): ValidationIssue => {
    const path =
      issue.path === undefined || issue.path.length === 0
        ? NO_PATH
        : issue.path.map((segment) =>
            typeof segment === 'object' && segment !== null ? segment.key : segment,
          );
    const code = issueCode(issue, vendor);
    return code === undefined
      ? { path, message: String(issue.message) }
      : { path, message: String(issue.message), code };
  });
}

/**
 * Validates a payload with its definition's schema, synchronously, and returns the schema's
 * output (defaults applied, values transformed). Throws {@link EventValidationError} with the
 * schema's issues when the payload is invalid, and {@link InvalidArgumentError} when the schema
 * validates asynchronously (returns a Promise): annals validates on the write and read paths
 * without awaiting, so async refinements and transforms are not supported.
 *
 * Internal: stores, the registry and aggregates call it for every event.
 *
 * @param eventId - the event's id, for the error, when it has one.
 */
export function validatePayload(definition: AnyEventDefinition, payload: unknown, eventId?: string): unknown {
  const standard = definition.schema['~standard'];
  const result = standard.validate(payload);
  if (typeof (result as Partial<PromiseLike<unknown>>).then === 'function') {
    // Keep a rejection of the abandoned validation from surfacing as an unhandled rejection.
    (result as PromiseLike<unknown>).then(undefined, () => {});
    throw new InvalidArgumentError(
      `event "${definition.type}": its ${standard.vendor} schema validated asynchronously (returned a Promise); ` +
        'annals validates payloads synchronously, so remove async refinements and transforms from the schema',
    );
  }
  const { issues } = result as StandardSchemaV1.Result<unknown>;
  if (issues !== undefined) {
    throw new EventValidationError(definition.type, toValidationIssues(issues, standard.vendor), eventId);
  }
  return (result as StandardSchemaV1.SuccessResult<unknown>).value;
}
