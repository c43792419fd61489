"""A user in the docker group without root meets the files root keeps to itself: the refusal names
the user, the file's owner and mode, the inventory variable and both ways out (become, or what root
does once). The permission errors are real: a forked child gives up root for nobody's uid."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import multiprocessing
import os
import shutil
import tempfile

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import oms_config, run_lock
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

NOBODY = 65534
HOLDER = {"run": "ctl:100:1", "controller": "ctl", "pid": 100, "what": "upgrade"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to give it up in a child")


@pytest.fixture
def root_dir():
    """A directory of root's, mode 0755, that nobody may traverse but not write (pytest's
    tmp_path is under a 0700 directory: nobody would be stopped there, not at the file)."""
    path = tempfile.mkdtemp(prefix="oms-host-access-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def _as_nobody(call, conn):
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    try:
        call()
        out = {"raised": "nothing"}
    except OmsError as e:
        out = {"msg": e.msg, "hint": e.hint}
    except Exception as e:  # pylint: disable=broad-except
        out = {"raised": repr(e)}
    conn.send(json.dumps(out))


def as_nobody(call):
    """The OmsError `call` raises in a child running as nobody: {"msg", "hint"}, or what else."""
    context = multiprocessing.get_context("fork")  # the child keeps the imports: nobody cannot reach /root
    parent, child = context.Pipe()
    proc = context.Process(target=_as_nobody, args=(call, child))
    proc.start()
    child.close()  # a child that dies unheard ends recv with EOFError, not a hang
    out = json.loads(parent.recv())
    proc.join()
    return out


def test_a_config_yaml_of_roots_names_the_user_the_mode_the_variable_and_become(root_dir):
    path = os.path.join(root_dir, "config.yaml")
    with open(path, "w") as handle:
        handle.write("oms_meta_host: 127.0.0.1\n")
    os.chmod(path, 0o600)
    out = as_nobody(lambda: oms_config.load_oms_config(path))
    assert "msg" in out, out
    assert out["msg"].startswith("Cannot read the OMS config file %s: permission denied to nobody (uid 65534)" % path)
    assert "without root (no become)" in out["msg"]
    assert "%s is root:root, mode 0600" % path in out["msg"]
    assert "Run with become: true" in out["hint"]
    assert "setfacl -m u:nobody:r %s" % path in out["hint"] and "oms_config_file" in out["hint"]


def test_a_backup_directory_of_roots_is_refused_at_the_lock_naming_oms_backup_dir(root_dir):
    path = os.path.join(root_dir, "oms_upgrade_journal.json.lock")
    out = as_nobody(lambda: run_lock.acquire(path, HOLDER))
    assert "msg" in out, out
    assert out["msg"].startswith("Cannot open the run lock %s: permission denied to nobody" % path)
    assert "%s is root:root, mode 0755" % root_dir in out["msg"]
    assert "Run with become: true" in out["hint"]
    assert "install -d -o nobody -m 0700 %s" % root_dir in out["hint"] and "oms_backup_dir" in out["hint"]
    assert not os.path.exists(path)


def test_a_backup_directory_it_cannot_make_names_the_parent(root_dir):
    backup = os.path.join(root_dir, "backup")
    out = as_nobody(lambda: run_lock.acquire(os.path.join(backup, "oms_upgrade_journal.json.lock"), HOLDER))
    assert "msg" in out, out
    assert out["msg"].startswith("Cannot create the backup directory %s: permission denied to nobody" % backup)
    assert "%s is root:root, mode 0755" % root_dir in out["msg"]
    assert "install -d -o nobody -m 0700 %s" % backup in out["hint"] and "oms_backup_dir" in out["hint"]
    assert not os.path.exists(backup)
