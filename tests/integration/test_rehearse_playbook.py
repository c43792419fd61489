"""The playbook obtools.oms.rehearse and the upgrade role around it, on a test-bed instance: a
failing migration found days ahead refuses the upgrade's window (the old container never stops),
and a passing rehearsal lets the upgrade through, whose plan (--check) and measured window are
compared with the prediction. With oms_rehearsal_host, the rehearsal runs on another host (here a
second inventory name for this machine) and is recorded on the OMS host.

Run with OMS_TEST_INSTANCE set to your own instance.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import docker
import pytest
import yaml

from conftest import INSTANCE, ansible_env
from playbooks import journal, playbook_command, run_playbook, tail, write_inventory


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    yield client
    client.close()


def prepare(testbed, engine, faults=None, profile=None):
    testbed.reset(INSTANCE, faults=faults or [], profile=profile or "short")
    desc = testbed.describe(INSTANCE)
    with open(desc["image_archive"], "rb") as f:
        engine.images.load(f.read())
    inventory = write_inventory(desc, {
        "oms_rehearsal_admin_user": desc["metadb_root"]["user"],
        "oms_rehearsal_admin_password": desc["metadb_root"]["password"],
        "oms_upgrade_rehearsal_memory": "1g",
    })
    return desc, inventory


def rehearsal_record(desc):
    with open(os.path.join(desc["backup_dir"], "oms_rehearsal_journal.json")) as f:
        return json.load(f)["steps"]["rehearsal"]


def test_failed_rehearsal_refuses_the_window(testbed, engine):
    desc, inventory = prepare(testbed, engine, faults=["init_fail_halfway"])
    old = engine.containers.get(desc["old_container"]).attrs["State"]["StartedAt"]
    run = run_playbook(inventory, "rehearse")
    assert run.rc != 0, tail(run)
    assert "migration rehearsed on a copy: FAILED" in run.output, tail(run)
    assert rehearsal_record(desc)["status"] == "failed"
    # the plan shows it
    plan = run_playbook(inventory, "upgrade", args=["--check", "--diff"])
    assert "migration rehearsed on a copy: FAILED" in plan.output, tail(plan)
    # the upgrade is refused before the stop (oms_upgrade_rehearsal_required defaults to true)
    up = run_playbook(inventory, "upgrade")
    assert up.rc != 0 and "The window is refused" in up.output, tail(up)
    container = engine.containers.get(desc["old_container"])
    assert container.status == "running" and container.attrs["State"]["StartedAt"] == old
    # refused by the preflight (every host before any is touched), before the journal records a step
    path = os.path.join(desc["backup_dir"], "oms_upgrade_journal.json")
    assert "stop_old" not in (journal(desc).get("steps", {}) if os.path.exists(path) else {})
    # told otherwise (a string, as typed), it is not refused by the rehearsal (the fault then
    # fails the real docker_init.sh and the window rolls back, which is the window's business)
    check = run_playbook(inventory, "upgrade", extra_vars={"oms_upgrade_rehearsal_required": "false"},
                         args=["--check"])
    assert "The window is refused" not in check.output, tail(check)


def test_rehearsal_in_the_upgrade_predicts_the_window(testbed, engine):
    profile = os.environ.get("OMS_REHEARSAL_PROFILE", "short")
    desc, inventory = prepare(testbed, engine, profile=profile)
    run = run_playbook(inventory, "upgrade", extra_vars={"oms_upgrade_rehearse": "true",
                                                         "oms_upgrade_rehearsal_stop_seconds": "1"},
                       timeout=2400)
    assert run.rc == 0, tail(run)
    record = rehearsal_record(desc)
    assert record["status"] == "done"
    predicted = record["data"]["rehearsal_predicted_window"]["total"]
    with open(os.path.join(desc["backup_dir"], "oms_upgrade_report.json")) as f:
        report = json.load(f)
    measured = report["downtime_seconds"]
    assert report["rehearsal"]["predicted_window"]["total"] == predicted
    print("profile %s: predicted window %.1f s, measured %.1f s (%+.0f %%)"
          % (profile, predicted, measured, 100.0 * (predicted - measured) / measured))
    if profile == "realistic":
        assert abs(predicted - measured) <= 0.25 * measured, (predicted, measured)
    else:
        assert predicted > 0 and measured > 0


# The rehearsal on another Docker host (oms_rehearsal_host) ------------------------------------------
# On the test bed "another host" is a second inventory host for the same machine, rehearsal-box, with
# a Python of its own: a wrapper that logs every module it runs, as the OMS host's does in its own log.
# What ran where is read from those logs, and the box keeps its own work directory (its inventory's
# oms_upgrade_rehearsal_work_dir), so what the rehearsal leaves there is told apart from the OMS host's.
BOX = "rehearsal-box"


def python_logging_to(path):
    """A Python interpreter for one inventory host that logs each module it runs (AnsiballZ_<name>)."""
    wrapper = path + ".python"
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> '%s'\nexec '%s' \"$@\"\n" % (path, sys.executable))
    os.chmod(wrapper, 0o755)
    open(path, "w").close()
    return wrapper


def modules_run(log):
    with open(log) as f:
        return set(re.findall(r"AnsiballZ_(\w+)\.py", f.read()))


def with_box(desc, inventory, box_vars=None):
    """The inventory with rehearsal-box beside the OMS host, each with a logging Python; returns
    (box work dir, OMS host's module log, box's module log)."""
    box_dir = tempfile.mkdtemp(prefix="oms-box-")
    logs = (os.path.join(box_dir, "..", os.path.basename(box_dir) + "-oms.log"),
            os.path.join(box_dir, "..", os.path.basename(box_dir) + "-box.log"))
    logs = tuple(os.path.abspath(p) for p in logs)
    hosts = {"oms": {"hosts": {desc["instance"]: {
        "ansible_connection": "local", "ansible_python_interpreter": python_logging_to(logs[0])}}},
        "rehearsal": {"hosts": {BOX: dict({
            "ansible_connection": "local", "ansible_python_interpreter": python_logging_to(logs[1]),
            "oms_upgrade_rehearsal_work_dir": os.path.join(box_dir, "work")}, **(box_vars or {}))}}}
    with open(os.path.join(inventory, "hosts.yml"), "w") as f:
        yaml.safe_dump(hosts, f)
    return os.path.join(box_dir, "work"), logs[0], logs[1]


def rehearsal_left(engine, testbed, desc):
    """The rehearsal's containers, scratch databases and limited user that exist."""
    found = [c.name for c in engine.containers.list(all=True, filters={
        "label": "obtools.oms.rehearsal=%s" % desc["old_container"]})]
    user = "obrh_" + hashlib.sha256(desc["old_container"].encode()).hexdigest()[:10]
    conn = testbed.root_connect(engine=desc["metadb"]["engine"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'obrh\\_%%'")
            found += ["db:" + r[0] for r in cur.fetchall() if desc["instance"] in r[0]]
            cur.execute("SELECT user FROM mysql.user WHERE user = %s", (user,))
            found += ["user:" + r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    return found


def test_rehearsal_on_another_host_runs_there_and_is_recorded_on_the_oms_host(testbed, engine):
    desc, inventory = prepare(testbed, engine)
    # the tarball there is the box's own path; the OMS host's would not do (it is not carried over)
    box_archive = os.path.join(tempfile.mkdtemp(prefix="oms-box-archive-"), "oms_420.tar")
    os.symlink(desc["image_archive"], box_archive)
    work, oms_log, box_log = with_box(desc, inventory, {"oms_image_archive": box_archive})
    old = engine.containers.get(desc["old_container"]).attrs["State"]["StartedAt"]
    run = run_playbook(inventory, "rehearse", extra_vars={"oms_rehearsal_host": BOX,
                                                          "oms_image_archive": "/nonexistent/oms.tar"})
    assert run.rc == 0, tail(run)
    assert "migration rehearsed on a copy (on %s): passed in " % BOX in run.output, tail(run)
    # the rehearsal ran on the box; the export, the record and its read on the OMS host
    on_box, on_oms = modules_run(box_log), modules_run(oms_log)
    assert {"oms_rehearsal", "copy", "stat"} <= on_box, on_box
    assert "oms_journal" not in on_box and "oms_journal_info" not in on_box, on_box
    assert {"oms_rehearsal", "oms_journal", "oms_journal_info"} <= on_oms, on_oms
    assert "copy" not in on_oms, on_oms
    # its journal there, listing nothing left; its lock there; nothing else of it there
    with open(os.path.join(work, "oms_rehearsal_journal.%s.json" % desc["instance"])) as f:
        there = json.load(f)["steps"]["rehearsal"]
    assert there["status"] == "done" and there["data"]["rehearsal_host"] == BOX
    assert not any(there["data"]["rehearsal_leftovers"].values()), there["data"]["rehearsal_leftovers"]
    assert sorted(os.listdir(work)) == [".obrh_%s.lock" % desc["old_container"],
                                        "oms_rehearsal_journal.%s.json" % desc["instance"]]
    # the record on the OMS host, where the window reads it: the box's outcome, naming the box
    here = rehearsal_record(desc)
    assert here["status"] == "done" and here["data"]["rehearsal_host"] == BOX
    assert here["data"]["rehearsal_predicted_window"] == there["data"]["rehearsal_predicted_window"]
    assert not [n for n in os.listdir(desc["backup_dir"]) if "obrh_" in n or "oms_rehearsal_export" in n]
    assert rehearsal_left(engine, testbed, desc) == []
    assert engine.containers.get(desc["old_container"]).attrs["State"]["StartedAt"] == old
    # the plan reads it back on the OMS host: passed there, so the window is not refused
    plan = run_playbook(inventory, "upgrade", args=["--check", "--diff"])
    assert plan.rc == 0, tail(plan)
    assert "migration rehearsed on a copy (on %s): passed in " % BOX in plan.output, tail(plan)
    assert "The window is refused" not in plan.output
    # inside the upgrade (main.yml's module_defaults name this host's engine and config.yaml): on the
    # box again, then the window, whose report names where the migration was rehearsed
    up = run_playbook(inventory, "upgrade", extra_vars={"oms_upgrade_rehearse": "true",
                                                        "oms_rehearsal_host": BOX}, timeout=2400)
    assert up.rc == 0, tail(up)
    with open(os.path.join(desc["backup_dir"], "oms_upgrade_report.json")) as f:
        report = json.load(f)
    assert report["rehearsal"]["summary"].startswith(
        "migration rehearsed on a copy (on %s): passed in " % BOX), report["rehearsal"]
    assert rehearsal_record(desc)["attempts"] == 2
    assert rehearsal_left(engine, testbed, desc) == []


def test_a_rehearsal_host_without_the_memory_or_the_tarball_says_what_to_do(testbed, engine):
    desc, inventory = prepare(testbed, engine)
    work, _oms_log, box_log = with_box(desc, inventory, {"oms_image_archive": "/nonexistent/box/oms.tar"})
    # the free memory checked is the box's, named as such
    big = run_playbook(inventory, "rehearse", extra_vars={"oms_rehearsal_host": BOX,
                                                          "oms_upgrade_rehearsal_memory": "100000g"})
    assert big.rc != 0, tail(big)
    assert re.search(r"but the rehearsal host %s \(oms_rehearsal_host\) has \d+ MiB available" % BOX,
                     big.output), tail(big)
    # an image the box does not have, whose tarball is not there: the OMS host's path is not used
    absent = run_playbook(inventory, "rehearse", extra_vars={
        "oms_rehearsal_host": BOX, "oms_target_image": desc["target_image"] + "-not-loaded"})
    assert absent.rc != 0, tail(absent)
    assert "is not on the rehearsal host %s (oms_rehearsal_host), and its tarball " \
           "/nonexistent/box/oms.tar is not there either" % BOX in absent.output, tail(absent)
    assert "Copy the tarball to /nonexistent/box/oms.tar on %s" % BOX in absent.output, tail(absent)
    assert "oms_rehearsal" in modules_run(box_log)
    # recorded on the OMS host as failed, so the plan shows it and the window is refused
    here = rehearsal_record(desc)
    assert here["status"] == "failed" and here["data"]["rehearsal_host"] == BOX
    assert "oms_rehearsal_host" in here["error"]
    plan = run_playbook(inventory, "upgrade", args=["--check"])
    assert "(on %s): FAILED before it began" % BOX in plan.output, tail(plan)
    assert "The window is refused" in plan.output, tail(plan)
    # nothing was created, and the bundle is gone everywhere
    assert rehearsal_left(engine, testbed, desc) == []
    assert not [n for n in os.listdir(work) if n.startswith(("obrh_", ".oms_rehearsal_import"))]
    assert not [n for n in os.listdir(desc["backup_dir"]) if "oms_rehearsal_export" in n]


def test_a_rehearsal_killed_on_another_host_is_cleaned_up_there(testbed, engine):
    desc, inventory = prepare(testbed, engine)
    work, _oms_log, _box_log = with_box(desc, inventory)
    cmd = playbook_command(inventory, "rehearse", extra_vars={"oms_rehearsal_host": BOX})
    out = open(os.path.join(inventory, "killed.log"), "w")
    proc = subprocess.Popen(cmd, env=ansible_env(), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        oms = []
        while time.time() < deadline and proc.poll() is None and not oms:
            oms = [c.name for c in engine.containers.list(filters={
                "label": "obtools.oms.rehearsal=%s" % desc["old_container"]})
                if not c.name.endswith(("_relay_in", "_relay_out"))]
            time.sleep(0.2)
        assert oms, "the rehearsal's OMS container never appeared"
        # the controller and the module on the box (it would finish and clean up: its lock names it)
        with open(os.path.join(work, ".obrh_%s.lock" % desc["old_container"])) as f:
            module_pid = json.load(f)["pid"]
        os.killpg(proc.pid, signal.SIGKILL)
        try:
            os.kill(module_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    finally:
        proc.wait()
        out.close()
    left = rehearsal_left(engine, testbed, desc)
    assert oms[0] in left and any(n.startswith("db:") for n in left), left
    assert rehearsal_record(desc)["status"] == "started"  # the OMS host's record: did not finish
    # on the OMS host it is refused: what was left is listed on the box
    here = run_playbook(inventory, "rehearse")
    assert here.rc != 0 and "ran on %s and did not finish" % BOX in here.output, tail(here)
    assert "oms_rehearsal_host=%s" % BOX in here.output, tail(here)
    assert set(rehearsal_left(engine, testbed, desc)) == set(left)
    # on the box, the next run removes it first, then rehearses
    there = run_playbook(inventory, "rehearse", extra_vars={"oms_rehearsal_host": BOX})
    assert there.rc == 0, tail(there)
    assert rehearsal_left(engine, testbed, desc) == []
    assert rehearsal_record(desc)["status"] == "done"
    assert not [n for n in os.listdir(work) if n.startswith("obrh_")]
