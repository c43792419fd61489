#!/usr/bin/env bash
# The version matrix: sanity and unit tests, and one molecule scenario, on each ansible-core the
# collection is tested on besides the main venv's (requirements.txt: 2.20 on Python 3.12, which
# every other stage of scripts/test.sh runs on):
#   the LOWEST it claims (meta/runtime.yml requires_ansible ">=2.16.0": the newest patch of 2.16, the
#   core of Ansible Automation Platform 2.5/2.6's execution environments, on Python 3.11 as there),
#   2.18 (sanity and unit tests only), and
#   2.21 (on Python 3.13), the newest core upstream maintains.
# Each core gets a venv of its own under .venv-matrix/, made with the Python it needs, found on PATH
# (python3.12) or under pyenv's versions; a core whose Python is absent is skipped with a message.
# Sanity runs in full on the newest core; on the others every test but pylint (the slow one; the
# main sanity stage runs it on the pinned core).
# Usage: bash scripts/matrix.sh [--molecule] [CORE...]   (default: every core of the matrix; a CORE
#   may be `lowest` or `newest`)
#   without --molecule: sanity and unit tests (no Docker); with it: only the molecule scenarios (a
#   real run on the test bed), one core after another: `rollback` (an upgrade, then a rollback
#   twice, instance r2 or OMS_MOLECULE_ROLLBACK_INSTANCE; without its syntax and idempotence steps)
#   on the lowest core, `default` (an upgrade, instance r1) on the newest; OMS_MATRIX_SCENARIO
#   chooses one for every core (`molecule test`, every step).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
molecule_only=0
if [ "${1:-}" = --molecule ]; then molecule_only=1; shift; fi
# The newest patch of the lowest minor claimed, as the supported EEs get patches; a claim raised
# or lowered in meta/runtime.yml without this line is refused here.
lowest=2.16.20
middle=2.18.0
newest=2.21.5
claimed=$(sed -n 's/^requires_ansible: *"*>=\([0-9]*\.[0-9]*\).*/\1/p' meta/runtime.yml)
if [ "${lowest%.*}" != "$claimed" ]; then
  echo "matrix: meta/runtime.yml claims ansible-core $claimed, the matrix's lowest core is $lowest" >&2
  exit 1
fi
cores=()
for core in "$@"; do
  case "$core" in
    lowest) cores+=("$lowest") ;;
    newest) cores+=("$newest") ;;
    *) cores+=("$core") ;;
  esac
done
if [ ${#cores[@]} = 0 ]; then
  if [ "$molecule_only" = 1 ]; then cores=("$lowest" "$newest"); else cores=("$lowest" "$middle" "$newest"); fi
fi

# The scenario a core runs: a full upgrade AND rollback on the lowest, an upgrade on the others.
scenario_for() {
  if [ -n "${OMS_MATRIX_SCENARIO:-}" ]; then echo "$OMS_MATRIX_SCENARIO"
  elif [ "$1" = "$lowest" ]; then echo rollback
  else echo default; fi
}

# The controller Python each core needs (the oldest it supports that this machine may have; 2.20
# and 2.21 dropped 3.11).
python_version_for() {
  case "$1" in
    2.1[6-9].*) echo 3.11 ;;
    2.20.*) echo 3.12 ;;
    *) echo 3.13 ;;
  esac
}
# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh

# shellcheck source=scripts/env.sh
source scripts/env.sh
main_path=$PATH

