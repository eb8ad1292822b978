import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/cli-error.js';
import { formatDuration, formatTable, truncate } from '../../src/cli/format.js';

describe('CLI formatting', () => {
  it('formats durations for people', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_400)).toBe('12.4s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(2 * 3_600_000 + 7 * 60_000)).toBe('2h 07m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 04h');
    expect(formatDuration(Number.NaN)).toBe('?');
  });

  it('lays out tables and cuts long text', () => {
    expect(
      formatTable(
        ['A', 'LONGER'],
        [
          ['wide cell', 'x'],
          ['b', ''],
        ],
      ),
    ).toEqual(['A          LONGER', 'wide cell  x', 'b']);
    expect(truncate('first line\nsecond', 100)).toBe('first line');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
  });

  it('describes errors in one line, naming an unreachable database', () => {
    const refused = Object.assign(new Error(''), {
      errors: [Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })],
    });
    const wrapped = new Error('loadCheckpoint: the connection to PostgreSQL was lost ()', { cause: refused });
    expect(describeError(wrapped)).toBe('cannot reach the database (connect ECONNREFUSED ::1:5432)');
    expect(describeError(new Error('first\n    at somewhere'))).toBe('first');
    expect(describeError('plain text')).toBe('plain text');
    expect(describeError(Object.assign(new Error(''), { cause: new Error('inner reason') }))).toBe(
      'inner reason',
    );
  });
});
