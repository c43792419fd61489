# shellcheck shell=bash
# Source me: puts the project's venv first on PATH and makes this checkout importable as the
# collection obtools.oms (Ansible finds collections only under ansible_collections/NS/NAME).
_oms_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OMS_REPO_ROOT="$_oms_root"
export OMS_COLLECTIONS_DIR="${OMS_COLLECTIONS_DIR:-/var/tmp/obtools-oms/collections}"
mkdir -p "$OMS_COLLECTIONS_DIR/ansible_collections/obtools"
ln -sfn "$_oms_root" "$OMS_COLLECTIONS_DIR/ansible_collections/obtools/oms"
export ANSIBLE_COLLECTIONS_PATH="$OMS_COLLECTIONS_DIR"
export PATH="$_oms_root/.venv/bin:$PATH"
export ANSIBLE_PYTHON_INTERPRETER="$_oms_root/.venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
unset _oms_root
