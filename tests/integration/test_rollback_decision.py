"""Rolling back after the commit point is a decision (issue 10, item 2), on the test bed.

After a completed upgrade (4.2.0-CE passed step 7 and served):
- the rollback playbook without -l leaves the host alone (its journal shows no upgrade in progress);
- with -l but without oms_rollback_accept_data_loss it refuses, says what would be lost, and
  changes nothing (containers, databases, backup directory);
- with it, the three databases are dumped as 4.2.0 left them, verified, next to the upgrade's
  dumps, before any DROP; then the rollback completes, and the old container's restart policy is
  back (item 5).
"""
import os

import docker

from conftest import INSTANCE, run_module
from playbooks import journal, run_playbook, tail, write_inventory
from rows import table_rows


def world(d):
    """What must not change when the rollback refuses: containers, every row, the backup dir."""
    client = docker.from_env()
    containers = {}
    for name in (d["old_container"], d["new_container"]):
        c = client.containers.get(name)
        containers[name] = (c.status, c.attrs["HostConfig"]["RestartPolicy"]["Name"])
    listing = sorted(os.listdir(d["backup_dir"]))
    return containers, listing


def test_committed_upgrade_is_rolled_back_only_when_asked(instance):
    d = instance
    policy_before = docker.from_env().containers.get(d["old_container"]).attrs["HostConfig"]["RestartPolicy"]["Name"]
    assert policy_before == "always"  # the test bed's old container has one: the upgrade must hold it at no
    inventory = write_inventory(d)
    up = run_playbook(inventory, "upgrade")
    assert up.rc == 0, tail(up)
    old = docker.from_env().containers.get(d["old_container"])
    assert old.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert journal(d)["facts"]["old_restart_policy"] == "always"

    # Not named: left alone.
    before = world(d)
    rows_before = table_rows(d, live=False)
    unnamed = run_playbook(inventory, "rollback")
    assert unnamed.rc == 0, tail(unnamed)
    assert "left alone" in unnamed.output
    assert world(d) == before

    # Named, no decision: refused, nothing changed.
    refused = run_playbook(inventory, "rollback", limit=INSTANCE)
    assert refused.rc != 0
    assert "oms_rollback_accept_data_loss=true" in refused.output
    assert "is LOST" in refused.output
    assert world(d) == before
    assert table_rows(d, live=False) == rows_before
    assert not [s for s in journal(d)["steps"] if s.startswith("rollback_")]

    # Decided: the databases as 4.2.0 left them are dumped and verified before any DROP.
    back = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true"}, limit=INSTANCE)
    assert back.rc == 0, tail(back)
    j = journal(d)
    safety = j["facts"]["rollback_safety_dump_dir"]
    assert os.path.dirname(safety) == d["backup_dir"]
    assert j["steps"]["rollback_safety_dump"]["finished_at"] <= j["steps"]["rollback_restore"]["started_at"]
    verified = run_module("oms_metadb_info", {"gather": ["backup"], "backup_dir": safety})
    assert not verified.failed, verified.result
    assert sorted(x["database"] for x in verified["manifest"]["databases"]) == sorted(
        d["metadb"][k] for k in ("rm_db", "cm_db", "cm_hb_db"))
    assert docker.from_env().containers.get(d["old_container"]).attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
