#!/usr/bin/env node
/**
 * The `annals` executable: migrations, projection status and lag, rebuilds with progress, dead
 * letters, and running projections. See `annals --help` and docs/operations.md.
 *
 * @module
 */
import { processIo } from './cli-io.js';
import { runCli } from './run-cli.js';

void runCli(process.argv.slice(2), processIo()).then((code) => {
  // Let stdout and stderr drain, then end even if a config left a connection open.
  process.exitCode = code;
  process.stdout.write('', () => {
    process.stderr.write('', () => process.exit(code));
  });
});
