"""oms_journal through ansible-playbook: steps, re-read (oms_journal_info), idempotent done, check mode,
resume, reset."""

import json
import os
import stat

import pytest

STEPS = ["preflight", "stop_old_container", "dump", "run_new"]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "backup" / "journal.json")


def step(run_module, path, name, status, check=False, diff=False, **extra):
    args = dict(path=path, state="step", step=name, status=status, steps=STEPS)
    args.update(extra)
    result = run_module("oms_journal", args, check=check, diff=diff)
    assert not result.failed, result.get("msg")
    return result


def test_read_of_no_journal_is_empty_and_unchanged(path, run_module):
    result = run_module("oms_journal_info", {"path": path, "steps": STEPS})
    assert not result.failed and not result.changed
    assert result["journal"] == {} and result["done_steps"] == []
    assert result["next_step"] == "preflight" and result["exists"] is False
    assert not os.path.exists(path)


def test_steps_are_written_reread_and_done_is_idempotent(path, run_module):
    # check mode first: says what it would write, writes nothing
    planned = step(run_module, path, "stop_old_container", "started", check=True, diff=True)
    assert planned.changed and planned["record"]["status"] == "started"
    assert planned["diff"]["before"] == {} and planned["diff"]["after"]["status"] == "started"
    assert not os.path.exists(path)

    started = step(run_module, path, "stop_old_container", "started")
    assert started.changed
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    t1 = "2024-05-01T10:00:03.401Z"
    done = step(run_module, path, "stop_old_container", "done", data={"t1": t1, "old": "oms_c_411"})
    assert done.changed
    assert done["done_steps"] == ["stop_old_container"]
    assert done["next_step"] == "preflight"
    record = done["record"]
    assert record["status"] == "done" and record["attempts"] == 1
    assert record["started_at"].endswith("Z") and record["finished_at"].endswith("Z")
    assert isinstance(record["duration"], float) and record["duration"] >= 0

    on_disk = json.load(open(path))
    assert on_disk == done["journal"]
    assert on_disk["facts"] == {"t1": t1, "old": "oms_c_411"}

    # the same again, in check mode and for real: nothing changes, the file is untouched
    mtime = os.stat(path).st_mtime_ns
    again_check = step(run_module, path, "stop_old_container", "done", check=True,
                       data={"t1": t1, "old": "oms_c_411"})
    again = step(run_module, path, "stop_old_container", "done", data={"t1": t1, "old": "oms_c_411"})
    assert not again_check.changed and not again.changed
    assert again["note"] == "already done"
    assert os.stat(path).st_mtime_ns == mtime
    # a resumed run that starts a done step again does not lose its data
    restart = step(run_module, path, "stop_old_container", "started")
    assert not restart.changed and restart["record"]["data"]["t1"] == t1

    reread = run_module("oms_journal_info", {"path": path, "steps": STEPS})
    assert not reread.changed
    assert reread["journal"] == on_disk
    assert reread["pending_steps"] == ["preflight", "dump", "run_new"]


def test_a_crashed_step_resumes_as_a_new_attempt(path, run_module):
    step(run_module, path, "preflight", "done")
    step(run_module, path, "stop_old_container", "done", data={"t1": "x"})
    step(run_module, path, "dump", "started")
    # controller killed here; the re-run asks where to resume
    resume = run_module("oms_journal_info", {"path": path, "steps": STEPS})
    assert resume["next_step"] == "dump"
    assert resume["journal"]["steps"]["dump"]["status"] == "started"
    retry = step(run_module, path, "dump", "started")
    assert retry.changed and retry["record"]["attempts"] == 2
    failed = step(run_module, path, "dump", "failed", error="mysqldump exited 2")
    assert failed["record"]["error"] == "mysqldump exited 2"
    assert failed["next_step"] == "dump"
    step(run_module, path, "dump", "started")
    finished = step(run_module, path, "dump", "done", data={"manifest": {"format": 1}})
    assert finished["record"]["attempts"] == 3 and "error" not in finished["record"]
    assert finished["next_step"] == "run_new"


def test_reset_moves_the_journal_aside(path, run_module):
    step(run_module, path, "preflight", "done")
    planned = run_module("oms_journal", {"path": path, "state": "reset"}, check=True)
    assert planned.changed and os.path.exists(path)
    assert planned["previous_path"].startswith(path + ".")
    moved = run_module("oms_journal", {"path": path, "state": "reset"})
    assert moved.changed and not os.path.exists(path)
    assert os.path.exists(moved["previous_path"])
    assert json.load(open(moved["previous_path"]))["steps"]["preflight"]["status"] == "done"
    again = run_module("oms_journal", {"path": path, "state": "reset"})
    assert not again.changed and again["previous_path"] is None


def test_step_without_status_and_a_corrupt_journal_fail_clearly(path, run_module):
    missing = run_module("oms_journal", {"path": path, "state": "step", "step": "x"})
    assert missing.failed and "status" in missing["msg"]
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("{half a journal")
    for name, args in (("oms_journal_info", {"path": path}),
                       ("oms_journal", {"path": path, "step": "preflight", "status": "started"})):
        corrupt = run_module(name, args)
        assert corrupt.failed, name
        assert "not valid JSON" in corrupt["msg"] and "state: reset" in corrupt["msg"]


def test_reading_is_oms_journal_info_s_job(path, run_module):
    read = run_module("oms_journal", {"path": path, "state": "read"})
    assert read.failed and "read" in read["msg"]
    assert not os.path.exists(path)
