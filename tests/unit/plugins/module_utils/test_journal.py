"""The journal's merge, resume and idempotence rules, and its atomic 0600 writes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import stat

import pytest

# Outside ansible-test the collection is importable from the directory scripts/env.sh links.

from ansible_collections.obtools.oms.plugins.module_utils import journal  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

T0 = datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def test_times_are_utc_iso8601_with_z_and_read_back():
    text = journal.iso(at(1.25))
    assert text == "2024-05-01T10:00:01.250Z"
    assert journal.parse_iso(text) == at(1.25)
    assert journal.parse_iso("2024-05-01T12:00:00+02:00") == T0
    assert journal.parse_iso("not a time") is None


def test_started_then_done_records_times_duration_and_data():
    j, changed, _note = journal.apply_step(None, "stop_old", "started", now=at(0))
    assert changed
    assert j["format"] == 1
    assert j["steps"]["stop_old"]["status"] == "started"
    assert j["steps"]["stop_old"]["attempts"] == 1
    facts = {"t1": "x", "old": "oms_411"}
    j, changed, _note = journal.apply_step(j, "stop_old", "done", data=facts, now=at(12.34))
    step = j["steps"]["stop_old"]
    assert changed
    assert step["status"] == "done"
    assert step["started_at"] == "2024-05-01T10:00:00.000Z"
    assert step["finished_at"] == "2024-05-01T10:00:12.340Z"
    assert step["duration"] == 12.3
    assert step["data"] == {"t1": "x", "old": "oms_411"}
    assert j["facts"] == {"t1": "x", "old": "oms_411"}
    assert journal.done_steps(j) == ["stop_old"]


def test_done_again_with_same_data_changes_nothing():
    j = journal.apply_step(None, "dump", "started", now=at(0))[0]
    j = journal.apply_step(j, "dump", "done", data={"files": ["a.sql"]}, now=at(5))[0]
    again, changed, note = journal.apply_step(j, "dump", "done", data={"files": ["a.sql"]}, now=at(99))
    assert not changed
    assert note == "already done"
    assert again == j
    subset, changed, _note = journal.apply_step(j, "dump", "done", data={}, now=at(99))
    assert not changed


def test_done_again_with_new_data_adds_it_and_keeps_the_times():
    j = journal.apply_step(None, "dump", "started", now=at(0))[0]
    j = journal.apply_step(j, "dump", "done", data={"a": 1}, now=at(5))[0]
    j2, changed, note = journal.apply_step(j, "dump", "done", data={"b": 2}, now=at(50))
    assert changed and note == "data added"
    assert j2["steps"]["dump"]["data"] == {"a": 1, "b": 2}
    assert j2["steps"]["dump"]["finished_at"] == j["steps"]["dump"]["finished_at"]


def test_idempotence_ignores_facts_overwritten_by_a_later_step():
    j = journal.apply_step(None, "a", "done", data={"x": 1}, now=at(0))[0]
    j = journal.apply_step(j, "b", "done", data={"x": 2}, now=at(1))[0]
    _new, changed, _note = journal.apply_step(j, "a", "done", data={"x": 1}, now=at(2))
    assert not changed


def test_started_on_a_done_step_keeps_it_unless_forced():
    j = journal.apply_step(None, "stop_old", "done", data={"t1": "x"}, now=at(0))[0]
    same, changed, note = journal.apply_step(j, "stop_old", "started", now=at(10))
    assert not changed and note == "already done" and same is j
    forced, changed, _note = journal.apply_step(j, "stop_old", "started", force=True, now=at(10))
    assert changed
    assert forced["steps"]["stop_old"]["status"] == "started"
    assert forced["steps"]["stop_old"]["attempts"] == 2
    assert forced["steps"]["stop_old"]["data"] == {"t1": "x"}  # data survives a new attempt


def test_a_crashed_step_is_retried_as_a_new_attempt():
    j = journal.apply_step(None, "dump", "started", now=at(0))[0]
    # the controller died here; the re-run starts the step again
    j, changed, _note = journal.apply_step(j, "dump", "started", now=at(100))
    assert changed
    assert j["steps"]["dump"]["attempts"] == 2
    assert j["steps"]["dump"]["started_at"] == journal.iso(at(100))
    j = journal.apply_step(j, "dump", "done", now=at(103))[0]
    assert j["steps"]["dump"]["duration"] == 3.0


def test_failed_records_the_error_and_a_later_done_clears_it():
    j = journal.apply_step(None, "init", "started", now=at(0))[0]
    j, changed, _note = journal.apply_step(j, "init", "failed", error="rc=1", now=at(2))
    assert changed and j["steps"]["init"]["error"] == "rc=1"
    assert journal.done_steps(j) == []
    _new, changed, _note = journal.apply_step(j, "init", "failed", error="rc=1", now=at(3))
    assert not changed
    j = journal.apply_step(j, "init", "started", now=at(10))[0]
    j = journal.apply_step(j, "init", "done", now=at(11))[0]
    assert "error" not in j["steps"]["init"]


def test_pending_steps_say_where_a_rerun_resumes():
    order = ["preflight", "ha_off", "stop_old", "dump", "run_new"]
    j = None
    for name in order[:3]:
        j = journal.apply_step(j, name, "done", now=at(1))[0]
    j = journal.apply_step(j, "dump", "started", now=at(2))[0]
    assert journal.pending_steps(j, order) == ["dump", "run_new"]
    assert journal.done_steps(j) == ["preflight", "ha_off", "stop_old"]
    assert journal.pending_steps({}, order) == order


def test_summary_is_what_both_journal_modules_return():
    order = ["preflight", "ha_off"]
    j = journal.apply_step(None, "preflight", "done", now=at(1))[0]
    assert journal.summary(j, order) == {"journal": j, "done_steps": ["preflight"],
                                         "pending_steps": ["ha_off"], "next_step": "ha_off"}
    assert journal.summary(None) == {"journal": {}, "done_steps": []}
    assert journal.summary(j, ["preflight"])["next_step"] is None


def test_done_without_started_takes_no_time():
    j, changed, _note = journal.apply_step(None, "preflight", "done", now=at(5))
    assert changed
    assert j["steps"]["preflight"]["duration"] == 0.0
    assert j["steps"]["preflight"]["attempts"] == 1


def test_bad_status_and_data_are_refused():
    with pytest.raises(OmsError):
        journal.apply_step(None, "x", "finished")
    with pytest.raises(OmsError):
        journal.apply_step(None, "", "done")


def test_apply_does_not_mutate_its_input():
    j = journal.apply_step(None, "a", "started", now=at(0))[0]
    snapshot = json.dumps(j, sort_keys=True)
    journal.apply_step(j, "a", "done", data={"k": "v"}, now=at(1))
    assert json.dumps(j, sort_keys=True) == snapshot


def test_write_is_atomic_0600_and_round_trips(tmp_path):
    path = str(tmp_path / "backup" / "journal.json")
    j = journal.apply_step(None, "a", "done", data={"t1": "x"}, now=at(0))[0]
    journal.write(path, j)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) & 0o077 == 0
    assert journal.load(path) == j
    # no temporary files left behind
    assert os.listdir(os.path.dirname(path)) == ["journal.json"]


def test_a_failed_write_leaves_the_old_journal_whole(tmp_path, monkeypatch):
    path = str(tmp_path / "journal.json")
    old = journal.apply_step(None, "a", "done", now=at(0))[0]
    journal.write(path, old)
    new = journal.apply_step(old, "b", "done", now=at(1))[0]

    def broken_rename(src, dst):
        raise OSError("disk gone")
    monkeypatch.setattr(journal.os, "rename", broken_rename)
    with pytest.raises(OmsError, match="disk gone"):
        journal.write(path, new)
    monkeypatch.undo()
    assert journal.load(path) == old
    assert os.listdir(str(tmp_path)) == ["journal.json"]


def test_load_absent_is_none_and_garbage_is_a_clear_error(tmp_path):
    assert journal.load(str(tmp_path / "none.json")) is None
    bad = tmp_path / "bad.json"
    bad.write_text("{half")
    with pytest.raises(OmsError) as err:
        journal.load(str(bad))
    assert "not valid JSON" in err.value.msg
    assert "reset" in err.value.hint
    other = tmp_path / "other.json"
    other.write_text('{"steps": []}')
    with pytest.raises(OmsError):
        journal.load(str(other))


def test_move_aside_keeps_the_file_under_a_timestamped_name(tmp_path):
    path = str(tmp_path / "journal.json")
    assert journal.move_aside(path) is None
    journal.write(path, journal.empty(T0))
    first = journal.move_aside(path, now=T0)
    assert first == path + ".20240501T100000Z"
    journal.write(path, journal.empty(T0))
    second = journal.move_aside(path, now=T0)
    assert second == path + ".20240501T100000Z.1"
    assert not os.path.exists(path)
    assert os.path.exists(first) and os.path.exists(second)
