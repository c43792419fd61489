#!/usr/bin/env bash
# Release the collection: VERSION on a commit of its own, tagged VERSION, then main on the next
# release's development version (NEXT-dev0; NEXT defaults to VERSION's next minor).
#   bash scripts/release.sh VERSION [NEXT]       e.g. bash scripts/release.sh 0.2.0
# Run it on a clean checkout of main, after `source scripts/env.sh` (antsibull-changelog reads the
# modules through ansible-doc, which finds the collection through the link env.sh makes). It
#  1. refuses unless the tree is clean, VERSION is X.Y.Z above every release, and every change
#     since the last release has a fragment (scripts/changelog_check.py);
#  2. sets galaxy.yml's version, and the tarball's name in ee-requirements.yml and README.md;
#  3. runs `antsibull-changelog release --version VERSION` (changelog.yaml, CHANGELOG.rst; the
#     fragments are removed) and writes the released surface (changelogs/.released-surface.json);
#  4. commits "Release VERSION" and tags it VERSION (annotated);
#  5. sets NEXT-dev0 the same way and commits it.
# Nothing is pushed: push the branch and the tag yourself (git push origin main VERSION).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
version=${1:?usage: bash scripts/release.sh VERSION [NEXT]}
semver='^[0-9]+\.[0-9]+\.[0-9]+$'
[[ $version =~ $semver ]] || { echo "release: VERSION must be X.Y.Z, not $version" >&2; exit 2; }
if [ -n "${2:-}" ]; then
  next=$2
else
  IFS=. read -r major minor _patch <<< "$version"
  next="$major.$((minor + 1)).0"
fi
[[ $next =~ $semver ]] || { echo "release: NEXT must be X.Y.Z, not $next" >&2; exit 2; }

# shellcheck source=scripts/env.sh
source scripts/env.sh

if [ -n "$(git status --porcelain)" ]; then
  echo "release: the tree has changes; commit or stash them first" >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/$version" > /dev/null; then
  echo "release: tag $version exists already" >&2
  exit 1
fi
current=$(sed -n 's/^version: *//p' galaxy.yml)
python - "$version" "$next" "$current" <<'PY'
import sys
sys.path.insert(0, "scripts")
import changelog_check as c
import yaml
version, next_, current = sys.argv[1:]
releases = (yaml.safe_load(open("changelogs/changelog.yaml")) or {}).get("releases") or {}
last = max(releases, key=c.version_key) if releases else "0.0.0"
if c.version_key(version) <= c.version_key(last):
    sys.exit("release: %s is not above the last release %s" % (version, last))
if c.version_key(current) > c.version_key(version):
    sys.exit("release: galaxy.yml says %s, above %s" % (current, version))
if c.version_key(next_) <= c.version_key(version):
    sys.exit("release: the next version %s is not above %s" % (next_, version))
PY
if ! python scripts/changelog_check.py; then
  echo "release: add the fragments named above first (CONTRIBUTING.md, Releases)" >&2
  exit 1
fi

set_version() {  # galaxy.yml's version, and the tarball's name wherever the files name one
  local to=$1 f
  sed -i "s/^version: .*/version: $to/" galaxy.yml
  for f in ee-requirements.yml README.md; do
    [ ! -f "$f" ] || sed -i -E "s/obtools-oms-[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?\.tar\.gz/obtools-oms-$to.tar.gz/g" "$f"
  done
}

set_version "$version"
antsibull-changelog release --version "$version"
python scripts/release_surface.py --version "$version" --write changelogs/.released-surface.json
git add -A galaxy.yml ee-requirements.yml README.md CHANGELOG.rst changelogs
git commit -q -m "Release $version"
git tag -a "$version" -m "obtools.oms $version"
echo "release: committed and tagged $version ($(git rev-parse --short HEAD))"

set_version "$next-dev0"
git add galaxy.yml ee-requirements.yml README.md
git commit -q -m "Version $next-dev0: main after the release of $version"
echo "release: main is on $next-dev0 ($(git rev-parse --short HEAD)); push with: git push origin HEAD $version"
