"""The window's decisions (module_utils/upgrade_window.py), with its steps replaced by recorders:
which steps run, when it refuses, and how it ends after a failure on either side of the commit
point. The steps themselves are the step modules' code, tested on the test bed
(tests/integration/test_window_outlives_controller.py, test_fault_at_every_step.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import upgrade_window
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

sys.path.insert(0, os.path.dirname(__file__))
import recorded_window  # noqa: E402  pylint: disable=wrong-import-position


DEFAULTS = dict(auto_rollback=True, stop_after=None, old_container="old", new_container="new", stop_timeout=1,
                health_timeout=1)


def Recorded(path, **params):
    return recorded_window.Recorded(upgrade_window, path, DEFAULTS, **params)


@pytest.fixture(autouse=True)
def no_metadb_sessions(monkeypatch):
    """The precondition that reads the MetaDB's sessions (its own test is on the test bed)."""
    monkeypatch.setattr(upgrade_window, "quiet_metadb", lambda tx: None)


def ready_journal(path, **steps):
    done = dict((name, {"status": "done"}) for name in ("preflight", "ha_off"))
    done.update(steps)
    path.write_text(json.dumps({"format": 1, "facts": {}, "steps": done}))


read = recorded_window.read


def test_every_step_runs_in_order_and_the_window_commits(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path)
    result = window.run()
    assert window.ran == list(upgrade_window.STEPS)
    assert result["outcome"] == "committed" and result["committed"] and not result["failed"]
    journal = read(path)
    assert journal["window"]["status"] == "ended" and journal["window"]["outcome"] == "committed"
    assert journal["window"]["owner"]["pid"] == os.getpid()
    assert all(journal["steps"][s]["status"] == "done" for s in upgrade_window.STEPS)


@pytest.mark.parametrize("missing", ["preflight", "ha_off"])
def test_it_refuses_to_stop_without_this_attempts_preflight_and_ha_off(tmp_path, missing):
    path = tmp_path / "journal.json"
    ready_journal(path)
    journal = read(path)
    del journal["steps"][missing]
    path.write_text(json.dumps(journal))
    window = Recorded(path)
    with pytest.raises(OmsError) as err:
        window.run()
    assert missing in str(err.value) and "refuses to stop the old container" in str(err.value)
    assert window.ran == [] and "window" not in read(path)


def test_a_stop_file_left_before_the_start_is_refused(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    open(upgrade_window.stop_path(str(path)), "w").close()
    window = Recorded(path)
    with pytest.raises(OmsError, match="stop file"):
        window.run()
    assert window.ran == []


@pytest.mark.parametrize("step", ["heartbeat_prune", "backup", "run_new", "init", "health"])
def test_a_failure_before_the_commit_point_rolls_back(tmp_path, step):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at=step)
    result = window.run()
    assert window.rolled_back
    assert result["outcome"] == "rolled_back" and result["failed"] and not result["committed"]
    assert read(path)["steps"][step]["status"] == "failed"
    assert "%s broke" % step in read(path)["steps"][step]["error"]


def test_a_failure_in_the_stop_itself_rolls_back_too(tmp_path):
    # the stop may have half happened (the policy set, the container stopping): 4.1.1 is started again
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at="stop_old")
    assert window.run()["outcome"] == "rolled_back" and window.rolled_back


def test_a_failure_after_the_commit_point_is_never_rolled_back(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at="ha_on")
    result = window.run()
    assert not window.rolled_back
    assert result["outcome"] == "failed_committed" and result["committed"] and result["failed"]


def test_without_auto_rollback_a_failure_says_oms_is_down(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at="init", auto_rollback=False)
    result = window.run()
    assert not window.rolled_back
    assert result["outcome"] == "failed_down" and "OMS is down" in result["error"]


def test_a_stop_asked_by_hand_rolls_back_at_the_next_step_before_the_commit_point(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, stop_at="backup")
    result = window.run()
    # nothing of run_new began: only the stop and step 1 are undone
    assert window.ran == ["stop_old", "heartbeat_prune", "backup", "rollback_start_old", "rollback_health",
                          "rollback_ha_on"]
    assert result["outcome"] == "rolled_back" and "Stopped by hand" in result["error"]


