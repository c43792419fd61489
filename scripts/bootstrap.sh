#!/usr/bin/env bash
# Make a fresh Debian machine ready to run the collection, its test bed and its tests:
# Debian packages, a running Docker engine, and the pinned Python packages in .venv.
# Safe to run again: each part is skipped when already in place.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# docker.io: the engine of the test bed; mmdebstrap: base images without a registry;
# mariadb-client: mysqldump/mysql, which the backup module drives on the OMS host;
# mydumper: the benchmark's fastest peer; zstd: optional dump compression;
# ShellCheck for ansible-test sanity; python3-venv for the virtual environment;
# openssh-server, openssh-client, sudo: the tests that reach the OMS host over SSH with become
# (molecule/shared/ssh_bed.py starts an sshd of its own per run, on 127.0.0.1 only).
packages=(docker.io mmdebstrap mariadb-client mydumper zstd shellcheck python3-venv ca-certificates
          openssh-server openssh-client sudo)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installing openssh-server must not start the system's sshd (nothing of ours listens but the
  # tests' own, while they run): services stay down during the install unless a policy says otherwise.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; fi
fi

# Python packages, pinned in requirements.txt, on the Python its ansible-core needs (2.20: 3.12,
# which these machines have under pyenv); reinstalled only when that file changes.
# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh
main_python_version=3.12
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  py=$(find_python "$main_python_version")
  if [ -z "$py" ]; then
    echo "bootstrap: Python $main_python_version is needed for .venv (ansible-core in requirements.txt)," \
         "and neither python$main_python_version nor ${PYENV_ROOT:-$HOME/.pyenv}/versions/$main_python_version.* was found" >&2
    exit 1
  fi
  echo "bootstrap: creating .venv from requirements.txt (Python $main_python_version: $py)"
  "$py" -m venv --clear .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > .venv/.requirements.sha256
fi

# The engine: the test bed (which runs on .venv's python) knows how to start and wait for it.
"$repo/tests/testbed/testbed" engine

# ansible-test fetches pip's bootstrap script from a host outside PyPI; give it ours, under the
# name of the pip version this ansible-test asks for.
pip_for_test=$(.venv/bin/python -c 'from ansible_test._internal.python_requirements import get_venv_packages; from ansible_test._internal.host_configs import NativePythonConfig as C; print(get_venv_packages(C(version="3.12", path="/usr/bin/python3"))["pip"])' 2>/dev/null || echo 24.2)
mkdir -p ~/.ansible/test/cache
cp scripts/get_pip_from_pypi.py "$HOME/.ansible/test/cache/get_pip_${pip_for_test//./_}.py"
echo "bootstrap: ready"
