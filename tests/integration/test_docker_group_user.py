"""A user in the `docker` group, without root, over SSH without become (issue 31): what it meets on
an OMS host, and what root arranges once so that it upgrades and rolls back.

ansible-playbook runs on a controller of its own (a container, as in test_over_ssh.py) and reaches
the OMS host over OpenSSH as a user of its own that has the group docker, no sudo and no su
(molecule/shared/ssh_bed.py --docker-group), on a Python that user can run (ssh_bed.host_python:
the test bed's venv sits under /root). The test bed keeps its files as root keeps them on a real
host: config.yaml root's and 0600, the backup directory root's ([guess] in FIDELITY.md).

1. Nothing arranged: refused at the run lock, naming the backup directory, oms_backup_dir and
   become; 2. the backup directory given to the user: refused by the preflight at config.yaml,
   naming it, oms_config_file and become. Each time the run fails before anything changed: the
   old container is the same one, still running, no new container, no journal step.
3. config.yaml readable by the user too (its group, 0640): the upgrade, then the rollback, as the
   README says, each to its end, every file of the backup directory the user's.
"""
import os
import pwd
import secrets
import sys
import tempfile

import docker
import pytest

from conftest import REPO
from test_over_ssh import controller

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
import ssh_bed  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def docker_user():
    state_dir = tempfile.mkdtemp(prefix="oms-ssh-")
    user = "omsdg" + secrets.token_hex(2)
    ssh_bed.up(state_dir, user, docker_group=True)
    try:
        yield state_dir, user
    finally:
        ssh_bed.down(state_dir)
        assert not os.path.exists(os.path.join(state_dir, "id_ed25519"))


def containers(testbed, d):
    """{old, new: (id, status, image tags) or None} as Docker has them now."""
    found = {}
    for key in ("old_container", "new_container"):
        try:
            c = testbed.client.containers.get(d[key])
            found[key] = (c.id, c.status, tuple(c.image.tags))
        except docker.errors.NotFound:
            found[key] = None
    return found


def assert_refused_having_changed_nothing(rc, output, before, testbed, d, *words):
    assert rc != 0, output[-3000:]
    flat = " ".join(output.split())  # the message is folded over lines in the play's output
    for word in words:
        assert word in flat, (word, output[-3000:])
    assert containers(testbed, d) == before
    assert not os.path.exists(os.path.join(d["backup_dir"], "oms_upgrade_journal.json"))
    assert not os.path.exists(os.path.join(d["backup_dir"], "oms_upgrade_journal.json.lock"))


def test_a_docker_group_user_is_refused_until_root_arranged_then_upgrades_and_rolls_back(
        docker_user, instance, testbed):
    state_dir, user = docker_user
    d = instance
    account = pwd.getpwnam(user)
    backup, config = d["backup_dir"], d["mounts"]["config"]
    os.chown(backup, 0, 0)
    os.chmod(backup, 0o700)  # as a run as root leaves it
    assert os.stat(config).st_uid == 0 and os.stat(config).st_mode & 0o777 == 0o600
    before = containers(testbed, d)
    assert before["old_container"][1] == "running" and before["new_container"] is None

    rc, output = controller(state_dir, d, ["obtools.oms.upgrade"])
    assert_refused_having_changed_nothing(
        rc, output, before, testbed, d,
        "Cannot open the run lock %s/oms_upgrade_journal.json.lock: permission denied to %s" % (backup, user),
        "%s is root:root, mode 0700" % backup, "Run with become: true",
        "install -d -o %s -m 0700 %s" % (user, backup), "set oms_backup_dir to it")

    os.chown(backup, account.pw_uid, account.pw_gid)  # install -d -o USER -m 0700 BACKUP
    rc, output = controller(state_dir, d, ["obtools.oms.upgrade"])
    assert_refused_having_changed_nothing(
        rc, output, before, testbed, d,
        "Cannot read the OMS config file %s: permission denied to %s" % (config, user),
        "%s is root:root, mode 0600" % config, "Run with become: true",
        "setfacl -m u:%s:r %s" % (user, config), "oms_config_file names it")

    os.chown(config, 0, account.pw_gid)
    os.chmod(config, 0o640)  # the README's other way: a group of the user's, 0640
    rc, output = controller(state_dir, d, ["obtools.oms.upgrade"])
    assert rc == 0, output[-4000:]
    after = containers(testbed, d)
    assert after["old_container"][0] == before["old_container"][0] and after["old_container"][1] == "exited"
    assert after["new_container"][1] == "running" and d["target_image"] in after["new_container"][2], after

    rc, output = controller(state_dir, d, ["obtools.oms.rollback", "-l", d["instance"],
                                           "-e", "oms_rollback_accept_data_loss=true"])
    assert rc == 0, output[-4000:]
    rolled_back = containers(testbed, d)
    assert rolled_back["old_container"] == (before["old_container"][0], "running", before["old_container"][2])
    assert rolled_back["new_container"] is None or rolled_back["new_container"][1] != "running", rolled_back
    # every file the runs left is the user's: nothing was done as root
    owners = {}
    for top, dirs, files in os.walk(backup):
        for name in dirs + files:
            owners.setdefault(os.lstat(os.path.join(top, name)).st_uid, []).append(name)
    assert set(owners) == {account.pw_uid}, owners
    assert "oms_upgrade_report.json" in owners[account.pw_uid] and "oms_rollback_report.json" in owners[account.pw_uid]
