"""The run lock: one holder at a time, re-entrant for its own run, replaced only when named."""
import multiprocessing
import os

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import run_lock
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
