#!/usr/bin/env bash
# Every test of the collection, from a fresh machine: bash scripts/test.sh [STAGE...]
# Stages: sanity lint docs unit ee matrix (static: no Docker) and testbed demo integration molecule
# benchmark (on the test bed; demo is the first command of the README's "Try it on the bundled test bed", scripts/demo.sh, as a newcomer runs it). Named stages run one after another, in the order given.
# With no stage named (the README's second command, and CI), every stage runs, the static ones in
# the background beside the test-bed ones, since those mostly wait on containers; and the
# integration stage runs in four lanes side by side (two passes of the roles' tests, the single
# modules' tests, the other engines' pass), each followed by molecule scenarios, so that the
# molecule stage is part of it.
# CI's budget is 90 minutes on 2 cores, so the slow proofs run a seeded sample here (a fault at 1
# of the 15 steps, 2 controller kills, 6 of the 45 bad inputs), the benchmark at 64 MB, and
# the molecule scenarios that the integration tests do not already cover (resume, preflight and
# auto_rollback on MariaDB are covered by the controller kills, the bad inputs and fleet's second
# host). OMS_EXHAUSTIVE=1 bash scripts/test.sh runs every one of them (several hours on 2 cores).
# The MetaDB-facing stages run once per MetaDB engine of the test bed (OMS_TESTBED_METADB):
# integration (all of it on MariaDB, then the MetaDB modules' tests on OceanBase/seekdb)
# and molecule (on MariaDB, then default and auto_rollback on OceanBase). OMS_TEST_METADBS chooses
# the engines (default "mariadb oceanbase"), e.g. OMS_TEST_METADBS=oceanbase bash scripts/test.sh molecule
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

static_stages=(sanity lint docs unit ee matrix)
# The test-bed stages of a full run. The demo runs alone: its `testbed up` untags the 4.2.0 image
# when no container uses it, which pulls it from under the tests running beside it.
full_bed_stages=(testbed demo integration benchmark)
stages=("$@")

bash scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

# pytest cuts its "FAILED test - message" lines at the terminal's width, 80 without one (CI).
export COLUMNS=${COLUMNS:-200}
declare -A took=()
order=()
stage() { printf '\n===== %s =====\n' "$1"; }
read -r -a engines <<< "${OMS_TEST_METADBS:-mariadb oceanbase}"
if [ "${OMS_EXHAUSTIVE:-0}" = 1 ]; then
  export OMS_FAULT_POINTS=all OMS_KILL_RUNS=5
  # the rehearsal's predicted window against the upgrade's, within 25 %, at OMS's own durations
  export OMS_REHEARSAL_PROFILE=${OMS_REHEARSAL_PROFILE:-realistic}
  unset OMS_BAD_INPUTS_SAMPLE
  benchmark_args=(--quick)
else
  export OMS_FAULT_POINTS=${OMS_FAULT_POINTS:-1} OMS_KILL_RUNS=${OMS_KILL_RUNS:-2}
  export OMS_BAD_INPUTS_SAMPLE=${OMS_BAD_INPUTS_SAMPLE:-6}
  # every engine of the run (OceanBase adds about 150 s)
  benchmark_args=(--quick --engines "$(IFS=,; echo "${engines[*]}")" --heartbeat-rows 100000 --compress none)
fi
# Times of the passes inside a stage (integration[oceanbase]...), for the summary.
# It returns the command's status, so that a caller may wait for other work before failing.
timed() {
  local name=$1 start=$SECONDS rc=0
  shift
  printf '\n----- %s -----\n' "$name"
  "$@" || rc=$?
  took[$name]=$((SECONDS - start))
  order+=("$name")
  return "$rc"
}

run_sanity() {
  # ansible-test insists on running inside ansible_collections/NAMESPACE/NAME.
  local tree
  tree=$(mktemp -d)/ansible_collections/obtools/oms
  mkdir -p "$tree"
  git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$tree"
  (cd "$tree" && ansible-test sanity --requirements --python 3.12 --color no)
}

run_lint() {
  ansible-lint --profile production --strict
  ruff check .
  # mypy resolves ansible_collections.obtools.oms.* from the tree scripts/env.sh links
  (cd "$OMS_COLLECTIONS_DIR" && python -m mypy --config-file "$repo/mypy.ini")
  antsibull-changelog lint
}

run_ee() {
  bash scripts/check_ee.sh
}

