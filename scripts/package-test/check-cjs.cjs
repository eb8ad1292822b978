// Runs in the scratch project of scripts/package-test.sh: the CommonJS build as `require` sees it.
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

const core = require('annals');
const postgres = require('annals/postgres');
const amqp = require('annals/amqp');
check(typeof core.AggregateRepository === 'function', 'require("annals") lacks AggregateRepository');
check(typeof postgres.createPostgres === 'function', 'require("annals/postgres") lacks createPostgres');
check(typeof amqp === 'object', 'require("annals/amqp") failed');
async function main() {
  try {
    await postgres.createPostgres({ registry: new core.EventRegistry([]) });
    check(false, 'createPostgres without a connection did not throw');
  } catch (error) {
    check(
      error instanceof core.InvalidArgumentError,
      'CJS: annals/postgres threw an error of another copy of the core',
    );
  }
}
// annals/testing is ESM only (vitest refuses CommonJS): require must say so plainly.
try {
  require('annals/testing');
  check(false, 'require("annals/testing") should fail: the entry point is ESM only');
} catch (error) {
  check(error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED', `require("annals/testing"): ${error.code}`);
}
main().then(() => {
  if (failures.length > 0) {
    console.error(failures.map((failure) => `FAIL ${failure}`).join('\n'));
    process.exit(1);
  }
  console.log('CJS: annals, annals/postgres, annals/amqp load; annals/testing is ESM only');
});
