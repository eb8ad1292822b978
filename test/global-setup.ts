/**
 * Says once, at the start of `npm test`, which services the run uses, so that skipped tests are
 * never a surprise: without `DATABASE_URL` the PostgreSQL adapter's tests run on an embedded
 * PostgreSQL (PGlite), and the tests that need a real server are skipped (their titles say so).
 */
export default function setup(): void {
  const lines: string[] = [];
  if (process.env.DATABASE_URL) {
    lines.push('PostgreSQL: tests run on the server at DATABASE_URL.');
  } else {
    lines.push(
      'PostgreSQL: DATABASE_URL is unset, so the adapter tests run on embedded PostgreSQL (PGlite) in process;',
      '  tests that need a real server (several connections, killed backends, races) are SKIPPED.',
      '  Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run them.',
    );
  }
  console.log(`\n${lines.join('\n')}\n`);
}
