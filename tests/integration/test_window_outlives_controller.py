"""The downtime window is a transaction on the OMS host: the controller is SIGKILLed (its whole
process group, as a lost workstation or a dropped SSH session would be) inside the window, and
nobody runs anything afterwards. The window must still end by itself in one of its two states:
- 4.2.0 committed and serving, when nothing fails;
- rolled back, when docker_init.sh fails half way after the kill (the simulator's
  init_fail_halfway): 4.1.1 serving on the restored databases, row for row as before (the tests'
  own comparison, tests/integration/rows.py), the stopped 4.2.0 container with restart policy no.
Never down. The step at which the kill lands is drawn (seeded, printed; OMS_KILL_SEED repeats it).
The controller that follows the window survives a lost probe: the probe's process killed mid-window
is probed again, and the run reports the window's own outcome.
"""
import json
import os
import random
import signal
import subprocess
import tempfile
import time

import docker

from conftest import INSTANCE, ansible_env
from ha_value import ha_raw, set_ha
from playbooks import journal, kill_controller, playbook_command, run_playbook, serves, tail, write_inventory
from rows import differences, table_rows

WINDOW_STEPS = ["stop_old", "heartbeat_prune", "backup", "run_new"]


def read_journal(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def kill_when_started(cmd, inventory, journal_path, step, timeout=900):
    """Run cmd in its own session; kill the whole controller once the journal shows `step` started."""
    proc = subprocess.Popen(cmd, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + timeout
    try:
        while proc.poll() is None and time.time() < deadline:
            if step in read_journal(journal_path).get("steps", {}):
                kill_controller(proc, inventory)
                return True
            time.sleep(0.02)
        return False
    finally:
        if proc.poll() is None:
            kill_controller(proc, inventory)


def window_end(journal_path, timeout=600):
    """The window's record once it ended by itself (nobody runs anything meanwhile)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        window = read_journal(journal_path).get("window") or {}
        if window.get("status") == "ended":
            return window
        time.sleep(0.5)
    raise AssertionError("the window did not end within %s s of the controller's death: %s"
                         % (timeout, read_journal(journal_path).get("window")))


def kill_point():
    seed = int(os.environ.get("OMS_KILL_SEED") or random.SystemRandom().randrange(1 << 16))
    step = random.Random(seed).choice(WINDOW_STEPS)
    print("controller killed when %s starts (OMS_KILL_SEED=%d)" % (step, seed))
    return step


def test_controller_killed_in_the_window_upgrade_still_commits(instance):
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    step = kill_point()
    inventory = write_inventory(d)
    assert kill_when_started(playbook_command(inventory, "upgrade"), inventory, journal_path, step), \
        "the run ended before %s started" % step
    window = window_end(journal_path)
    assert window["outcome"] == "committed", window
    assert serves(d, d["new_container"]), "4.2.0 does not serve after the window ended"
    assert docker.from_env().containers.get(d["old_container"]).status == "exited"


def test_controller_killed_then_init_fails_window_rolls_back_alone(instance, testbed):
    """With HA on before the upgrade: the window's own rollback puts ha.config back as step 1
    found it (and checks OMS took it), with nobody left to run the rollback role."""
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    ha_before = json.loads(set_ha(d, enable=True))
    before = table_rows(d)
    step = kill_point()
    testbed.set_faults(INSTANCE, ["init_fail_halfway"])
    try:
        inventory = write_inventory(d)
        assert kill_when_started(playbook_command(inventory, "upgrade"), inventory, journal_path, step), \
            "the run ended before %s started" % step
        window = window_end(journal_path)
    finally:
        testbed.set_faults(INSTANCE, [])
    assert window["outcome"] == "rolled_back", window
    assert "docker_init.sh" in (window.get("error") or ""), window
    assert serves(d, d["old_container"]), "4.1.1 does not serve after the window rolled back"
    assert differences(before, table_rows(d)) == []
    new = docker.from_env().containers.get(d["new_container"])
    assert new.status == "exited"
    assert new.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("no", ""), new.attrs["HostConfig"]["RestartPolicy"]
    steps = read_journal(journal_path)["steps"]
    assert [s for s in ("rollback_stop_new", "rollback_restore", "rollback_start_old", "rollback_health",
                        "rollback_ha_on") if steps.get(s, {}).get("status") != "done"] == []
    ha_after = json.loads(ha_raw(d))
    assert ha_after["enable"] is True, ha_after
    # only the procedure's own change may differ (refetchStoreIntervalMin, with HA on)
    assert dict(ha_after, refetchStoreIntervalMin=None) == dict(ha_before, refetchStoreIntervalMin=None), \
        (ha_before, ha_after)


def test_a_rerun_follows_the_window_a_killed_controller_left(instance, testbed):
    """The second controller takes the lock of the dead one and follows the window that still runs
    (a line per interval naming its step) until it ends, then finishes the upgrade: no silent wait,
    nothing run beside the window."""
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    testbed.set_profile(INSTANCE, "slow_init")  # docker_init.sh runs 30 s: the re-run meets it
    try:
        inventory = write_inventory(d)
        assert kill_when_started(playbook_command(inventory, "upgrade"), inventory, journal_path, "init"), \
            "the run ended before init started"
        again = run_playbook(inventory, "upgrade", {"oms_upgrade_progress_interval": "2"})
    finally:
        testbed.set_profile(INSTANCE, "short")
    assert again.rc == 0, tail(again)
    # a line per interval while it ran (Ansible's retry line of the follow), then how it ended
    assert any("FAILED - RETRYING" in line and "Follow the window" in line
               for line in again.output.splitlines()), tail(again)
    followed = [line for line in again.output.splitlines() if "window of process" in line]
    assert any("found running init" in line and "ended, committed" in line for line in followed), tail(again)
    assert journal(d)["window"]["outcome"] == "committed"
    assert journal(d)["steps"]["report"]["status"] == "done"
    assert serves(d, d["new_container"])


def own_processes(root):
    """(pid, args) of every process below root: the controller's, and with the local connection the
    OMS host's side of it (the probes), never anyone else's."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    children = {}
    for line in out.splitlines():
        fields = line.split(None, 2)
        if len(fields) >= 2:
            children.setdefault(int(fields[1]), []).append((int(fields[0]), fields[2] if len(fields) > 2 else ""))
    found, todo = [], [root]
    while todo:
        for pid, args in children.get(todo.pop(), []):
            found.append((pid, args))
            todo.append(pid)
    return found


def kill_one_probe(proc, journal_path, step, timeout=900):
    """SIGKILL the progress probe (roles/oms_common/files/progress_probe.py) once the journal shows
    `step` started: its processes (the shell raw runs and the python in it) end as a dropped SSH
    channel ends them. Returns the killed pids."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if step in read_journal(journal_path).get("steps", {}):
            # the probe's docstring, in its python -c
            probes = [pid for pid, args in own_processes(proc.pid) if "Wait for an Ansible async job" in args]
            for pid in probes:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass  # ended meanwhile
            if probes:
                return probes
        time.sleep(0.05)
    return []


def test_a_lost_probe_is_probed_again_and_the_run_reports_the_window_outcome(instance, testbed):
    """The probe that follows the window is killed once, mid-window (as a dropped SSH channel ends
    it): the window goes on and commits, and the run must say so (rc 0, the report written), not
    "UPGRADE FAILED ... One or more items failed" while 4.2.0 serves (issue 27)."""
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    testbed.set_profile(INSTANCE, "slow_init")  # docker_init.sh runs 30 s: several probes in it
    try:
        inventory = write_inventory(d)
        with tempfile.TemporaryFile(mode="w+") as out:
            proc = subprocess.Popen(playbook_command(inventory, "upgrade", {"oms_upgrade_progress_interval": "2"}),
                                    env=ansible_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                killed = kill_one_probe(proc, journal_path, "init")
                rc = proc.wait(timeout=1200)
            finally:
                if proc.poll() is None:
                    kill_controller(proc, inventory)
            out.seek(0)
            output = out.read()
    finally:
        testbed.set_profile(INSTANCE, "short")
    assert killed, "no probe found to kill while init ran:\n" + output[-3000:]
    assert "UPGRADE FAILED" not in output, output[-3000:]
    assert rc == 0, output[-3000:]
    assert journal(d)["window"]["outcome"] == "committed"
    assert journal(d)["steps"]["report"]["status"] == "done"
    assert serves(d, d["new_container"])


def rollback_window_end(journal_path, timeout=600):
    """The rollback window's record once it ended by itself."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        window = read_journal(journal_path).get("window") or {}
        if window.get("kind") == "rollback" and window.get("status") == "ended":
            return window
        time.sleep(0.5)
    raise AssertionError("the rollback window did not end within %s s of the controller's death: %s"
                         % (timeout, read_journal(journal_path).get("window")))


def test_controller_killed_in_the_rollback_window_4_1_1_still_serves(instance):
    """The rollback is a transaction on the OMS host too (oms_rollback_window): killed inside it,
    the controller leaves it running to 4.1.1 serving on the restored databases, HA as before, and
    the next rollback only writes the report."""
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    before = table_rows(d)
    inventory = write_inventory(d)
    # an upgrade that ran docker_init.sh (it changed the databases) and stopped there, before step 7
    first = run_playbook(inventory, "upgrade", {"oms_upgrade_stop_after_step": "init"})
    assert first.rc == 0, tail(first)
    seed = int(os.environ.get("OMS_KILL_SEED") or random.SystemRandom().randrange(1 << 16))
    step = random.Random(seed).choice(["rollback_stop_new", "rollback_restore", "rollback_start_old"])
    print("controller killed when %s starts (OMS_KILL_SEED=%d)" % (step, seed))
    assert kill_when_started(playbook_command(inventory, "rollback", limit=INSTANCE), inventory, journal_path, step), \
        "the rollback ended before %s started" % step
    window = rollback_window_end(journal_path)
    assert window["outcome"] == "rolled_back", window
    assert serves(d, d["old_container"]), "4.1.1 does not serve after the rollback window ended"
    assert differences(before, table_rows(d)) == []
    new = docker.from_env().containers.get(d["new_container"])
    assert new.status == "exited"
    assert new.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("no", ""), new.attrs["HostConfig"]["RestartPolicy"]
    j = read_journal(journal_path)
    assert j["steps"]["rollback_ha_on"]["status"] == "done"
    assert j["facts"]["rollback_ha_config_after"]["enable"] == j["facts"]["ha_config_before"]["enable"]
    assert "rollback_report" not in j["steps"]
    again = run_playbook(inventory, "rollback", limit=INSTANCE)
    assert again.rc == 0, tail(again)
    j = read_journal(journal_path)
    assert j["steps"]["rollback_report"]["status"] == "done"
    assert j["steps"]["rollback_restore"]["attempts"] == 1, j["steps"]["rollback_restore"]
    assert serves(d, d["old_container"])


def test_the_windows_own_process_killed_with_its_controller_then_a_rollback_run_finishes_it(instance, testbed):
    """The window's process SIGKILLed during docker_init.sh (the OOM killer, a crash) after its
    controller was killed too: nothing on the host finishes it, and the next run of the rollback
    playbook does, from the journal, saying that the process died: 4.1.1 serves, rows as before by
    the tests' own reading, ha.config as found."""
    d = instance
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    ha_before = json.loads(set_ha(d, enable=True))
    before = table_rows(d)
    testbed.set_profile(INSTANCE, "slow_init")  # docker_init.sh runs 30 s: the kill lands inside it
    try:
        inventory = write_inventory(d)
        assert kill_when_started(playbook_command(inventory, "upgrade"), inventory, journal_path, "init"), \
            "the run ended before init started"
        window = read_journal(journal_path)["window"]
        os.kill(window["owner"]["pid"], signal.SIGKILL)
        time.sleep(3)
        assert read_journal(journal_path)["window"]["status"] == "running"  # nobody finished it
        rollback = run_playbook(write_inventory(d), "rollback")
    finally:
        testbed.set_profile(INSTANCE, "short")
    assert rollback.rc == 0, tail(rollback)
    assert "own process (pid %s" % window["owner"]["pid"] in rollback.output, tail(rollback)
    assert serves(d, d["old_container"]), tail(rollback)
    assert differences(before, table_rows(d)) == []
    ha_after = json.loads(ha_raw(d))
    assert dict(ha_after, refetchStoreIntervalMin=None) == dict(ha_before, refetchStoreIntervalMin=None), \
        (ha_before, ha_after)
    assert read_journal(journal_path)["window"]["previous_owner_died"]["step"] == "init"
