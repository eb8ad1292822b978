import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError, describeError } from '../cli-error.js';
import { packageRoot } from '../version.js';

/** What the CLI needs of the bundled example: its Quick Start. */
interface ExampleModule {
  main(): Promise<void>;
}

/**
 * `annals example`: the Order example's Quick Start (examples/order), bundled with the package
 * as dist/example/main.js: on PGlite in process, or on `DATABASE_URL` (and through RabbitMQ with
 * `RABBITMQ_URL`). It needs the peers the example uses: zod, and @electric-sql/pglite or pg.
 */
export async function exampleCommand(): Promise<void> {
  const root = packageRoot();
  if (root === undefined) throw new CliError('cannot find the annals package that holds the example');
  // Run from the repository's sources (through tsx), the example's sources; else the build.
  const fromSources = import.meta.url.endsWith('.ts');
  const path = fromSources ? join(root, 'examples/order/main.ts') : join(root, 'dist/example/main.js');
  if (!existsSync(path)) throw new CliError(`the bundled example is missing: ${path}`);
  let example: ExampleModule;
  try {
    example = (await import(pathToFileURL(path).href)) as ExampleModule;
  } catch (error) {
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(describeError(error))?.[1];
    if (missing) {
      throw new CliError(
        `the example needs the package "${missing}": npm install zod @electric-sql/pglite (and pg for DATABASE_URL, amqplib for RABBITMQ_URL)`,
        { cause: error },
      );
    }
    throw error;
  }
  await example.main();
}