def test_a_stop_asked_after_the_commit_point_lets_the_window_finish(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, stop_at="health")
    assert window.run()["outcome"] == "committed"
    assert window.ran == list(upgrade_window.STEPS)


def test_a_resumed_window_skips_the_steps_done(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path, stop_old={"status": "done"}, heartbeat_prune={"status": "done"},
                  backup={"status": "done"}, run_new={"status": "done"}, init={"status": "done"},
                  health={"status": "done"})
    window = Recorded(path, fail_at="ha_on")
    result = window.run()
    # the commit point was passed by the earlier run: a failure now is not rolled back either
    assert window.ran == ["ha_on"] and not window.rolled_back and result["outcome"] == "failed_committed"


def test_an_unfinished_rollback_is_refused(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path, stop_old={"status": "done"}, rollback_stop_new={"status": "done"})
    window = Recorded(path)
    with pytest.raises(OmsError, match="rollback that did not finish"):
        window.run()
    assert window.ran == []


def window_of_another_process(path):
    """A live process of our own recorded as the journal's running window (the caller kills it)."""
    from ansible_collections.obtools.oms.plugins.module_utils import process_owner
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    with open("/proc/%d/stat" % other.pid) as handle:
        start = handle.read().rsplit(")", 1)[-1].split()[19]
    journal = read(path)
    journal["window"] = {"status": "running", "started_at": "2026-12-04T10:00:00.000Z",
                         "owner": {"pid": other.pid, "start": start,
                                   "boot": process_owner._read(process_owner.BOOT_ID)}}
    path.write_text(json.dumps(journal))
    return other


