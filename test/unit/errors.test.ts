import {
  AnnalsError,
  CommitOutcomeUnknownError,
  ConcurrencyError,
  CorruptDataError,
  DomainRuleError,
  ErrorCode,
  EventValidationError,
  InvalidArgumentError,
  isAnnalsError,
  isTransientError,
  StoreFailedError,
  StoreUnavailableError,
} from 'annals';
import { describe, expect, it } from 'vitest';

describe('errors', () => {
  it('carry a stable code, a name and the fields of their kind', () => {
    const error = new ConcurrencyError('order-1', 3, 5);
    expect(error).toBeInstanceOf(AnnalsError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ANNALS_CONCURRENCY');
    expect(error.name).toBe('ConcurrencyError');
    expect(error.message).toContain('expected version 3, actual version 5');
    expect(error).toMatchObject({ aggregateId: 'order-1', expectedVersion: 3, actualVersion: 5 });
  });

  it('guards check the code, so errors from another copy of the library are recognised', () => {
    const foreign = Object.assign(new Error('from the CJS build'), { code: ErrorCode.Concurrency });
    expect(isAnnalsError(foreign, ErrorCode.Concurrency)).toBe(true);
    expect(isAnnalsError(foreign)).toBe(true);
    expect(isAnnalsError(foreign, ErrorCode.DomainRule)).toBe(false);
    expect(isAnnalsError(new Error('plain'), ErrorCode.Concurrency)).toBe(false);
    expect(isAnnalsError(null, ErrorCode.Concurrency)).toBe(false);
    expect(isAnnalsError({ code: ErrorCode.Concurrency })).toBe(false);
  });

  it('isAnnalsError(error, code) narrows to the class of the code', () => {
    const error: unknown = new ConcurrencyError('order-1', 3, 5);
    if (!isAnnalsError(error, ErrorCode.Concurrency)) throw new Error('not recognised');
    expect(error.actualVersion).toBe(5);
  });

  it('isTransientError: only an unreachable store and an unknown COMMIT outcome are worth retrying', () => {
    expect(isTransientError(new StoreUnavailableError('lost', { sqlState: '57P01' }))).toBe(true);
    expect(isTransientError(new CommitOutcomeUnknownError('lost during COMMIT'))).toBe(true);
    expect(isTransientError(new StoreFailedError('division by zero', { sqlState: '22012' }))).toBe(false);
    expect(isTransientError(new CorruptDataError('gap'))).toBe(false);
    expect(isTransientError(new InvalidArgumentError('bad'))).toBe(false);
    expect(isTransientError(new Error('plain'))).toBe(false);
    expect(new StoreFailedError('x', { sqlState: '25P02' }).sqlState).toBe('25P02');
  });

  it('every code is distinct', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ANNALS_[A-Z_]+$/);
  });

  it('validation errors summarise the issues', () => {
    const error = new EventValidationError('OrderCreated', [
      { path: ['items', 0, 'quantity'], message: 'Too small', code: 'too_small' },
    ]);
    expect(isAnnalsError(error, ErrorCode.EventValidation)).toBe(true);
    expect(error.message).toBe('Invalid payload for event type "OrderCreated": items.0.quantity: Too small');
    expect(new DomainRuleError('no', 'rule-x').rule).toBe('rule-x');
  });
});
