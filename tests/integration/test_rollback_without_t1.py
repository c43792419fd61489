"""Rollback's HA step works when the stop of the old container itself failed (issue 10, item 7):
the journal then has stop_old started and no T1; step 9.6 counts the downtime from the start of
the stop instead of failing on the missing T1."""
import os

from conftest import INSTANCE, run_module
from playbooks import journal, run_playbook, tail, write_inventory


def test_rollback_after_a_failed_stop(instance):
    d = instance
    inventory = write_inventory(d)
    first = run_playbook(inventory, "upgrade", {"oms_upgrade_stop_after_step": "image_load"})
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
    assert steps["rollback_ha_on"]["data"]["rollback_ha_config_after"]["enable"] is True
