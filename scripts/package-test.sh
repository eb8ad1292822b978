#!/usr/bin/env bash
# Packs annals, installs the tarball with its peers into a scratch project, and checks it as users
# receive it: every entry point under `import` and `require`, the runtime exports against
# etc/public-api.txt, one copy of the core, and a round trip on PGlite. Needs `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

tarball=$(npm pack --silent --pack-destination "$scratch" | tail -n 1)
echo "packed $tarball ($(du -k "$scratch/$tarball" | cut -f1) kB)"

# The peers at the versions this repository develops against (from its lock file, so the npm
# cache serves them).
peer() { node -p "require('./node_modules/$1/package.json').version"; }
cd "$scratch"
printf '{ "name": "annals-package-test", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --prefer-offline --loglevel=error \
  "./$tarball" "zod@$(cd "$root" && peer zod)" "pg@$(cd "$root" && peer pg)" \
  "@electric-sql/pglite@$(cd "$root" && peer @electric-sql/pglite)" "vitest@$(cd "$root" && peer vitest)"
cp "$root"/scripts/package-test/* .
cp "$root/etc/public-api.txt" .
node check-esm.mjs
node check-cjs.cjs
echo "package test: ok"