run_matrix() {
  # Sanity and unit tests on the lowest claimed core (2.16), 2.18 and 2.21 (each in a venv of its own).
  bash scripts/matrix.sh
  # A molecule scenario on the lowest and the newest too (every scenario runs on the pinned core,
  # requirements.txt): an upgrade and a rollback on 2.16, an upgrade on 2.21. In a full run the
  # integration lanes run them, after the other scenarios (their instance names are fixed).
  if [ "$full_run" = 0 ]; then bash scripts/matrix.sh --molecule; fi
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

run_demo() {
  # The README's first "Try it" command, as a newcomer runs it (upgrade, rollback, both reports), on an
  # instance of its own; removed once it passed (left for a look when it failed).
  local instance=${OMS_DEMO_INSTANCE:-demo}
  bash scripts/demo.sh "$instance"
  tests/testbed/testbed down "$instance" > /dev/null
}

# The integration tests of the modules that talk to the MetaDB.
# The rehearsal's (issue 21) copies the databases and grants a user on each engine: about 2.5 min.
# The rollback's load ahead of the stop (issue 19) renames tables: an upgrade and a rollback, about 2 min.
metadb_integration=(tests/integration/test_oms_metadb_backup.py tests/integration/test_oms_metadb_info.py
                    tests/integration/test_oms_ha_config.py tests/integration/test_oms_server_health.py
                    tests/integration/test_oms_rehearsal.py tests/integration/test_rollback_restore_ahead.py
                    tests/integration/test_oms_metadb_keyset_dump.py)
# The integration tests of single modules (no role run; the container tests use images and tags
# of their own instance), on an instance of their own. The container module's tests (docker_init.sh
# runs) go with the roles' tests instead, and so do the window's own tests (a controller killed in
# it, the tags that must not reach it), to keep the passes about as long as each other.
module_integration=()
for f in tests/integration/test_oms_*.py tests/integration/test_run_lock.py tests/integration/test_module_defaults.py \
         tests/integration/test_window_outlives_controller.py tests/integration/test_tags_cannot_reach_the_window.py; do
  [ "$f" = tests/integration/test_oms_container_upgrade.py ] || module_integration+=("$f")
done
# The roles' tests, in two passes on instances of their own (a, ab): together they took 1333 s in
# CI at 84e0fa4, the longest of the three passes then.
roles_integration_1=(tests/integration/test_oms_container_upgrade.py tests/integration/test_info_modules.py
                     tests/integration/test_rollback_without_t1.py tests/integration/test_secrets.py
                     tests/integration/test_rollback_restore_ahead.py tests/integration/test_readme_quick_start.py
                     tests/integration/test_window_timeouts.py)
# The Docker daemon restart stops every container of the machine (the other passes' MetaDBs
# too): it runs alone, after the rest.
restart_integration=tests/integration/test_docker_daemon_restart.py
roles_integration_2=()
for f in tests/integration/test_*.py; do
  case " ${module_integration[*]} ${roles_integration_1[*]} $restart_integration " in
    *" $f "*) ;;
    *) roles_integration_2+=("$f") ;;
  esac
done

integration_on() {  # ENGINE INSTANCE PYTEST-ARGS...
  local engine=$1 instance=$2
  shift 2
  env OMS_TESTBED_METADB="$engine" OMS_TEST_INSTANCE="$instance" python -m pytest -q --durations=8 "$@"
}

molecule_on() {  # ENGINE SCENARIO
  env OMS_TESTBED_METADB="$1" molecule test -s "$2"
}

# Lanes: each runs its commands one after another, in the background, its output kept for the end
# (lane_logs) and its times in that output ("NAME: rc N in S s").
lane_pids=()
lane_logs=()
in_lane() {  # NAME COMMAND... (one step of a lane, inside its subshell)
  local name=$1 start=$SECONDS rc=0
  shift
  printf '\n----- %s -----\n' "$name"
  "$@" || rc=$?
  printf '%s: rc %s in %ss\n' "$name" "$rc" "$((SECONDS - start))"
  return "$rc"
}
wait_lanes() {  # the lanes' status (the last failed one's), once all ended; their output in order
  local i rc=0
  for i in "${!lane_pids[@]}"; do
    wait "${lane_pids[$i]}" || rc=$?
    cat "${lane_logs[$i]}"
  done
  printf '\n----- the lanes, step by step -----\n'
  for i in "${!lane_logs[@]}"; do
    grep -hE ': rc [0-9]+ in [0-9]+s$' "${lane_logs[$i]}" | sed "s/^/lane $((i + 1)): /"
  done
  lane_pids=()
  lane_logs=()
  return "$rc"
}
has_engine() { [[ " ${engines[*]} " == *" $1 "* ]]; }

