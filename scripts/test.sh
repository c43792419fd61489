#!/usr/bin/env bash
# Every test of the collection, from a fresh machine: bash scripts/test.sh [STAGE...]
# Stages, in order (default: all): sanity lint docs unit testbed integration molecule benchmark
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

all=(sanity lint docs unit testbed integration molecule benchmark)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all[@]}")

bash scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

declare -A took=()
stage() { printf '\n===== %s =====\n' "$1"; }

run_sanity() {
  # ansible-test insists on running inside ansible_collections/NAMESPACE/NAME.
  local tree
  tree=$(mktemp -d)/ansible_collections/obtools/oms
  mkdir -p "$tree"
  git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$tree"
  (cd "$tree" && ansible-test sanity --requirements --python 3.11 --color no)
}

run_lint() {
  ansible-lint --profile production --strict
}

run_docs() {
  local m
  for m in plugins/modules/*.py; do
    m=$(basename "$m" .py)
    ansible-doc "obtools.oms.$m" > /dev/null
    echo "ansible-doc renders obtools.oms.$m"
  done
}

run_unit() {
  python -m pytest tests/unit -q
}

run_testbed() {
  python -m pytest tests/testbed/tests -q
}

run_integration() {
  python -m pytest tests/integration -q
}

run_molecule() {
  molecule test --all
}

run_benchmark() {
  python benchmarks/run.py --quick
}

for s in "${stages[@]}"; do
  stage "$s"
  start=$SECONDS
  "run_$s"
  took[$s]=$((SECONDS - start))
done

printf '\n===== summary =====\n'
for s in "${stages[@]}"; do printf '%-12s passed in %4ss\n' "$s" "${took[$s]}"; done
