"""The rollback window's decisions (module_utils/rollback_window.py, rollback_steps.py), with its
steps replaced by recorders: which steps run for which upgrade, when it refuses, how it resumes
and how it ends after a failure. The steps themselves run on the test bed
(tests/integration/test_rollback_decision.py, test_controller_killed.py and the rollback scenario)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json
import os

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import process_owner
from ansible_collections.obtools.oms.plugins.module_utils import rollback_window
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

STEPS = rollback_window.WINDOW_STEPS


class Recorded(rollback_window.RollbackWindow):
    """Steps that record themselves and that they ran; `fail_at` raises in that step."""

    def __init__(self, path, fail_at=None, **params):
        p = dict(journal_path=str(path), old_container="old", new_container="new", accept_data_loss=False,
                 safety_dump_dir=None, stop_timeout=1, health_timeout=1)
        p.update(params)
        super(Recorded, self).__init__(p, lambda: None, None, None, {}, self.warnings_append, sleep=lambda s: None)
        self.ran, self.warnings, self.fail_at, self.safety_dir = [], [], fail_at, None
        for step in STEPS:  # instance attributes shadow the real steps
            if step != "rollback_safety_dump":
                setattr(self, step, self.recorder(step))

    def warnings_append(self, msg):
        self.warnings.append(msg)

    def recorder(self, step):
        def run():
            self.record(step, "started")
            self.ran.append(step)
            if step == self.fail_at:
                raise OmsError("%s broke" % step, "fix it")
            self.record(step, "done", data={"%s_data" % step: 1})
        return run

    def rollback_safety_dump(self, dump_dir):
        self.safety_dir = dump_dir
        self.recorder("rollback_safety_dump")()


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


def read(path):
    return json.loads(path.read_text())


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
    assert window.safety_dir == safety


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


def test_the_upgrades_auto_rollback_leaves_only_the_ha_steps(tmp_path):
    # the upgrade window rolled back on the host after a failure before the commit point
    path = tmp_path / "journal.json"
    upgrade_journal(path, **dict((s, {"status": "done"}) for s in rollback_window.STEPS if s != "rollback_safety_dump"))
    window = Recorded(path)
    assert window.run()["outcome"] == "rolled_back"
    assert window.ran == ["rollback_ha_off", "rollback_ha_on"]