# Molecule: every scenario on MariaDB but those the integration tests cover (CI's sample), and on
# OceanBase the full upgrade (default) and the restore of databases docker_init.sh half migrated
# (auto_rollback); OMS_EXHAUSTIVE=1 runs every scenario on MariaDB and rollback on OceanBase too.
# ssh: the way users run it (a controller container apart, SSH as an unprivileged user, become):
# upgrade, idempotence, rollback; its controller kill and resume is tests/integration/test_over_ssh.py.
if [ "${OMS_EXHAUSTIVE:-0}" = 1 ]; then
  mariadb_scenarios=(default rollback auto_rollback check_mode resume preflight fleet realistic ssh rehearsal)
  oceanbase_scenarios=(default rollback auto_rollback ssh)
else
  mariadb_scenarios=(default rollback check_mode fleet realistic ssh)
  oceanbase_scenarios=(default auto_rollback)
fi

# Scenarios run in lanes of their own where a pass of integration tests ends early. Scenario
# instance names are fixed (default: r1 on every engine and core), and molecule keeps one
# ephemeral directory per scenario: a scenario's runs stay in one lane, one after another. ssh
# goes after test_over_ssh.py (both edit /etc/pam.d/su), in that test's lane.
molecule_runs() {  # SCENARIO...: each on every engine of this run that has it; all run
  local s engine list rc=0
  for s in "$@"; do
    for engine in "${engines[@]}"; do
      list=" ${mariadb_scenarios[*]} "
      [ "$engine" = mariadb ] || list=" ${oceanbase_scenarios[*]} "
      if [[ "$list" == *" $s "* ]]; then
        in_lane "molecule[$engine] $s" molecule_on "$engine" "$s" || rc=$?
      fi
    done
  done
  return "$rc"
}
molecule_rest() {  # every scenario of this run but those named
  local s out=() all
  all=" $* "
  for s in "${mariadb_scenarios[@]}" "${oceanbase_scenarios[@]}"; do
    [[ "$all" == *" $s "* || " ${out[*]} " == *" $s "* ]] || out+=("$s")
  done
  molecule_runs "${out[@]}"
}
matrix_molecule() {  # [lowest|newest]: the version matrix's scenarios in their own venvs (both without one):
  # rollback (instance r2) on the lowest claimed core, default (r1) on 2.21
  in_lane "molecule on the matrix's cores${1:+ ($1)}" bash scripts/matrix.sh --molecule "$@"
}

# The lanes of the integration stage. In a full run the molecule scenarios follow in the lanes
# that end first (they took 990 s one after another in CI, after the integration tests).
test_instance=${OMS_TEST_INSTANCE:-a}
lane_roles_1() {
  local rc=0
  if has_engine mariadb; then
    in_lane "integration[mariadb] roles 1" integration_on mariadb "$test_instance" "${roles_integration_1[@]}" || rc=$?
  fi
  if [ "$full_run" = 1 ]; then
    molecule_runs default || rc=$?
    matrix_molecule newest || rc=$?
  fi
  return "$rc"
}
lane_roles_2() {
  local rc=0
  if has_engine mariadb; then
    in_lane "integration[mariadb] roles 2" integration_on mariadb "${test_instance}b" "${roles_integration_2[@]}" || rc=$?
  fi
  # the lowest core's scenario is rollback (r2): in this lane, after the pinned core's
  if [ "$full_run" = 1 ]; then
    molecule_runs rollback fleet ssh || rc=$?
    matrix_molecule lowest || rc=$?
  fi
  return "$rc"
}
lane_modules() {
  local rc=0
  if has_engine mariadb; then
    in_lane "integration[mariadb] modules" integration_on mariadb "${test_instance}m" "${module_integration[@]}" || rc=$?
  fi
  if [ "$full_run" = 1 ]; then molecule_runs check_mode auto_rollback || rc=$?; fi
  return "$rc"
}
lane_other_engines() {
  local rc=0 engine
  for engine in "${engines[@]}"; do
    [ "$engine" != mariadb ] || continue
    in_lane "integration[$engine]" integration_on "$engine" "${test_instance}ob" "${metadb_integration[@]}" || rc=$?
  done
  if [ "$full_run" = 1 ]; then molecule_rest default rollback fleet ssh check_mode auto_rollback || rc=$?; fi
  return "$rc"
}

in_repo() {  # N COMMAND...: the command with the test bed's image repository of lane N
  OMS_TESTBED_IMAGE_REPO="${OMS_TESTBED_IMAGE_REPO:-obtools-testbed/oms}-lane$1" "${@:2}"
}

