"""One run at a time per deployment (issue 10, item 4), through the upgrade playbook on the test bed.

A run whose lock is held by a live ansible-playbook fails at once, names the holder and changes
nothing; a lock whose holder is gone is taken over; a holder on another controller is replaced
only when the operator names it (oms_break_lock).
"""
import json
import os
import subprocess
import time

from playbooks import run_playbook, tail, write_inventory

PREFLIGHT_ONLY = {"oms_upgrade_preflight_only": "true"}


def lock_path(d):
    return os.path.join(d["backup_dir"], "oms_upgrade_journal.json.lock")


def hold(d, pid, controller=None):
    record = {"run": "%s:%d:test" % (controller or os.uname()[1], pid),
              "controller": controller or os.uname()[1], "pid": pid, "user": "dba2",
              "what": "upgrade", "started_at": "2024-05-01T10:00:00Z"}
    os.makedirs(d["backup_dir"], exist_ok=True)
    with open(lock_path(d), "w") as handle:
        json.dump(record, handle)
    return record


def test_a_second_run_fails_at_once_naming_the_holder(instance):
    d = instance
    inventory = write_inventory(d)
    # a live ansible-playbook on this controller (its argv says so)
    other = subprocess.Popen(["bash", "-c", "exec -a ansible-playbook sleep 600"])
    try:
        time.sleep(0.5)
        hold(d, other.pid)
        listing = sorted(os.listdir(d["backup_dir"]))
        refused = run_playbook(inventory, "upgrade")
        assert refused.rc != 0
        assert "Another upgrade of this deployment holds its lock" in refused.output
        assert "pid %d" % other.pid in refused.output and "dba2" in refused.output
        assert sorted(os.listdir(d["backup_dir"])) == listing  # no journal, nothing else
        # it stopped before preflight: no task touched the deployment
        assert "Preflight | Inspect the old container" not in refused.output
    finally:
        other.kill()
        other.wait()
    # the holder is gone: the next run takes the lock over, and releases it at the end
    taken = run_playbook(inventory, "upgrade", PREFLIGHT_ONLY)
    assert taken.rc == 0, tail(taken)
    assert not os.path.exists(lock_path(d))


def test_a_holder_on_another_controller_is_replaced_only_when_named(instance):
    d = instance
    inventory = write_inventory(d)
    record = hold(d, 1, controller="controller-elsewhere")
    refused = run_playbook(inventory, "upgrade", PREFLIGHT_ONLY)
    assert refused.rc != 0
    assert "oms_break_lock='%s'" % record["run"] in refused.output, tail(refused)
    named = run_playbook(inventory, "upgrade", dict(PREFLIGHT_ONLY, oms_break_lock=record["run"]))
    assert named.rc == 0, tail(named)
    assert not os.path.exists(lock_path(d))


def test_a_holder_elsewhere_silent_on_the_oms_host_is_taken_over(instance):
    """An execution environment or AWX job pod killed mid-run: its controller is gone with its
    hostname and processes, so its liveness is judged on the OMS host: no trace there (lock,
    journal, watch file) for oms_lock_stale_seconds and none of its work running."""
    d = instance
    inventory = write_inventory(d)
    record = hold(d, 1, controller="awx-job-pod-gone")
    past = time.time() - 120
    os.utime(lock_path(d), (past, past))
    for name in ("oms_upgrade_journal.json", "oms_upgrade_journal.json.watch"):
        if os.path.exists(os.path.join(d["backup_dir"], name)):
            os.utime(os.path.join(d["backup_dir"], name), (past, past))
    fresh = run_playbook(inventory, "upgrade", dict(PREFLIGHT_ONLY, oms_lock_stale_seconds="300"))
    assert fresh.rc != 0 and "holds its lock" in fresh.output, tail(fresh)
    assert "alive: its last sign of life on this host is" in fresh.output
    os.utime(lock_path(d), (past, past))
    taken = run_playbook(inventory, "upgrade", dict(PREFLIGHT_ONLY, oms_lock_stale_seconds="60"))
    assert taken.rc == 0, tail(taken)
    assert "Took over the lock of upgrade %s" % record["run"] in taken.output
    assert not os.path.exists(lock_path(d))
