#!/usr/bin/env bash
# Every test of the collection, from a fresh machine: bash scripts/test.sh [STAGE...]
# Stages, in order (default: all): sanity lint docs unit ee testbed integration molecule benchmark matrix
# CI's budget is 90 minutes on 2 cores, so the slow proofs run a seeded sample here (a fault at 1
# of the 15 steps, 2 controller kills, 6 of the 45 bad inputs), the benchmark on MariaDB only and
# the lowest ansible-core without its molecule scenario. OMS_EXHAUSTIVE=1 bash scripts/test.sh runs
# every one of them (several hours on 2 cores).
# The MetaDB-facing stages run once per MetaDB engine of the test bed (OMS_TESTBED_METADB):
# integration (all of it on MariaDB, then again on OceanBase/seekdb) and molecule (every scenario
# on MariaDB, then default, rollback and auto_rollback on OceanBase). OMS_TEST_METADBS chooses
# the engines (default "mariadb oceanbase"), e.g. OMS_TEST_METADBS=oceanbase bash scripts/test.sh molecule
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

all=(sanity lint docs unit ee testbed integration molecule benchmark matrix)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all[@]}")

bash scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

declare -A took=()
order=()
stage() { printf '\n===== %s =====\n' "$1"; }
read -r -a engines <<< "${OMS_TEST_METADBS:-mariadb oceanbase}"
if [ "${OMS_EXHAUSTIVE:-0}" = 1 ]; then
  export OMS_FAULT_POINTS=all OMS_KILL_RUNS=5 OMS_MATRIX_MOLECULE=1
  unset OMS_BAD_INPUTS_SAMPLE
  benchmark_args=(--quick)
else
  export OMS_FAULT_POINTS=${OMS_FAULT_POINTS:-1} OMS_KILL_RUNS=${OMS_KILL_RUNS:-2}
  export OMS_BAD_INPUTS_SAMPLE=${OMS_BAD_INPUTS_SAMPLE:-6}
  benchmark_args=(--quick --engines mariadb --heartbeat-rows 100000 --compress none)
fi
# Times of the passes inside a stage (integration[oceanbase]...), for the summary.
timed() {
  local name=$1 start=$SECONDS
  shift
  printf '\n----- %s -----\n' "$name"
  "$@"
  took[$name]=$((SECONDS - start))
  order+=("$name")
}

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
  ruff check .
  antsibull-changelog lint
}

run_ee() {
  bash scripts/check_ee.sh
}

run_matrix() {
  bash scripts/matrix.sh
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

# Molecule scenarios that also run on the OceanBase MetaDB.
oceanbase_scenarios=(default rollback auto_rollback)

# The integration tests of the modules that talk to the MetaDB.
metadb_integration=(tests/integration/test_oms_metadb_backup.py tests/integration/test_oms_ha_config.py
                    tests/integration/test_oms_server_health.py)

run_integration() {
  local engine instance integration_files=(tests/integration)
  for engine in "${engines[@]}"; do
    # Its own instance per engine, so both can be left up side by side.
    instance=${OMS_TEST_INSTANCE:-a}
    [ "$engine" = mariadb ] || instance="${instance}ob"
    timed "integration[$engine]" env OMS_TESTBED_METADB="$engine" OMS_TEST_INSTANCE="$instance" \
      python -m pytest -q "${integration_files[@]}"
    # The second engine runs the tests of what talks to the MetaDB; the rest does not change
    # with the engine (containers, images, the console, the roles' logic).
    integration_files=("${metadb_integration[@]}")
  done
}

run_molecule() {
  local engine s
  for engine in "${engines[@]}"; do
    if [ "$engine" = mariadb ]; then
      timed "molecule[mariadb]" env OMS_TESTBED_METADB=mariadb molecule test --all
      continue
    fi
    # Scenario instance names are fixed (r1...): each `molecule test` begins with destroy, and
    # `testbed up` redeploys an instance it finds serving on the other engine.
    for s in "${oceanbase_scenarios[@]}"; do
      timed "molecule[$engine] $s" env OMS_TESTBED_METADB="$engine" molecule test -s "$s"
    done
  done
}

run_benchmark() {
  python benchmarks/run.py "${benchmark_args[@]}"
}

total=$SECONDS
for s in "${stages[@]}"; do
  stage "$s"
  start=$SECONDS
  "run_$s"
  took[$s]=$((SECONDS - start))
  order+=("$s")
done

printf '\n===== summary =====\n'
for s in "${order[@]}"; do printf '%-34s passed in %5ss\n' "$s" "${took[$s]}"; done
printf '%-34s %5ss\n' "all" "$((SECONDS - total))"