def test_a_window_whose_process_still_runs_is_attached_to_not_run_again(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    other = window_of_another_process(path)
    try:
        window = Recorded(path)
        polls = []

        def sleep(seconds):  # the other window ends after two polls
            polls.append(seconds)
            if len(polls) == 2:
                ended = read(path)
                ended["window"].update(status="ended", outcome="rolled_back", error="init broke")
                path.write_text(json.dumps(ended))
        window.sleep = sleep
        result = window.run()
    finally:
        other.kill()
        other.wait()
    assert window.ran == [] and len(polls) == 2
    assert result["attached"] and result["outcome"] == "rolled_back" and result["error"] == "init broke"
    assert any("still runs" in w for w in window.warnings)


def test_attaching_gives_up_after_the_longest_window_with_what_to_do(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    other = window_of_another_process(path)
    try:
        window = Recorded(path)
        now = [1000.0]
        window.clock = lambda: now[0]

        def sleep(seconds):  # the other window never ends; time runs 600 s per poll
            now[0] += 600
        window.sleep = sleep
        with pytest.raises(OmsError, match="still runs after %d s" % window.limit()) as raised:
            window.run()
    finally:
        other.kill()
        other.wait()
    assert window.ran == [] and now[0] - 1000.0 > window.limit()
    assert "run again" in raised.value.hint


# --- step 8: ha.config as step 1 found it, and whether OMS took it ------------------------------
sys.path.insert(0, os.path.dirname(__file__))
from test_ha_reload import SIGN_ON, Container  # noqa: E402  pylint: disable=wrong-import-position
from test_ha_restore import FakeRow, found  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.obtools.oms.plugins.module_utils import ha_config  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import transaction  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import window_steps  # noqa: E402


# every step of the window before step 8, done
WINDOW_DONE = dict((step, {"status": "done"}) for step in upgrade_window.STEPS[:-1])


class Step8(object):
    """The real step 8 (window_steps.ha_on), with the rm database's row in memory (FakeRow), the
    container's logs in a local directory (test_ha_reload.Container) and step 7's health wait
    recorded."""

    def __init__(self, path, container, monkeypatch, **params):
        self.p = dict(journal_path=str(path), auto_rollback=True, stop_after=None, old_container="old",
                      new_container="oms_420", ha_enable_after=None, perceive_checkpoint=True, ha_reload="check",
                      ha_reload_wait=1, ha_reload_logs=None, refetch_margin_min=30, stop_timeout=1, health_timeout=1)
        self.p.update(params)
        self.container = container
        self.warnings, self.health_waits = [], []
        monkeypatch.setattr(window_steps, "servers", self.servers)

    def servers(self, tx, started_after):
        self.health_waits.append(started_after)
        return {"servers": [], "signals": []}

    def run(self):
        return transaction.run_window(upgrade_window, self.p, lambda: None, self.container, None, {},
                                      self.warnings.append)


def step8_journal(tmp_path, before, **steps):
    """A journal of a window done up to step 8 (with `steps`), step 1's ha.config and T1; the
    container's log directory."""
    path = tmp_path / "journal.json"
    ready_journal(path, **dict(WINDOW_DONE, **steps))
    journal = read(path)
    journal["facts"] = {"ha_config_before": before, "t1": "2026-12-04T18:00:00Z"}
    path.write_text(json.dumps(journal))
    logs = tmp_path / "logs"
    logs.mkdir()
    return path, str(logs)


def step8(tmp_path, monkeypatch, before, rereads=True, **params):
    """Run step 8 alone after step 1 wrote enable=false; the window's result, its journal, the row."""
    path, logs = step8_journal(tmp_path, before)
    container = Container(logs, rereads=rereads)
    row = FakeRow(monkeypatch, ha_config.dump_ha_config(dict(before, enable=False)))
    # the real write puts the row, then the console (if it re-reads) logs its sign
    real_write = ha_config.write_ha_config

    def write_then_console(*args, **kwargs):
        result = real_write(*args, **kwargs)
        if result["changed"]:
            container.written()
        return result
    monkeypatch.setattr(ha_config, "write_ha_config", write_then_console)
    monkeypatch.setattr(upgrade_window.ha_reload, "POLL_EVERY", 0.05)
    window = Step8(path, container, monkeypatch, **params)
    result = window.run()
    return window, result, read(path), row, container


def test_step_8_with_ha_off_before_leaves_ha_off_and_checks_nothing(tmp_path, monkeypatch):
    before = found()
    window, result, journal, row, container = step8(tmp_path, monkeypatch, before)
    assert result["outcome"] == "committed", result
    data = journal["steps"]["ha_on"]["data"]
    assert json.loads(row.raw) == before and row.writes == 0
    assert data["ha_config_after"]["enable"] is False and data["ha_changes"] == []
    assert data["ha_reload"]["outcome"] == "unchanged" and container.restarts == 0
    assert "HA stays off" in " ".join(data["ha_notes"]) and data["t2"]


def test_step_8_puts_ha_back_on_and_sees_oms_take_it(tmp_path, monkeypatch):
    before = found(enable=True)
    window, result, journal, row, container = step8(tmp_path, monkeypatch, before)
    data = journal["steps"]["ha_on"]["data"]
    assert json.loads(row.raw) == dict(before, perceiveStoreClientCheckpoint=True)
    assert data["ha_changes"] == ["perceiveStoreClientCheckpoint: false -> true"]
    assert data["ha_reload"]["outcome"] == "taken" and data["ha_reload"]["sign"] == SIGN_ON
    assert window.warnings == []


def test_step_8_with_a_cached_ha_config_warns_with_what_to_do(tmp_path, monkeypatch):
    window, result, journal, row, container = step8(tmp_path, monkeypatch, found(enable=True), rereads=False)
    assert result["outcome"] == "committed"  # committed: told, not failed
    reload = journal["steps"]["ha_on"]["data"]["ha_reload"]
    assert reload["outcome"] == "not_taken" and container.restarts == 0
    assert any("supervisorctl restart oms_console" in w for w in window.warnings)


def test_step_8_with_a_cached_ha_config_and_restart_restarts_the_new_console(tmp_path, monkeypatch):
    window, result, journal, row, container = step8(tmp_path, monkeypatch, found(enable=True), rereads=False,
                                                    ha_reload="restart")
    reload = journal["steps"]["ha_on"]["data"]["ha_reload"]
    assert reload["outcome"] == "restarted" and container.restarts == 1
    assert window.health_waits == [reload["restarted_at"]]  # every server Online again after it


def test_step_8_computes_refetch_when_enable_store_is_false(tmp_path, monkeypatch):
    before = found(enable=True, enableStore=False)
    window, result, journal, row, container = step8(tmp_path, monkeypatch, before)
    after = json.loads(row.raw)
    assert after["perceiveStoreClientCheckpoint"] is False and after["enable"] is True
    # T1 was hours before: far more than the 30 minutes it had
    assert after["refetchStoreIntervalMin"] == journal["steps"]["ha_on"]["data"]["refetch_store_interval_min"] > 60


@pytest.mark.parametrize("facts", [{}, {"ha_config_preflight": {"enable": True}}], ids=["nothing", "preflight_only"])
def test_step_8_without_the_value_before_step_1_fails_after_the_commit_point(tmp_path, monkeypatch, facts):
    """Only step 1's own read counts: the preflight's, taken earlier, may be older than it."""
    path = tmp_path / "journal.json"
    ready_journal(path, **WINDOW_DONE)
    journal = read(path)
    journal["facts"] = facts
    path.write_text(json.dumps(journal))
    window = Step8(path, None, monkeypatch)
    result = window.run()
    assert result["outcome"] == "failed_committed" and "before step 1" in result["error"]


def test_step_8_resumed_after_its_write_still_checks(tmp_path, monkeypatch):
    """Killed between the write and its record: the re-run writes nothing new, and still looks."""
    before = found(enable=True)
    path, logs = step8_journal(tmp_path, before, ha_on={"status": "started", "attempts": 1})
    container = Container(logs, rereads=False)
    FakeRow(monkeypatch, ha_config.dump_ha_config(dict(before, perceiveStoreClientCheckpoint=True)))
    monkeypatch.setattr(upgrade_window.ha_reload, "POLL_EVERY", 0.05)
    window = Step8(path, container, monkeypatch, ha_reload="restart")
    window.run()
    assert read(path)["steps"]["ha_on"]["data"]["ha_reload"]["outcome"] == "restarted"


# --- the transaction: undo, preconditions, timeouts, a dead owner ---------------------------------
def test_a_failure_after_the_new_container_ran_is_undone_newest_first_ha_included(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at="init")
    result = window.run()
    assert window.ran == ["stop_old", "heartbeat_prune", "backup", "run_new", "init",
                          "rollback_stop_new", "rollback_verify", "rollback_restore", "rollback_start_old",
                          "rollback_health", "rollback_ha_on"]
    assert result["outcome"] == "rolled_back" and result["ha_restored"]
    assert read(path)["steps"]["rollback_ha_on"]["status"] == "done"


def test_a_step_1_that_failed_refuses_the_stop(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    journal = read(path)
    journal["steps"]["ha_off"]["status"] = "failed"
    path.write_text(json.dumps(journal))
    window = Recorded(path, fail_at="init")
    with pytest.raises(OmsError, match="ha_off of this attempt is not recorded done"):
        window.run()
    assert window.ran == []


def test_a_failure_of_the_ha_put_back_still_says_4_1_1_serves(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, fail_at=("init", "rollback_ha_on"))
    result = window.run()
    assert result["outcome"] == "rolled_back" and not result["ha_restored"]
    assert "rollback failed too, at rollback_ha_on" in result["error"]


def test_the_preflight_must_be_of_this_run_and_recent(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    journal = read(path)
    journal["steps"]["preflight"]["data"] = {"preflight_run": "run-1", "preflight_checked_at": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps(journal))
    with pytest.raises(OmsError, match="of another run") as other:
        Recorded(path, run_id="run-2").run()
    assert "--skip-tags preflight" in other.value.hint
    with pytest.raises(OmsError, match="more than oms_upgrade_preflight_max_age"):
        Recorded(path, run_id="run-1", preflight_max_age=3600).run()
    assert "window" not in read(path)


def test_a_failed_rehearsal_refuses_the_stop_when_one_is_required(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    rehearsal_path = tmp_path / "rehearsal.json"
    rehearsal_path.write_text(json.dumps({"format": 1, "facts": {}, "steps": {"rehearsal": {
        "status": "failed", "finished_at": "2026-12-01T00:00:00Z", "error": "docker_init.sh failed",
        "data": {"rehearsal_outcome": "failed"}}}}))
    window = Recorded(path, rehearsal_journal_path=str(rehearsal_path), rehearsal_required=True)
    with pytest.raises(OmsError, match="refuses to stop the old container: the last rehearsal") as refused:
        window.run()
    assert window.ran == [] and "oms_upgrade_rehearsal_required=false" in refused.value.hint
    assert Recorded(path, rehearsal_journal_path=str(rehearsal_path), rehearsal_required=False).run()["outcome"] == \
        "committed"


def test_a_step_slower_than_its_timeout_has_its_clients_killed_and_rolls_back(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path)
    window = Recorded(path, dump_timeout=1)
    slow = window.action

    def action(step):
        if step != "backup":
            return slow(step)

        def dump(tx):
            window.ran.append(step)
            # a client that would run for a minute: the watchdog kills it after the step's timeout
            subprocess.call(["sleep", "60"])
            return {}, {}
        return dump
    window.action = action
    started = time.time()
    result = window.run()
    assert time.time() - started < 20
    assert result["outcome"] == "rolled_back"
    assert "backup took longer than its timeout of 1 s (dump_timeout)" in result["error"]
    assert "rollback_start_old" in window.ran


def dead_owner(path, **window):
    """A journal whose running window's process is gone (a pid that no longer runs)."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    journal = read(path)
    journal["window"] = dict({"status": "running", "kind": "upgrade", "started_at": "2026-12-04T10:00:00.000Z",
                              "owner": {"pid": gone.pid, "start": "1", "boot": "x"}}, **window)
    path.write_text(json.dumps(journal))


def test_a_window_whose_own_process_died_is_rolled_back_by_the_next_start(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path, stop_old={"status": "done"}, heartbeat_prune={"status": "done"}, backup={"status": "done"},
                  run_new={"status": "done"}, init={"status": "started"})
    dead_owner(path)
    window = Recorded(path)
    result = window.run()
    assert window.ran == ["rollback_stop_new", "rollback_verify", "rollback_restore", "rollback_start_old",
                          "rollback_health", "rollback_ha_on"]
    assert result["outcome"] == "rolled_back" and result["previous_owner_died"]
    assert "own process" in result["error"] and "died during init" in result["error"]
    journal = read(path)
    assert journal["steps"]["init"]["status"] == "failed"
    assert journal["window"]["previous_owner_died"]["step"] == "init"


def test_a_window_whose_own_process_died_after_the_commit_point_is_finished(tmp_path):
    path = tmp_path / "journal.json"
    ready_journal(path, **WINDOW_DONE)
    dead_owner(path)
    window = Recorded(path)
    result = window.run()
    assert window.ran == ["ha_on"] and result["outcome"] == "committed"


def test_the_async_limit_covers_every_timeout_and_the_undo(tmp_path):
    p = dict(stop_timeout=60, dump_timeout=7200, load_timeout=1800, init_ready_timeout=600, init_timeout=1800,
             health_timeout=960, restore_timeout=7200, ha_reload_wait=30, ha_reload="check")
    assert upgrade_window.limit(p) > sum(p[k] for k in p if k.endswith("_timeout"))
    bigger = dict(p, dump_timeout=p["dump_timeout"] + 100)
    assert upgrade_window.limit(bigger) == upgrade_window.limit(p) + 100
