"""HA as the DBA expects (issue 20.1), on the test bed, through the playbooks as an operator runs them:

- a deployment without HA ends without HA, ha.config byte for byte as it was, through an upgrade
  and a rollback, and the plan (--check) and both reports say so;
- with HA on and enableStore false, step 8 leaves perceiveStoreClientCheckpoint alone and sets
  refetchStoreIntervalMin from T2 - T1; step 1 ran only after the image load and the prune ahead;
  the simulator re-reads ha.config, so OMS is seen to take it;
- with the simulator's unfavourable side ha_config_cached (ha.config read once when the server
  starts), the upgrade sees that OMS did not take the new value: oms_ha_reload=check warns with
  the command, oms_ha_reload=restart restarts the console and sees it taken, after the upgrade and
  after the rollback.

Variables go with -e as strings, as an operator types them.
"""
import json
import os
import re

from conftest import INSTANCE, REPO  # noqa: F401  pylint: disable=unused-import
from ha_value import ha_raw, set_ha
from playbooks import journal, run_playbook, tail, write_inventory

import sys
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))

SIGN = "ha.config reloaded:"


def report(d, name):
    with open(os.path.join(d["backup_dir"], name)) as handle:
        return json.load(handle) if name.endswith(".json") else handle.read()


def log(d, name):
    path = os.path.join(d["mounts"]["logs"], name)
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def signs_after(d, text):
    """The simulator's ha.config signs logged after the first line that contains `text`."""
    lines = log(d, "oms_sim.log").splitlines()
    starts = [i for i, line in enumerate(lines) if text in line]
    return [line for line in lines[(starts[0] if starts else len(lines)):] if SIGN in line]


def test_a_deployment_without_ha_ends_without_ha_and_plan_and_reports_say_so(instance):
    d = instance
    before = ha_raw(d)
    assert json.loads(before)["enable"] is False  # OMS's documented default
    inventory = write_inventory(d)

    plan = run_playbook(inventory, "upgrade", args=["--check", "--diff"])
    assert plan.rc == 0, tail(plan)
    assert "HA off before step 1, off after step 8" in plan.output, tail(plan, 120)
    assert "HA stays off" in plan.output

    up = run_playbook(inventory, "upgrade")
    assert up.rc == 0, tail(up)
    assert ha_raw(d) == before  # byte for byte
    data = journal(d)["steps"]["ha_on"]["data"]
    assert data["ha_changes"] == [] and data["ha_reload"]["outcome"] == "unchanged"
    assert journal(d)["facts"]["ha_config_before_raw"] == before
    up_report = report(d, "oms_upgrade_report.json")
    assert up_report["ha"]["enable_before"] is False and up_report["ha"]["enable_after"] is False
    assert not [f for f in up_report["ha"]["fields"] if f["changed"]]
    assert "**Off before step 1, off after step 8** (as before)" in report(d, "oms_upgrade_report.md")
    assert any(line.startswith("HA: off before step 1, off after step 8") for line in up_report["summary"])

    back = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true"}, limit=INSTANCE)
    assert back.rc == 0, tail(back)
    assert ha_raw(d) == before
    back_report = report(d, "oms_rollback_report.json")
    assert back_report["ha"]["enable_after"] is False and back_report["ha"]["changes"] == []
    assert "**Off before the upgrade's step 1, off after step 9.6** (as before)" in report(d, "oms_rollback_report.md")


