#!/usr/bin/env bash
# The version matrix: sanity and unit tests, and one molecule scenario, on the LOWEST ansible-core
# the collection claims (meta/runtime.yml requires_ansible). The newest one PyPI serves for this
# Python is the one requirements.txt pins, which every other stage of scripts/test.sh runs on.
# Usage: bash scripts/matrix.sh [--molecule] [CORE_VERSION]   (default: the lowest claimed)
#   without --molecule: sanity and unit tests (no Docker); with it: only the molecule scenario
#   (OMS_MATRIX_SCENARIO, default `default`: a real upgrade on the test bed).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
molecule_only=0
if [ "${1:-}" = --molecule ]; then molecule_only=1; shift; fi
lowest=$(sed -n 's/^requires_ansible: *"*>=\([0-9.]*\)"*/\1/p' meta/runtime.yml)
core=${1:-$lowest}
venv="$repo/.venv-matrix/ansible-core-$core"

if [ ! -x "$venv/bin/ansible-test" ]; then
  echo "matrix: creating $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  # The same pins as requirements.txt but for ansible-core (ansible-lint is not needed here).
  grep -vE '^(ansible-core|ansible-lint|antsibull-changelog|pylibseekdb|ruff|mypy|ansible-builder)==' requirements.txt > "$venv/requirements.txt"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$core" -r "$venv/requirements.txt"
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh
export PATH="$venv/bin:$PATH"
ansible --version | sed -n 1p

# ansible-test fetches pip's bootstrap script from a host we cannot reach: give it ours, under the
# name of the pip version this ansible-test asks for (as scripts/bootstrap.sh does for the main one).
pip_for_test=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages; from ansible_test._internal.host_configs import NativePythonConfig as C; print(get_venv_packages(C(version="3.11", path="/usr/bin/python3"))["pip"])' 2>/dev/null || echo 24.2)
mkdir -p ~/.ansible/test/cache
cp scripts/get_pip_from_pypi.py "$HOME/.ansible/test/cache/get_pip_${pip_for_test//./_}.py"

if [ "$molecule_only" = 1 ]; then
  echo "--- molecule scenario ${OMS_MATRIX_SCENARIO:-default} on ansible-core $core"
  exec molecule test -s "${OMS_MATRIX_SCENARIO:-default}"
fi

echo "--- sanity on ansible-core $core"
tree=$(mktemp -d)/ansible_collections/obtools/oms
mkdir -p "$tree"
git ls-files -co --exclude-standard | grep -v '^\.venv' | tar -cf - -T - | tar -xf - -C "$tree"
(cd "$tree" && ansible-test sanity --requirements --python 3.11 --color no)

echo "--- unit tests on ansible-core $core"
"$venv/bin/python" -m pytest tests/unit -q

