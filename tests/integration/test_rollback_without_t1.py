"""Rollback's HA step works when the stop of the old container itself failed (issue 10, item 7):
the journal then has stop_old started and no T1; step 9.6 counts the downtime from the start of
the stop instead of failing on the missing T1."""
import os
import sys

from conftest import INSTANCE, REPO, run_module
from playbooks import journal, run_playbook, tail, write_inventory

sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
from obtestbed.access import query  # noqa: E402  pylint: disable=wrong-import-position


def test_rollback_after_a_failed_stop(instance):
    d = instance
    # HA on before step 1, so that step 9.6 turns it back on and computes refetchStoreIntervalMin
    rm = d["metadb"]["rm_db"]
    raw = query(d, "SELECT cfg_value FROM oms_normal_config WHERE cfg_name = 'ha.config'", database=rm)[0][0]
    query(d, "UPDATE oms_normal_config SET cfg_value = %s WHERE cfg_name = 'ha.config'",
          (raw.replace('"enable":false', '"enable":true'),), database=rm)
    inventory = write_inventory(d)
    # step 1 is the last before the window (the stop)
    first = run_playbook(inventory, "upgrade", {"oms_upgrade_stop_after_step": "ha_off"})
    assert first.rc == 0, tail(first)
    path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    # what a stop that failed leaves: stop_old started, no T1
    wrote = run_module("oms_journal", {"path": path, "state": "step", "step": "stop_old", "status": "started"})
    assert not wrote.failed, wrote.result
    assert "t1" not in journal(d)["facts"]
    back = run_playbook(inventory, "rollback", limit=INSTANCE)
    assert back.rc == 0, tail(back)
    steps = journal(d)["steps"]
    assert steps["rollback_ha_on"]["status"] == "done"
    after = steps["rollback_ha_on"]["data"]["rollback_ha_config_after"]
    assert after["enable"] is True and after["refetchStoreIntervalMin"] >= 31