def test_enable_store_false_keeps_the_checkpoint_and_computes_refetch_and_ha_goes_off_late(instance):
    d = instance
    set_ha(d, enable=True, enableStore=False, enableHost=True)
    inventory = write_inventory(d)
    up = run_playbook(inventory, "upgrade")
    assert up.rc == 0, tail(up)
    j = journal(d)
    steps, after = j["steps"], json.loads(ha_raw(d))
    # only the procedure's changes: HA back on, refetchStoreIntervalMin from T2 - T1, nothing else
    assert after["enable"] is True and after["enableHost"] is True and after["enableStore"] is False
    assert after["perceiveStoreClientCheckpoint"] is False
    computed = steps["ha_on"]["data"]["refetch_store_interval_min"]
    downtime = steps["ha_on"]["data"]["downtime_minutes"]  # T2 - T1, rounded to a tenth
    assert after["refetchStoreIntervalMin"] == computed >= 31
    assert downtime - 0.1 <= computed - 30 <= downtime + 1.1
    assert any("enableStore is false" in n for n in steps["ha_on"]["data"]["ha_notes"])
    assert steps["ha_on"]["data"]["ha_changes"] == ["refetchStoreIntervalMin: 30 -> %d" % computed]
    # the simulator re-reads ha.config: OMS is seen to take it, without a restart
    assert steps["ha_on"]["data"]["ha_reload"]["outcome"] == "taken", steps["ha_on"]["data"]["ha_reload"]
    # supervisorctl restart oms_console asks the simulated supervisord to stop (docker_init.sh asks it to restart)
    assert "stop requested" not in log(d, "supervisord.log")
    # step 1 only after the image load and the prune ahead, which do not stop anything
    assert steps["ha_off"]["started_at"] >= steps["image_load"]["finished_at"]
    assert steps["ha_off"]["started_at"] >= steps["heartbeat_prune_ahead"]["finished_at"]
    assert steps["ha_off"]["finished_at"] <= steps["stop_old"]["started_at"]
    assert j["facts"]["ha_config_before"]["enable"] is True


def test_a_cached_ha_config_is_seen_not_taken_and_the_run_says_what_to_do(instance, testbed):
    d = instance
    set_ha(d, enable=True)
    testbed.set_faults(INSTANCE, ["ha_config_cached"])
    try:
        up = run_playbook(write_inventory(d), "upgrade", {"oms_ha_reload_wait": "10"})
    finally:
        testbed.set_faults(INSTANCE, [])
    assert up.rc == 0, tail(up)
    reload = journal(d)["steps"]["ha_on"]["data"]["ha_reload"]
    assert reload["outcome"] == "not_taken" and reload["restarted_at"] is None, reload
    assert "WARNING: OMS showed no sign that it took the new ha.config" in up.output, tail(up, 100)
    assert "docker exec %s supervisorctl restart oms_console" % d["new_container"] in up.output
    assert "To make it read it: `docker exec %s supervisorctl restart oms_console`" % d["new_container"] \
        in report(d, "oms_upgrade_report.md")
    # the MetaDB says HA is on; the running 4.2.0 server still holds what it read when it started
    assert json.loads(ha_raw(d))["enable"] is True
    started = signs_after(d, "OMS 4.2.0-CE (simulator) starting")
    assert started and all("enable=False" in line for line in started), started


def test_a_cached_ha_config_is_taken_by_a_console_restart_after_the_upgrade_and_the_rollback(instance, testbed):
    d = instance
    set_ha(d, enable=True)
    testbed.set_faults(INSTANCE, ["ha_config_cached"])
    inventory = write_inventory(d)
    extra = {"oms_ha_reload": "restart", "oms_ha_reload_wait": "10"}
    try:
        up = run_playbook(inventory, "upgrade", extra)
        assert up.rc == 0, tail(up)
        reload = journal(d)["steps"]["ha_on"]["data"]["ha_reload"]
        assert reload["outcome"] == "restarted", reload
        assert re.search(r"enable=True .*perceiveStoreClientCheckpoint=True", reload["sign"]), reload
        assert "stop requested" in log(d, "supervisord.log")

        back = run_playbook(inventory, "rollback", dict(extra, oms_rollback_accept_data_loss="true"), limit=INSTANCE)
        assert back.rc == 0, tail(back)
    finally:
        testbed.set_faults(INSTANCE, [])
    facts = journal(d)["facts"]
    assert facts["rollback_ha_reload"]["outcome"] == "restarted", facts["rollback_ha_reload"]
    assert "enable=True" in facts["rollback_ha_reload"]["sign"]
    after = json.loads(ha_raw(d))
    assert after["enable"] is True and after["refetchStoreIntervalMin"] >= 31
    assert report(d, "oms_rollback_report.json")["ha"]["reload"]["outcome"] == "restarted"
