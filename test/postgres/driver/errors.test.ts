import { ErrorCode, isAnnalsError, isTransientError } from 'annals';
import { describe, expect, it } from 'vitest';
import { isTransientDriverError, toStoreError } from '../../../src/postgres/driver/errors.js';
import { runQuery } from '../../../src/postgres/driver/values.js';
import { describeWithServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres({ migrate: false });

/** The error a query fails with, as the driver raised it. */
async function driverError(sql: string): Promise<unknown> {
  try {
    await db.pool.query(sql);
  } catch (error) {
    return error;
  }
  throw new Error(`expected ${sql} to fail`);
}

describe('driver errors are classified where they arise', () => {
  it('a server error is a permanent StoreFailedError with its SQLSTATE', async () => {
    const error = toStoreError(await driverError('SELECT 1/0'), 'probe');
    expect(isAnnalsError(error, ErrorCode.StoreFailed)).toBe(true);
    expect(isTransientError(error)).toBe(false);
    if (isAnnalsError(error, ErrorCode.StoreFailed)) expect(error.sqlState).toBe('22012');
    expect(error.message).toMatch(/^probe failed \[22012\]/);
  });

  it('runQuery classifies too: a missing table is permanent', async () => {
    const error = await runQuery(db.pool, 'SELECT * FROM no_such_table_here', [], 'probe').catch((e) => e);
    expect(isAnnalsError(error, ErrorCode.StoreFailed)).toBe(true);
    expect((error as { sqlState?: string }).sqlState).toBe('42P01');
  });

  it('connection-level failures, deadlocks and serialization failures are transient', () => {
    for (const code of [
      '08006',
      '08003',
      '57P01',
      '57P03',
      '40001',
      '40P01',
      '53300',
      '55P03',
      'ECONNREFUSED',
      'ECONNRESET',
    ]) {
      const error = toStoreError(Object.assign(new Error(`failure ${code}`), { code }), 'probe');
      expect(isAnnalsError(error, ErrorCode.StoreUnavailable), code).toBe(true);
      expect(isTransientDriverError({ code }), code).toBe(true);
    }
    const timeout = toStoreError(new Error('timeout exceeded when trying to connect'), 'probe');
    expect(isTransientError(timeout)).toBe(true);
  });

  it('annals errors pass through unchanged', () => {
    const original = toStoreError(Object.assign(new Error('x'), { code: '22012' }), 'first');
    expect(toStoreError(original, 'second')).toBe(original);
  });
});

describeWithServer('a killed backend', () => {
  it('is a transient StoreUnavailableError', async () => {
    const pool = db.newPool(1);
    const client = await pool.connect();
    // After the query fails, the closing socket can also emit 'error' ("Connection terminated
    // unexpectedly") on the checked-out client, before release(true) runs: without a listener that
    // is an uncaught exception (and fails the run), depending on timing.
    client.on('error', () => undefined);
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const failing = client.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      const error = toStoreError(await failing, 'probe');
      expect(isTransientError(error), String(error)).toBe(true);
    } finally {
      client.release(true);
    }
  });
});