run_integration() {
  # Passes side by side, each on an instance of its own: the roles' tests in two passes and the
  # single modules' tests on MariaDB, and on any other engine the tests of what talks to the
  # MetaDB (the rest does not change with the engine: containers, images, the console, the roles'
  # logic). They mostly wait on containers.
  local rc=0 i
  # The lanes share one engine, each with an image repository of its own: a lane's `testbed up`,
  # or a test that needs the 4.2.0 image absent, untags it, and must not do so under another
  # lane's upgrade or rehearsal between its `docker load` and its use.
  for i in 0 1 2 3; do lane_logs[i]=$(mktemp); done
  in_repo 1 lane_roles_1 > "${lane_logs[0]}" 2>&1 &
  lane_pids+=($!)
  in_repo 2 lane_roles_2 > "${lane_logs[1]}" 2>&1 &
  lane_pids+=($!)
  in_repo 3 lane_modules > "${lane_logs[2]}" 2>&1 &
  lane_pids+=($!)
  in_repo 4 lane_other_engines > "${lane_logs[3]}" 2>&1 &
  lane_pids+=($!)
  wait_lanes || rc=$?
  # OMS_SKIP_DAEMON_RESTART=1 leaves it out, on a machine where other test runs share the engine.
  if has_engine mariadb && [ "${OMS_SKIP_DAEMON_RESTART:-0}" != 1 ]; then
    timed "integration[mariadb] daemon restart" integration_on mariadb "$test_instance" "$restart_integration" || rc=$?
  fi
  return "$rc"
}

run_molecule() {
  # Named on its own: every scenario one after another, then the matrix's cores.
  local rc=0
  molecule_rest || rc=$?
  matrix_molecule || rc=$?
  return "$rc"
}

run_benchmark() {
  python benchmarks/run.py "${benchmark_args[@]}"
}

run_stages() {
  local s start
  for s in "$@"; do
    stage "$s"
    start=$SECONDS
    "run_$s"
    took[$s]=$((SECONDS - start))
    order+=("$s")
  done
}

summary() {
  printf '\n===== summary =====\n'
  for s in "${order[@]}"; do printf '%-34s passed in %5ss\n' "$s" "${took[$s]}"; done
}

# What failed, in a few lines: the stages and lane steps that failed, pytest's failed tests with
# their assertions and the failed tasks' messages, molecule's failures. Each log's lines in order,
# the last 30 of them.
failure_digest() {  # LOG...
  local log
  printf '\n===== what failed =====\n'
  for log in "$@"; do
    grep -aE '^(FAILED|ERROR) |: rc [1-9][0-9]* in [0-9]+s$|^===== [a-z]+ =====$|^CRITICAL |^E +"msg": |^E +(AssertionError|assert )' "$log" \
      | grep -avE '^===== (summary|static stages)|"msg": "(The arg spec validation passed|All assertions passed)"' | cut -c1-400 | awk '!seen[$0]++' | tail -n 30
  done
}

total=$SECONDS
if [ ${#stages[@]} -gt 0 ]; then
  full_run=0
  run_stages "${stages[@]}"
  summary
else
  # The static stages in the background, one after another; their output comes after the
  # test bed's, and a failure of theirs fails the run.
  full_run=1
  static_log=$(mktemp)
  ( run_stages "${static_stages[@]}"; summary ) > "$static_log" 2>&1 &
  static_pid=$!
  # Not `( ... ) || rc=$?`: errexit is off inside a list tested that way, and a failed stage
  # would not stop it.
  # The test bed's output goes to the terminal as it comes, and to a log for the digest of what
  # failed, printed last: CI keeps only the tail of a run's output.
  bed_log=$(mktemp)
  { ( run_stages "${full_bed_stages[@]}"; summary ) 2>&1 | tee "$bed_log"; exit "${PIPESTATUS[0]}"; } &
  bed_pid=$!
  bed_rc=0
  wait "$bed_pid" || bed_rc=$?
  static_rc=0
  wait "$static_pid" || static_rc=$?
  printf '\n===== static stages (ran beside the test bed): %s =====\n' "${static_stages[*]}"
  cat "$static_log"
  if [ "$bed_rc" != 0 ] || [ "$static_rc" != 0 ]; then
    [ "$bed_rc" = 0 ] || failure_digest "$bed_log"
    [ "$static_rc" = 0 ] || failure_digest "$static_log"
    printf '\nFAILED: test-bed stages rc=%s, static stages rc=%s\n' "$bed_rc" "$static_rc"
    exit 1
  fi
fi
printf '%-34s %5ss\n' "all" "$((SECONDS - total))"
