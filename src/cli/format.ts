/** Formats a duration in milliseconds for people: `850ms`, `12.4s`, `3m 05s`, `2h 07m`, `3d 04h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const pad = (value: number) => String(Math.floor(value)).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${pad(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${pad((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${pad((seconds % 86_400) / 3600)}h`;
}

/** Lays rows out as a table with a header line; columns are padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Shortens text to `max` characters, ending with an ellipsis when cut; keeps only the first line. */
export function truncate(text: string, max: number): string {
  const first = text.split('\n')[0]!;
  return first.length <= max ? first : `${first.slice(0, Math.max(0, max - 1))}…`;
}

/** JSON with bigints as strings and Dates in ISO 8601. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item),
    2,
  );
}
