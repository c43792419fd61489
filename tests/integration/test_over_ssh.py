"""The collection run the way its users run it (issue 18): ansible-playbook on a controller of its
own (a container: its own hostname, processes and HOME, as an execution environment or an AWX job
pod), reaching the OMS host over SSH (OpenSSH, 127.0.0.1) as an unprivileged user with become
(sudo). molecule/shared/ssh_bed.py makes the sshd, the user and the keys, and removes them after.

- The async results are found wherever Ansible puts them: the default ~/.ansible_async of the
  become user, with sudo or su, the login user's HOME kept by become (sudo -E, su -m), an
  ansible_async_dir given absolute or under ~. (Ansible's own polling, async_status, looks under
  the become user's home and fails with "could not find job" where HOME was kept.)
- The controller killed in the downtime window (every process of its container, SIGKILL), then a
  new controller (another container, another hostname): the dead run's lock is taken over once it
  shows no sign of life on the OMS host (the lock's liveness is judged there), and the upgrade
  resumes and completes. Become keeps the login user's HOME in that run: step 3 used to fail there
  with "could not find job" (Ansible's own async polling looks under root's home).
"""
import json
import os
import secrets
import sys
import tempfile
import time

import pytest
import yaml

from conftest import REPO
from playbooks import journal

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
import ssh_bed  # noqa: E402  pylint: disable=wrong-import-position
from testbed_vars import inventory_vars  # noqa: E402  pylint: disable=wrong-import-position

KEEP_HOME = "-E -S -n"  # sudo without -H: HOME stays the login user's, as with su (no -l)


@pytest.fixture
def bed():
    """A user of its own per test: become keeping the login user's HOME (sudo -E, su -m) leaves
    root's files in that home (~/.ansible), which the user's next transfers may not overwrite."""
    state_dir = tempfile.mkdtemp(prefix="oms-ssh-")
    user = "omsit" + secrets.token_hex(2)
    ssh_bed.up(state_dir, user, su=True)
    try:
        yield state_dir, user
    finally:
        ssh_bed.down(state_dir)
        assert not os.path.exists(os.path.join(state_dir, "id_ed25519"))


def host_vars_file(state_dir, d, extra=None):
    data = inventory_vars(d)
    data.update(extra or {})
    path = os.path.join(state_dir, "host.yml")
    ssh_bed.write_private(path, yaml.safe_dump(data))
    return path


def controller(state_dir, d, args, extra=None, kill_after=None):
    """ansible-playbook in a controller container of its own; returns (rc, output)."""
    out_path = os.path.join(state_dir, "out-%s.log" % secrets.token_hex(3))
    with open(out_path, "w") as out:
        rc = ssh_bed.run(state_dir, d["instance"], host_vars_file(state_dir, d, extra), list(args),
                         kill_after=kill_after, stdout=out)
    with open(out_path) as handle:
        output = handle.read()
    os.unlink(out_path)
    return rc, output


PROBE_PLAY = """
- hosts: oms
  gather_facts: false
  tasks:
    - name: A background job, as the roles launch the long steps
      ansible.builtin.command: sleep 2
      async: 60
      poll: 0
      register: job
      changed_when: false
    - name: Followed by the roles' progress probe
      ansible.builtin.include_role:
        name: obtools.oms.oms_common
        tasks_from: progress
      vars:
        oms_common_progress_job: "{{ job }}"
        oms_common_progress_title: probe
        oms_common_progress_timeout: 60
        oms_common_progress_every: 1
    - name: What the probe found
      ansible.builtin.debug:
        msg: "RESULT {{ {'results_file': job.results_file, 'rc': oms_common_progress_result.rc,
              'finished': oms_common_progress_finished} | to_json }}"
"""

CASES = {
    "sudo": ({}, "/root/.ansible_async/"),
    "sudo keeping the login user's HOME": ({"ansible_become_flags": KEEP_HOME}, "/home/{user}/.ansible_async/"),
    "ansible_async_dir absolute": ({"ansible_async_dir": "/var/tmp/oms-async-it"}, "/var/tmp/oms-async-it/"),
    "ansible_async_dir under ~, HOME kept": ({"ansible_async_dir": "~/.oms_async", "ansible_become_flags": KEEP_HOME},
                                             "/home/{user}/.oms_async/"),
    "su": ({"ansible_become_method": "su"}, "/root/.ansible_async/"),
    "su -m, keeping the login user's HOME": ({"ansible_become_method": "su", "ansible_become_flags": "-m"},
                                             "/home/{user}/.ansible_async/"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_async_results_are_found_wherever_ansible_puts_them(bed, instance, case):
    state_dir, user = bed
    extra, where = CASES[case]
    play = os.path.join(state_dir, "probe.yml")
    ssh_bed.write_private(play, PROBE_PLAY)
    rc, output = controller(state_dir, instance, [play], extra)
    assert rc == 0, output[-3000:]
    line = [ln for ln in output.splitlines() if "RESULT {" in ln][-1]
    found = json.loads(line.split("RESULT ", 1)[1].rstrip('"').replace('\\"', '"'))
    assert found["finished"] is True and found["rc"] == 0
    assert found["results_file"].startswith(where.format(user=user)), found


def test_controller_killed_in_the_window_then_a_new_controller_resumes(bed, instance, testbed):
    state_dir, _user = bed
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    extra = {"ansible_become_flags": KEEP_HOME}
    testbed.set_profile(d["instance"], "slow_init")  # docker_init.sh runs 30 s: the new controller meets it
    try:
        with open(os.path.join(state_dir, "kill.log"), "w") as out:
            killed = ssh_bed.run(state_dir, d["instance"], host_vars_file(state_dir, d, extra),
                                 ["obtools.oms.upgrade"], kill_after=(journal_path, "backup"), stdout=out)
        with open(os.path.join(state_dir, "kill.log")) as handle:
            assert killed == 0, handle.read()[-3000:]
        lock = journal_path + ".lock"
        with open(lock) as handle:
            holder = json.load(handle)
        assert holder["controller"].startswith("ctl-") and holder["controller_ns"]
        # A new controller at once (another container, another hostname), while the dead run's window
        # still runs on the OMS host: it attaches to that window, follows it to its end and reports
        # it, acting on nothing and taking no lock.
        rc, output = controller(state_dir, d, ["obtools.oms.upgrade", "-e", "oms_lock_stale_seconds=25"], extra)
    finally:
        testbed.set_profile(d["instance"], "short")
    assert rc == 0, output[-3000:]
    assert "followed it from another controller and changed nothing" in output, output[-3000:]
    assert "window of process" in output and "ended: committed" in output, output[-3000:]
    with open(lock) as handle:
        assert json.load(handle)["run"] == holder["run"]  # the follower took no lock
    # Then, once it has left no trace for 25 s and none of its work runs, a new controller takes
    # the lock over and the upgrade resumes to its end.
    deadline = time.time() + 300
    while True:
        time.sleep(10)
        rc, output = controller(state_dir, d, ["obtools.oms.upgrade", "-e", "oms_lock_stale_seconds=25"], extra)
        if rc == 0 or "holds its lock" not in output or time.time() > deadline:
            break
    assert rc == 0, output[-4000:]
    assert "Took over the lock of upgrade %s" % holder["run"] in output
    j = journal(d)
    assert all(j["steps"][s]["status"] == "done" for s in ("backup", "init", "health", "ha_on", "report")), j["steps"]
    assert j["steps"]["backup"]["attempts"] == 1  # the dump was not taken twice
    assert not os.path.exists(lock)
