#!/usr/bin/env bash
# The main job end to end on the bundled test bed: a fresh OMS 4.1.1 deployment (instance `a`),
# `playbooks/upgrade.yml` to 4.2.0, then `playbooks/rollback.yml` back to 4.1.1, with the reports.
# Usage: bash scripts/demo.sh [INSTANCE]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
instance=${1:-a}

bash scripts/bootstrap.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== Test bed: a fresh OMS 4.1.1 deployment (instance $instance)"
tests/testbed/testbed up "$instance" >/dev/null
tests/testbed/testbed reset "$instance" >/dev/null
tests/testbed/testbed status | python -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d, indent=1)[:1500])' || true

# An inventory like a user's, with the test bed's facts; the console password only in a 0600 file.
inv=$(mktemp -d)
trap 'rm -rf "$inv"' EXIT
chmod 700 "$inv"
mkdir -p "$inv/host_vars"
python molecule/shared/testbed_vars.py "$instance" "$inv/host_vars/oms-$instance.yml"
cat > "$inv/hosts.yml" <<INV
oms:
  hosts:
    oms-$instance:
      ansible_connection: local
      ansible_python_interpreter: $repo/.venv/bin/python
INV
backup_dir=$(python -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["oms_backup_dir"])' "$inv/host_vars/oms-$instance.yml")

echo
echo "== ansible-playbook playbooks/upgrade.yml"
ansible-playbook playbooks/upgrade.yml -i "$inv/hosts.yml"
echo
echo "== The upgrade report ($backup_dir)"
cat "$backup_dir/oms_upgrade_report.md"

echo
# As the README tells users ("The rollback", "Rolling back a completed upgrade"): the rollback acts
# only on hosts named with -l, and after a completed upgrade (4.2.0 served and wrote to the MetaDB)
# only with oms_rollback_accept_data_loss;
# without them it leaves the host alone, as designed, and there is no rollback report.
echo "== ansible-playbook playbooks/rollback.yml -l oms-$instance -e oms_rollback_accept_data_loss=true"
ansible-playbook playbooks/rollback.yml -i "$inv/hosts.yml" -l "oms-$instance" -e oms_rollback_accept_data_loss=true
echo
echo "== The rollback report ($backup_dir)"
cat "$backup_dir/oms_rollback_report.md"
echo
echo "Demo done: instance $instance is back on OMS 4.1.1. 'tests/testbed/testbed down $instance' removes it."
