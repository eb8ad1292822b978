import {
  AnnalsError,
  ConcurrencyError,
  DomainRuleError,
  ErrorCode,
  EventValidationError,
  isAnnalsError,
  isConcurrencyError,
  isDomainRuleError,
  isEventValidationError,
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
    expect(isConcurrencyError(foreign)).toBe(true);
    expect(isAnnalsError(foreign)).toBe(true);
    expect(isDomainRuleError(foreign)).toBe(false);
    expect(isConcurrencyError(new Error('plain'))).toBe(false);
    expect(isConcurrencyError(null)).toBe(false);
    expect(isAnnalsError({ code: ErrorCode.Concurrency })).toBe(false);
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
    expect(isEventValidationError(error)).toBe(true);
    expect(error.message).toBe('Invalid payload for event type "OrderCreated": items.0.quantity: Too small');
    expect(new DomainRuleError('no', 'rule-x').rule).toBe('rule-x');
  });
});
