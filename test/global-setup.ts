/**
 * Says once, at the start of `npm test`, which services the run uses, so that skipped tests are
 * never a surprise: without `DATABASE_URL` the PostgreSQL adapter's tests run on an embedded
 * PostgreSQL (PGlite), and the tests that need a real server are skipped (their titles say so);
 * without `RABBITMQ_URL` the RabbitMQ tests are skipped, also with a plain reason.
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
  if (process.env.RABBITMQ_URL) {
    lines.push(
      'RabbitMQ: tests in test/amqp run on the broker at RABBITMQ_URL, each file in a vhost of its own.',
    );
  } else {
    lines.push(
      'RabbitMQ: RABBITMQ_URL is unset, so the broker tests in test/amqp are SKIPPED (their titles say so).',
      '  Set RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672 to run them (rabbitmqctl must work: it creates their vhosts).',
    );
  }
  console.log(`\n${lines.join('\n')}\n`);
}
