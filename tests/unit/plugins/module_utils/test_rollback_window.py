"""The rollback window's decisions (module_utils/rollback_window.py, a plan of transaction.py), with its
steps replaced by recorders: which steps run for which upgrade, when it refuses, how it resumes
and how it ends after a failure. The steps themselves run on the test bed
(tests/integration/test_rollback_decision.py, test_controller_killed.py and the rollback scenario)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json
import os
import sys

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import process_owner
from ansible_collections.obtools.oms.plugins.module_utils import rollback_window
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

sys.path.insert(0, os.path.dirname(__file__))
import recorded_window  # noqa: E402  pylint: disable=wrong-import-position

STEPS = rollback_window.WINDOW_STEPS


DEFAULTS = dict(old_container="old", new_container="new", accept_data_loss=False, safety_dump_dir=None,
                stop_timeout=1, health_timeout=1)


def Recorded(path, **params):
    return recorded_window.Recorded(rollback_window, path, DEFAULTS, **params)


def upgrade_journal(path, committed=False, ran_new=True, **steps):
    """The journal an upgrade leaves: stopped the old container, ran the new one (ran_new),
    passed step 7 (committed)."""
    done = dict((name, {"status": "done"}) for name in ("preflight", "ha_off", "stop_old", "backup"))
    if ran_new:
        done["run_new"] = {"status": "done" if committed else "failed"}
    if committed:
        done.update(init={"status": "done"}, health={"status": "done"}, ha_on={"status": "done"})
    done.update(steps)
    path.write_text(json.dumps({"format": 1, "facts": {"old_container": "old", "t1": "2024-05-06T08:15:02.000Z"},
                                "steps": done}))


read = recorded_window.read


def test_a_failed_upgrade_is_rolled_back_step_by_step_in_order(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    window = Recorded(path, restore_ahead=True)
    result = window.run()
    assert window.ran == [s for s in STEPS if s != "rollback_safety_dump"]
    assert window.ran[:3] == ["rollback_verify", "rollback_stage", "rollback_ha_off"]
    assert result["outcome"] == "rolled_back" and not result["failed"]
    assert result["steps_done"] == window.ran
    journal = read(path)
    assert journal["window"]["kind"] == "rollback" and journal["window"]["outcome"] == "rolled_back"
    assert all(journal["steps"][s]["status"] == "done" for s in window.ran)


def test_without_restore_ahead_the_dumps_are_checked_before_the_stop_and_loaded_after_it(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    window = Recorded(path, restore_ahead=False)
    assert window.run()["outcome"] == "rolled_back"
    assert "rollback_stage" not in window.ran
    assert window.ran.index("rollback_verify") < window.ran.index("rollback_ha_off")
    assert window.ran.index("rollback_stop_new") < window.ran.index("rollback_restore")


def test_nothing_is_loaded_ahead_once_the_new_container_was_stopped(tmp_path):
    # a rollback cut off after its stop, run again: OMS is down already, the steps go on in order
    path = tmp_path / "journal.json"
    upgrade_journal(path, rollback_ha_off={"status": "done"}, rollback_stop_new={"status": "done"})
    window = Recorded(path, restore_ahead=True)
    assert window.run()["outcome"] == "rolled_back"
    assert window.ran == ["rollback_verify", "rollback_restore", "rollback_start_old", "rollback_health",
                          "rollback_ha_on"]


@pytest.mark.parametrize("step", ["rollback_verify", "rollback_stage"])
def test_a_failure_before_the_stop_stops_nothing(tmp_path, step):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    window = Recorded(path, fail_at=step, restore_ahead=True)
    result = window.run()
    assert result["outcome"] == "failed_before_stop" and result["failed"]
    assert "rollback_ha_off" not in window.ran and "rollback_stop_new" not in window.ran
    assert read(path)["steps"][step]["status"] == "failed"


def test_nothing_is_restored_when_the_new_container_never_ran(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path, ran_new=False)
    window = Recorded(path, restore_ahead=True)
    window.run()
    assert "rollback_verify" not in window.ran and "rollback_restore" not in window.ran
    assert window.ran == ["rollback_ha_off", "rollback_stop_new", "rollback_start_old", "rollback_health",
                          "rollback_ha_on"]


def test_a_committed_upgrade_is_refused_without_accept_data_loss(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path, committed=True)
    window = Recorded(path, safety_dump_dir=str(tmp_path / "safety"))
    with pytest.raises(OmsError, match="committed"):
        window.run()
    assert window.ran == [] and "window" not in read(path)


def test_a_committed_upgrade_is_refused_without_a_safety_dump_dir(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path, committed=True)
    window = Recorded(path, accept_data_loss=True)
    with pytest.raises(OmsError, match="safety_dump_dir"):
        window.run()
    assert window.ran == []


def test_a_committed_upgrade_is_dumped_before_anything_is_dropped(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path, committed=True)
    safety = str(tmp_path / "safety")
    window = Recorded(path, accept_data_loss=True, safety_dump_dir=safety)
    assert window.run()["outcome"] == "rolled_back"
    assert window.ran.index("rollback_safety_dump") < window.ran.index("rollback_restore")
    assert window.ran.index("rollback_stop_new") < window.ran.index("rollback_safety_dump")
    assert window.params_seen["safety_dump_dir"] == safety


def test_it_refuses_without_an_upgrade_that_stopped_the_old_container(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"format": 1, "facts": {"old_container": "old"},
                                "steps": {"preflight": {"status": "done"}}}))
    window = Recorded(path)
    with pytest.raises(OmsError, match="nothing to roll back"):
        window.run()
    assert window.ran == []


@pytest.mark.parametrize("step, outcome", [("rollback_ha_off", "failed_before_stop"),
                                           ("rollback_stop_new", "failed_down"),
                                           ("rollback_restore", "failed_down"),
                                           ("rollback_health", "failed_down"),
                                           ("rollback_ha_on", "failed_serving")])
def test_a_failure_is_recorded_against_its_step_and_says_what_serves(tmp_path, step, outcome):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    window = Recorded(path, fail_at=step)
    result = window.run()
    assert result["outcome"] == outcome and result["failed"]
    assert step in result["error"] and "%s broke" % step in result["error"]
    journal = read(path)
    assert journal["steps"][step]["status"] == "failed"
    assert window.ran[-1] == step


def test_a_rerun_finishes_what_a_failed_or_cut_off_run_left(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    Recorded(path, fail_at="rollback_restore").run()
    again = Recorded(path)
    result = again.run()
    assert again.ran == ["rollback_restore", "rollback_start_old", "rollback_health", "rollback_ha_on"]
    assert result["outcome"] == "rolled_back" and result["steps_done"] == again.ran


def test_a_rollback_finished_changes_nothing_when_run_again(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    Recorded(path).run()
    again = Recorded(path)
    result = again.run()
    assert again.ran == [] and result["outcome"] == "rolled_back" and not result["changed"]


def test_it_refuses_while_the_upgrades_window_still_runs(tmp_path):
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    journal = read(path)
    # another live process (the test's parent) owns it: a window never counts its own process
    owner = dict(process_owner.owner_of_self(), pid=os.getppid(), start=process_owner.process_start(os.getppid()))
    journal["window"] = {"status": "running", "kind": "upgrade", "owner": owner,
                         "started_at": "2024-05-06T08:15:00.000Z"}
    path.write_text(json.dumps(journal))
    window = Recorded(path)
    with pytest.raises(OmsError, match="upgrade window"):
        window.run()
    assert window.ran == []


def test_the_upgrades_own_rollback_leaves_nothing_to_do(tmp_path):
    # the upgrade window rolled back on the host after a failure before the commit point, HA included
    path = tmp_path / "journal.json"
    undone = ("rollback_stop_new", "rollback_verify", "rollback_restore", "rollback_start_old", "rollback_health",
              "rollback_ha_on")
    upgrade_journal(path, **dict((s, {"status": "done"}) for s in undone))
    window = Recorded(path)
    assert window.run()["outcome"] == "rolled_back"
    assert window.ran == []


def test_after_the_upgrades_own_rollback_failed_to_put_ha_back_only_that_is_retried(tmp_path):
    # HA was off since the upgrade's step 1: the rollback never turns it off again, it puts it back
    path = tmp_path / "journal.json"
    undone = ("rollback_stop_new", "rollback_verify", "rollback_restore", "rollback_start_old", "rollback_health")
    upgrade_journal(path, rollback_ha_on={"status": "failed"}, **dict((s, {"status": "done"}) for s in undone))
    window = Recorded(path)
    assert window.run()["outcome"] == "rolled_back"
    assert window.ran == ["rollback_ha_on"]


def test_too_little_room_in_the_metadb_refuses_before_the_stop(tmp_path, monkeypatch):
    from ansible_collections.obtools.oms.plugins.module_utils import restore_ahead, window_steps
    path = tmp_path / "journal.json"
    upgrade_journal(path)
    window = Recorded(path, restore_ahead=True, metadb_free_bytes=1000)
    monkeypatch.setattr(restore_ahead, "check", lambda settings, dump_dir, verified: [{"size": 1000}, {"size": 500}])
    monkeypatch.setattr(window_steps, "verified_dumps", lambda tx: ({}, {}))
    monkeypatch.setattr(window_steps, "upgrade_dump_dir", lambda tx: str(tmp_path))
    recorder = window.action
    window.action = lambda step: getattr(window_steps, step) if step == "rollback_stage" else recorder(step)
    result = window.run()
    assert result["outcome"] == "failed_before_stop"
    assert "1000 bytes free" in result["error"] and "needs about 2250" in result["error"]
    assert "rollback_stop_new" not in window.ran and "rollback_ha_off" not in window.ran


def test_after_the_upgrades_own_rollback_of_a_failed_dump_ha_is_never_turned_off_again(tmp_path):
    # the upgrade window failed at its dump (no new container): its undo started 4.1.1 and put
    # ha.config back; the rollback role that follows must not turn HA off again
    path = tmp_path / "journal.json"
    undone = ("rollback_start_old", "rollback_health", "rollback_ha_on")
    upgrade_journal(path, ran_new=False, **dict((s, {"status": "done"}) for s in undone))
    window = Recorded(path)
    assert window.run()["outcome"] == "rolled_back"
    assert "rollback_ha_off" not in window.ran and "rollback_ha_on" not in window.ran