run_core() {
  local core=$1 pyver py venv tree
  pyver=$(python_version_for "$core")
  py=$(find_python "$pyver")
  if [ -z "$py" ]; then
    echo "matrix: SKIPPED ansible-core $core: it needs Python $pyver on the controller and none was found" \
         "(python$pyver on PATH or ${PYENV_ROOT:-$HOME/.pyenv}/versions/$pyver.*)"
    return 0
  fi
  venv="$repo/.venv-matrix/ansible-core-$core"
  if [ ! -x "$venv/bin/ansible-test" ]; then
    echo "matrix: creating $venv (Python $pyver: $py)"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    # The same pins as requirements.txt but for ansible-core (the linters are not needed here).
    grep -vE '^(ansible-core|ansible-lint|antsibull-changelog|pylibseekdb|ruff|mypy|ansible-builder)==' requirements.txt > "$venv/requirements.txt"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$core" -r "$venv/requirements.txt"
  fi
  PATH="$venv/bin:$main_path"
  export PATH
  printf '\n=== ansible-core %s on Python %s\n' "$core" "$pyver"
  ansible --version | sed -n 1p

  if [ "$molecule_only" = 1 ]; then
    local scenario rc=0
    scenario=$(scenario_for "$core")
    echo "--- molecule scenario $scenario on ansible-core $core"
    if [ -n "${OMS_MATRIX_SCENARIO:-}" ] || [ "$scenario" != rollback ]; then
      molecule test -s "$scenario"
      return
    fi
    # The upgrade, the rollback twice and their checks, without the syntax and idempotence steps that
    # the pinned core's run of this scenario takes (CI's budget: a converge less, minutes).
    { molecule destroy -s "$scenario" && molecule create -s "$scenario" && molecule converge -s "$scenario" \
        && molecule side-effect -s "$scenario" && molecule verify -s "$scenario"; } || rc=$?
    local destroyed=0
    molecule destroy -s "$scenario" || destroyed=$?
    [ "$rc" != 0 ] || rc=$destroyed
    return "$rc"
  fi

  # ansible-test fetches pip's bootstrap script from a host we cannot reach: give it ours, under the
  # name of the pip version this ansible-test asks for (as scripts/bootstrap.sh does for the main one).
  local pip_for_test
  pip_for_test=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages; from ansible_test._internal.host_configs import NativePythonConfig as C; import sys; print(get_venv_packages(C(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])' 2>/dev/null || echo 24.2)
  mkdir -p ~/.ansible/test/cache
  cp scripts/get_pip_from_pypi.py "$HOME/.ansible/test/cache/get_pip_${pip_for_test//./_}.py"

  local skip=(--skip-test pylint)
  [ "$core" != "$newest" ] || skip=()
  echo "--- sanity on ansible-core $core ${skip[*]:-(every test)}"
  local top rc=0
  top=$(mktemp -d)
  tree=$top/ansible_collections/obtools/oms
  mkdir -p "$tree"
  git ls-files -co --exclude-standard | grep -v '^\.venv' | tar -cf - -T - | tar -xf - -C "$tree"
  (cd "$tree" && ansible-test sanity --requirements --python "$pyver" --color no "${skip[@]}") || rc=$?
  # The OMS host's side: the modules and module_utils compile and import on the oldest Python the
  # newest core supports there (3.9); every other run has them on the test bed's 3.12.
  if [ "$rc" = 0 ] && [ "$core" = "$newest" ]; then
    local py39 bin
    py39=$(find_python 3.9)
    if [ -n "$py39" ]; then
      echo "--- sanity compile and import on Python 3.9, the OMS host's oldest for ansible-core $core"
      bin=$(mktemp -d)
      ln -s "$py39" "$bin/python3.9"
      (cd "$tree" && PATH="$bin:$PATH" ansible-test sanity --test compile --test import --python 3.9 \
         --requirements --color no) || rc=$?
      rm -rf "$bin"
    else
      echo "matrix: SKIPPED compile and import on Python 3.9 (the OMS host's oldest for ansible-core $core): none found"
    fi
  fi
  rm -rf "$top"
  [ "$rc" = 0 ] || return "$rc"

  echo "--- unit tests on ansible-core $core"
  "$venv/bin/python" -m pytest tests/unit -q -p no:cacheprovider
}

start_all=$SECONDS
for core in "${cores[@]}"; do
  start=$SECONDS
  run_core "$core"
  echo "matrix: ansible-core $core took $((SECONDS - start))s"
done
echo "matrix: ${cores[*]} took $((SECONDS - start_all))s"
