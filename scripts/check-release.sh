#!/usr/bin/env bash
# Rehearses the next release without touching this work tree: clones the repository into a
# scratch directory (its history, so the notes name each changeset's commit as a release would),
# lays this work tree's package.json, CHANGELOG.md and .changeset/ over it (so uncommitted
# changesets count), runs `changeset version` there, and checks what it made:
#   - package.json's version is the expected one (0.1.0, or $ANNALS_EXPECTED_VERSION);
#   - every changeset was consumed, and the first line of each appears in CHANGELOG.md;
#   - CHANGELOG.md has the release's heading first, no empty section, no leftover placeholder.
# Prints the new release's headings and the first line of each entry (--print: the whole section).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
expected=${ANNALS_EXPECTED_VERSION:-0.1.0}
print_all=false
if [ "${1:-}" = "--print" ]; then print_all=true; fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git clone -q --no-hardlinks --shared "$root" "$scratch/repo"
rm -rf "$scratch/repo/.changeset"
cp package.json CHANGELOG.md "$scratch/repo/"
cp -r .changeset "$scratch/repo/.changeset"
ln -s "$root/node_modules" "$scratch/repo/node_modules"
cd "$scratch/repo"
# changesets reads the base branch (config.json: "main") from git; a CI checkout may have none.
if ! git rev-parse -q --verify refs/heads/main >/dev/null; then git branch -q main HEAD; fi

before=$(node -p "require('./package.json').version")
mapfile -t changesets < <(find .changeset -maxdepth 1 -name '*.md' ! -name 'README.md' | sort)
echo "release check: ${#changesets[@]} changesets, version $before, expecting $expected"

# The first non-blank line of each changeset's text (after the front matter).
declare -A first_lines=()
for file in "${changesets[@]}"; do
  first_lines[$file]=$(awk 'f==2 && NF {print; exit} /^---$/ {f++}' "$file")
done

"$root/node_modules/.bin/changeset" version >changeset-version.log 2>&1 || {
  cat changeset-version.log
  echo "release check: changeset version failed" >&2
  exit 1
}

failures=()
after=$(node -p "require('./package.json').version")
if [ "$after" != "$expected" ]; then failures+=("version is $after after changeset version, expected $expected"); fi

left=$(find .changeset -maxdepth 1 -name '*.md' ! -name 'README.md' | wc -l)
if [ "$left" -ne 0 ]; then failures+=("$left changesets were not consumed"); fi

# The new release: from its heading to the next release heading.
section=$(awk -v v="## $after" '$0 == v {f=1; print; next} f && /^## / {exit} f {print}' CHANGELOG.md)
if [ -z "$section" ]; then failures+=("CHANGELOG.md has no '## $after' section"); fi
first_heading=$(grep -m1 '^## ' CHANGELOG.md || true)
if [ "$first_heading" != "## $after" ]; then failures+=("the first release heading is '$first_heading', not '## $after'"); fi

# changesets formats the notes with prettier, which escapes Markdown characters (docs/\*.md):
# compare without backslashes.
plain_section=${section//\\/}
for file in "${changesets[@]}"; do
  line=${first_lines[$file]}
  if [ -z "$line" ]; then failures+=("$file has no text"); continue; fi
  if ! grep -qF -- "${line//\\/}" <<<"$plain_section"; then
    failures+=("$file's first line is not in the release notes")
  fi
done

# A heading followed by a heading of its level or higher (or by the end) is an empty section.
empty=$(awk '/^#+ / {n=index($0, " ") - 1; if (h != "" && n <= hn) print h; h=$0; hn=n; next}
  NF {h=""} END {if (h != "") print h}' <<<"$section")
if [ -n "$empty" ]; then failures+=("empty sections: $(tr '\n' ' ' <<<"$empty")"); fi
if grep -qi 'unreleased changes are in' CHANGELOG.md; then
  failures+=("CHANGELOG.md still says unreleased changes are in .changeset (reads wrong after a release)")
fi

if $print_all; then
  printf '%s\n' "$section"
else
  echo "--- CHANGELOG.md, $after (headings and the first 100 characters of each entry; --print for all)"
  awk '/^#+ / {print; next} /^- / {print substr($0, 1, 100) (length($0) > 100 ? "…" : "")}' <<<"$section"
fi

if [ "${#failures[@]}" -ne 0 ]; then
  printf 'release check FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "release check: ok ($before -> $after, ${#changesets[@]} changesets in the notes)"
