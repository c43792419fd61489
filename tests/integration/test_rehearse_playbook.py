"""The playbook obtools.oms.rehearse and the upgrade role around it, on a test-bed instance: a
failing migration found days ahead refuses the upgrade's window (the old container never stops),
and a passing rehearsal lets the upgrade through, whose plan (--check) and measured window are
compared with the prediction.

Run with OMS_TEST_INSTANCE set to your own instance.
"""

import json
import os

import docker
import pytest

from conftest import INSTANCE
from playbooks import journal, run_playbook, tail, write_inventory


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
    assert "stop_old" not in journal(desc).get("steps", {})
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
