#!/usr/bin/env bash
# The execution environment's build context: `ansible-builder create` from execution-environment.yml
# (no image build: no registry is reachable here), then the checks that it would give an EE that runs
# the collection: the Containerfile installs our tarball, and ansible-builder's own introspection of
# the installed collection finds the Python and system packages the modules need on the OMS host.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$work"
cd "$work"
ansible-galaxy collection build --force > /dev/null
ansible-builder create --file execution-environment.yml --context ee-context > /dev/null
containerfile=ee-context/Dockerfile
[ -f "$containerfile" ] || containerfile=ee-context/Containerfile
grep -q 'COPY _build/collections /build/collections' "$containerfile"
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$containerfile"
ls ee-context/_build/collections/obtools-oms-*.tar.gz > /dev/null
mkdir installed
# Its own collections path: ansible-galaxy skips a collection it already finds on the configured one.
ANSIBLE_COLLECTIONS_PATH="$PWD/installed" ansible-galaxy collection install --force -p installed \
  ee-context/_build/collections/obtools-oms-*.tar.gz > /dev/null
found=$(python3 ee-context/_build/scripts/introspect.py introspect installed)
echo "$found"
for want in docker PyMySQL mariadb-client; do
  grep -q "$want" <<< "$found" || { echo "check_ee: $want missing from the EE's introspected dependencies" >&2; exit 1; }
done
# The tarball ships what a user needs and nothing of the developers'.
tar -tzf obtools-oms-*.tar.gz > contents
for unwanted in requirements.txt scripts/ tests/ molecule/ benchmarks/ .ci/ execution-environment.yml; do
  if grep -q "^${unwanted}" contents; then echo "check_ee: the tarball ships $unwanted" >&2; exit 1; fi
done
echo "check_ee: ansible-builder create passed; the collection tarball holds $(wc -l < contents) entries"
