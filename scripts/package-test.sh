#!/usr/bin/env bash
# Packs annals and checks the tarball as users receive it (needs `npm run build` first):
# 1. publint and @arethetypeswrong/cli (every resolution: node10, node16 from CJS and ESM, bundler).
# 2. Installed with its peers at the versions this repository develops against, in a scratch
#    project: every entry point under `import` and `require`, the runtime exports against
#    etc/public-api.txt, one copy of the core; the declaration files type-checked; a consumer that
#    imports every entry point type-checked under moduleResolution node16, bundler and node10, then compiled and run: an
#    aggregate -> store -> projection round trip on PGlite.
# 3. Installed beside the oldest peers package.json claims, in a second scratch project: the
#    install resolves (no ERESOLVE), the entry points load, and the consumer type-checks and runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS
bin="$root/node_modules/.bin"

tarball=$(npm pack --silent --pack-destination "$scratch" | tail -n 1)
echo "packed $tarball ($(du -k "$scratch/$tarball" | cut -f1) kB)"

# The checks of metadata and types (publint, attw, tsc) do not depend on the Node.js version that
# runs this script, and .ci/run runs it under each version with the same build: they run once per
# tarball, package-test scripts and lock file (a stamp in node_modules/.cache, which npm ci
# empties); later runs compile the consumer without checking it.
stamps="$root/node_modules/.cache/annals-package-test"
stamp="$stamps/$(cat "$scratch/$tarball" scripts/package-test.sh scripts/package-test/* package-lock.json |
  sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  static=false
  echo "publint, attw and the type checks: passed for this tarball already ($(cat "$stamp")), skipped"
else
  static=true
fi

# 1. The tarball's package.json and files (publint), and its types under every resolution (attw;
#    it exits 1 on the one problem check-attw.mjs allows, so its verdict is that script's).
if $static; then
  "$bin/publint" run --strict "$scratch/$tarball"
  "$bin/attw" "$scratch/$tarball" --format json --no-definitely-typed >"$scratch/attw.json" || true
  node scripts/package-test/check-attw.mjs "$scratch/attw.json"
fi

install() {
  npm install --no-audit --no-fund --prefer-offline --loglevel=error "$@"
}
# The consumer under each moduleResolution; the node16 build is then run.
consumer() {
  if $static; then
    for resolution in node16 bundler node10; do
      "$bin/tsc" -p "tsconfig.$resolution.json"
      echo "consumer: type-checks under moduleResolution $resolution"
    done
  else
    "$bin/tsc" -p tsconfig.node16.json --noCheck
  fi
  node out/consumer.js
}
new_project() {
  mkdir "$scratch/$1"
  cd "$scratch/$1"
  printf '{ "name": "annals-package-test", "private": true, "type": "module" }\n' >package.json
  cp "$root"/scripts/package-test/* .
  cp "$root/etc/public-api.txt" .
}

# 2. The peers at the versions this repository develops against (from its lock file, so the npm
#    cache serves them), and @types/node for the consumer.
dev() { echo "$1@$(cd "$root" && node -p "require('./node_modules/$1/package.json').version")"; }
echo "--- with the peers this repository develops against"
new_project current
install "../$tarball" "$(dev zod)" "$(dev pg)" "$(dev @electric-sql/pglite)" "$(dev vitest)" "$(dev @types/node)"
node check-esm.mjs
node check-cjs.cjs
# The bundled Order example from the installed package, on PGlite (no pg, no server, no broker);
# ANNALS_PACKAGE_EXAMPLE=0 skips it (.ci/run, under the Node.js versions that run the example
# otherwise).
if [ "${ANNALS_PACKAGE_EXAMPLE:-1}" != 0 ]; then
  env -u DATABASE_URL -u READ_MODEL_DATABASE_URL -u RABBITMQ_URL ./node_modules/.bin/annals example >example.out 2>&1 ||
    { cat example.out; echo "annals example failed" >&2; exit 1; }
  grep -q 'identical to the rows before' example.out ||
    { cat example.out; echo "annals example did not rebuild identical rows" >&2; exit 1; }
  echo "annals example: the Order Quick Start ran from the installed package on PGlite"
else
  echo "annals example: skipped (ANNALS_PACKAGE_EXAMPLE=0)"
fi
# annals' own declaration files, every one, with skipLibCheck off (they import no other package
# but use Node's globals: Buffer, AbortSignal; the consumer's configs skip library checks, as
# PGlite's declarations need the DOM's and Emscripten's).
if $static; then
  "$bin/tsc" -p tsconfig.declarations.json
  echo "declarations: dist/**/*.d.ts and *.d.cts type-check (skipLibCheck off)"
fi
consumer

# 3. The oldest peers package.json claims (the lower bounds of peerDependencies; the first run
#    downloads them, later ones find them in the npm cache). vitest is not installed: only
#    annals/testing loads it, and the consumer takes only types from there.
oldest=(amqplib@0.10.0 zod@3.24.0 pg@8.11.0 @opentelemetry/api@1.4.0 @electric-sql/pglite@0.5.0)
echo "--- beside the oldest peers: ${oldest[*]}"
new_project oldest
install "../$tarball" "${oldest[@]}" "$(dev @types/node)"
node check-oldest.cjs "${oldest[@]}"
consumer
# ...and that install means something: npm refuses a peer below its range (ERESOLVE), optional
# peers included (a dry run: it resolves, and installs nothing).
if $static; then
  new_project refused
  if install --dry-run "../$tarball" zod@3.23.8 >/dev/null 2>npm-refused.log; then
    echo "npm installed annals beside zod 3.23.8, below its peer range ^3.24.0" >&2
    exit 1
  fi
  grep -q ERESOLVE npm-refused.log || { cat npm-refused.log >&2; exit 1; }
  echo "below the range: npm refuses zod 3.23.8 beside annals (ERESOLVE)"
fi

if $static; then
  mkdir -p "$stamps"
  echo "Node $(node --version), $(date -u +%FT%TZ)" >"$stamp"
fi
echo "package test: ok ($((SECONDS - started)) s)"
