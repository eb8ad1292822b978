// Runs in the second scratch project of scripts/package-test.sh, where the tarball is installed
// beside the oldest peers package.json claims (the arguments, name@version): npm installed those
// versions, and the entry points load under `require` and `import`, as do the peers.
const fs = require('node:fs');

const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

const installed = [];
for (const spec of process.argv.slice(2)) {
  const at = spec.lastIndexOf('@');
  const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
  // From the file: a package's exports map need not offer its package.json.
  const actual = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
  check(actual === version, `${name}: ${actual} installed, not ${version}`);
  installed.push(`${name}@${actual}`);
  // pg and amqplib are loaded by annals only when used: load them here.
  if (name === 'pg' || name === 'amqplib') {
    check(typeof require(name) === 'object', `require("${name}") failed`);
  }
}

const entries = ['annals', 'annals/postgres', 'annals/amqp'];
async function main() {
  for (const entry of entries) {
    const required = require(entry);
    const imported = await import(entry);
    check(Object.keys(required).length > 0, `require("${entry}") is empty`);
    check(
      Object.keys(required).sort().join() ===
        Object.keys(imported)
          .filter((key) => key !== 'default')
          .sort()
          .join(),
      `${entry}: require and import export different names`,
    );
  }
}
main().then(() => {
  if (failures.length > 0) {
    console.error(failures.map((failure) => `FAIL ${failure}`).join('\n'));
    process.exit(1);
  }
  console.log(
    `oldest peers: ${installed.join(', ')} installed; ${entries.join(', ')} load under require and import`,
  );
});
