"""No silent success: a run of the collection's playbooks whose host pattern matches no host (an
inventory without the group oms, a --limit outside it, an oms_target_hosts naming nothing) must fail,
saying which pattern it looked for and how to name another, instead of ending rc 0 having done
nothing (a green job in AWX). Runs the real ansible-playbook of the core under test (the one beside
this Python, as the version matrix runs it) on a tiny inventory: nothing connects anywhere."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOKS = ["upgrade", "rollback", "rehearse"]
# the first task of each playbook's own work: never reached when the pattern matches no host
FIRST_REAL_PLAY = {"upgrade": "Preflight every OMS host", "rollback": "Roll OMS back to 4.1.1-CE",
                   "rehearse": "Rehearse the migration to 4.2.0-CE"}


def ansible_playbook():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return beside if os.path.exists(beside) else shutil.which("ansible-playbook")


@pytest.fixture
def inventory(tmp_path):
    """Hosts in other groups, and one in oms; none of them is ever connected to."""
    path = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    path.write_text(yaml.safe_dump({"all": {"children": {
        "web": {"hosts": {"web1": local, "web2": local}},
        "oms": {"hosts": {"oms1": local}}}}}))
    without_oms = tmp_path / "no_oms.yml"
    without_oms.write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": {"web1": local}}}}}))
    return {"with_oms": str(path), "without_oms": str(without_oms)}


def run(playbook, inventory, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ["OMS_COLLECTIONS_DIR"], ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_STDOUT_CALLBACK="default")
    proc = subprocess.run([ansible_playbook(), "-i", inventory, os.path.join(REPO, "playbooks", playbook + ".yml")]
                          + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


def refused(rc, output, playbook):
    assert rc != 0, output[-2000:]
    assert "No host to act on" in output, output[-2000:]
    assert "-e oms_target_hosts=" in output, output[-2000:]
    assert "PLAY [%s" % FIRST_REAL_PLAY[playbook] not in output, output[-2000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_an_inventory_without_the_group_oms_fails_naming_it(inventory, playbook):
    rc, output = run(playbook, inventory["without_oms"])
    refused(rc, output, playbook)
    assert "host pattern 'oms'" in output and "matches no host of the inventory" in output, output[-2000:]
    assert "the inventory's groups: web" in output, output[-2000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_a_limit_outside_the_group_fails_naming_the_limit(inventory, playbook):
    rc, output = run(playbook, inventory["with_oms"], "--limit", "web1,web2")
    refused(rc, output, playbook)
    assert "none of them within --limit web1,web2" in output, output[-2000:]


def test_a_target_pattern_that_names_nothing_fails_naming_the_variable(inventory):
    rc, output = run("upgrade", inventory["with_oms"], "-e", "oms_target_hosts=dbservers")
    refused(rc, output, "upgrade")
    assert "host pattern 'dbservers' (oms_target_hosts)" in output, output[-2000:]


def test_a_limit_matching_no_host_at_all_fails(inventory):
    # ansible-playbook refuses this one itself, before any play: kept so a change of that is seen
    rc, output = run("upgrade", inventory["with_oms"], "--limit", "nosuchhost")
    assert rc != 0, output[-2000:]
