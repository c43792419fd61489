"""The run lock: one holder at a time, re-entrant for its own run, replaced only when named."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json
import multiprocessing
import os
import subprocess

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import process_owner, run_lock
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

A = {"run": "ctl:100:1", "controller": "ctl", "pid": 100, "what": "upgrade"}
B = {"run": "ctl2:200:1", "controller": "ctl2", "pid": 200, "what": "rollback"}


def test_free_lock_is_taken_and_a_second_run_is_refused_naming_the_holder(tmp_path):
    path = str(tmp_path / "backup" / "oms_run.lock")
    acquired, record, previous, changed = run_lock.acquire(path, A)
    assert (acquired, previous, changed) == (True, None, True)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    acquired, record, _previous, changed = run_lock.acquire(path, B)
    assert (acquired, changed) == (False, False)
    assert record["run"] == A["run"] and record["controller"] == "ctl" and record["started_at"]


def test_same_run_is_reentrant_and_release_by_another_run_changes_nothing(tmp_path):
    path = str(tmp_path / "oms_run.lock")
    run_lock.acquire(path, A)
    assert run_lock.acquire(path, dict(A, what="rollback"))[:2][0] is True
    assert run_lock.release(path, B["run"])[0] is False
    assert run_lock.read(path)["run"] == A["run"]
    assert run_lock.release(path, A["run"])[0] is True
    assert not os.path.exists(path)  # the backup directory is left as it was found
    assert run_lock.read(path) is None


def test_break_run_replaces_only_the_named_holder(tmp_path):
    path = str(tmp_path / "oms_run.lock")
    run_lock.acquire(path, A)
    assert run_lock.acquire(path, B, break_run="someone-else")[0] is False
    acquired, record, previous, changed = run_lock.acquire(path, B, break_run=A["run"])
    assert (acquired, record["run"], previous["run"], changed) == (True, B["run"], A["run"], True)


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "sub" / "oms_run.lock")
    assert run_lock.acquire(path, A, check=True)[0] is True
    assert not os.path.exists(os.path.dirname(path))
    run_lock.acquire(path, A)
    assert run_lock.release(path, A["run"], check=True)[0] is True
    assert run_lock.read(path)["run"] == A["run"]


def test_a_record_without_run_is_refused(tmp_path):
    with pytest.raises(OmsError):
        run_lock.acquire(str(tmp_path / "l"), {"controller": "x"})
    path = tmp_path / "l2"
    path.write_text("not json")
    with pytest.raises(OmsError):
        run_lock.read(str(path))


def _race(path, run, barrier, out):
    barrier.wait()
    out.put((run, run_lock.acquire(path, {"run": run})[0]))


def test_runs_starting_together_get_one_holder(tmp_path):
    path = str(tmp_path / "oms_run.lock")
    for dummy_round in range(5):
        barrier, out = multiprocessing.Barrier(6), multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_race, args=(path, "r%d" % i, barrier, out)) for i in range(6)]
        for p in procs:
            p.start()
        results = dict(out.get(timeout=30) for dummy in procs)
        for p in procs:
            p.join()
        winners = [r for r, ok in results.items() if ok]
        assert len(winners) == 1 and run_lock.read(path)["run"] == winners[0]
        run_lock.release(path, winners[0])


# Liveness, judged on the OMS host (the controller may be another machine, or a job pod gone
# with its processes): traces fresher than stale_seconds, or a window whose process still runs.

def _age(paths, seconds):
    past = os.path.getmtime(paths[0]) - seconds
    for p in paths:
        if os.path.exists(p):
            os.utime(p, (past, past))


def _journal(path, window):
    with open(path, "w") as handle:
        json.dump({"steps": {}, "window": window}, handle)


def test_a_silent_holder_is_taken_over_a_fresh_one_is_not(tmp_path):
    journal = str(tmp_path / "oms_upgrade_journal.json")
    path = journal + ".lock"
    run_lock.acquire(path, A)
    _journal(journal, {"status": "ended"})
    assert run_lock.acquire(path, B, stale_seconds=60)[0] is False
    live = run_lock.liveness(path, 60)
    assert live["alive"] and live["heartbeat_age"] < 5 and "sign of life" in live["why"]
    _age([path, journal], 30)  # the journal's write is a trace too: still fresh at 30 s
    assert run_lock.acquire(path, B, stale_seconds=60)[0] is False
    _age([path, journal], 61)
    assert run_lock.liveness(path, 60)["alive"] is False
    assert run_lock.acquire(path, B, stale_seconds=0)[0] is False  # 0: never by itself
    acquired, record, previous, changed = run_lock.acquire(path, B, stale_seconds=60)
    assert (acquired, record["run"], previous["run"], changed) == (True, B["run"], A["run"], True)


def test_a_holder_whose_work_still_runs_here_is_alive_however_silent(tmp_path):
    journal = str(tmp_path / "oms_upgrade_journal.json")
    path = journal + ".lock"
    run_lock.acquire(path, A)
    worker = subprocess.Popen(["sleep", "60"])
    try:
        owner = {"pid": worker.pid, "start": process_owner.process_start(worker.pid),
                 "boot": process_owner._read(process_owner.BOOT_ID)}
        _journal(journal, {"status": "running", "owner": owner})
        _age([path, journal], 1000)
        live = run_lock.liveness(path, 60)
        assert live["alive"] and live["working"] == ["window"] and "window still runs" in live["why"]
        assert run_lock.acquire(path, B, stale_seconds=60)[0] is False
        # a window that ended is no sign of life, even while that process runs
        _journal(journal, {"status": "ended", "owner": owner})
        _age([path, journal], 1000)
        assert run_lock.liveness(path, 60)["alive"] is False
        # a pid reused by another process (another start time) is not its owner
        _journal(journal, {"status": "running", "owner": dict(owner, start="1")})
        _age([path, journal], 1000)
        assert run_lock.liveness(path, 60)["alive"] is False
    finally:
        worker.kill()
        worker.wait()
    _journal(journal, {"status": "running", "owner": owner})
    _age([path, journal], 1000)
    assert run_lock.acquire(path, B, stale_seconds=60)[0] is True


def test_taking_the_lock_again_is_the_holders_heartbeat(tmp_path):
    path = str(tmp_path / "oms_upgrade_journal.json.lock")
    run_lock.acquire(path, A)
    _age([path], 1000)
    assert run_lock.acquire(path, A, stale_seconds=60)[0] is True
    assert run_lock.liveness(path, 60)["heartbeat_age"] < 5
