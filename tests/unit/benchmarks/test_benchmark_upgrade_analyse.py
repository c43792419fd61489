"""benchmarks/obbench/upgrade.analyse: where the downtime window goes, from the role's journal.
The new container's boot until supervisorctl answers is OMS's work, not our overhead."""

import datetime
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))

from obbench import upgrade  # noqa: E402  pylint: disable=wrong-import-position

T1 = datetime.datetime(2026, 1, 2, 10, 0, 0, tzinfo=datetime.timezone.utc)


def at(seconds):
    """The journal's time format, `seconds` after T1."""
    moment = T1 + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def journal(ready_at=None, init_data=None):
    def step(start, end, **data):
        return {"status": "done", "started_at": at(start), "finished_at": at(end), "data": data}
    init = dict(init_duration=6.0, init_attempts=1, ready_probe="supervisorctl",
                ready_wait_seconds=0.5, ready_at=at(ready_at) if ready_at is not None else None)
    init.update(init_data or {})
    return {"facts": {"t1": at(0)}, "steps": {
        "stop_old": step(-0.3, 0.2, t1=at(0)),
        "backup": step(1.0, 2.0, manifest={"duration": 0.9}),
        "run_new": step(3.0, 4.5),
        "init": step(5.5, 12.0, **init),
        "health": step(13.0, 13.5),
        "ha_on": step(14.5, 15.0),
    }}


def by_step(result):
    return {s["step"]: s for s in result["steps"]}


def test_without_ready_at_run_new_works_only_the_engine_start():
    result = upgrade.analyse(journal(init_data={"ready_at": None, "ready_probe": "none"}),
                             engine_start=0.3)
    steps = by_step(result)
    assert steps["run_new"]["work"] == 0.3
    assert steps["run_new"]["work_source"] == "docker create -> running (engine)"
    assert steps["init"]["work"] == 6.0
    assert result["boot_seconds"] is None
    # stop_old 0 + dump 0.9 + engine 0.3 + docker_init.sh 6.0 + health 0.5 + ha_on 0.5
    assert result["work_total"] == pytest.approx(8.2)
    assert result["overhead"] == pytest.approx(15.0 - 8.2)


def test_the_boot_until_supervisorctl_answers_is_work_through_the_gap_and_the_probe():
    result = upgrade.analyse(journal(ready_at=6.0), engine_start=0.3)
    steps = by_step(result)
    # run_new starts at 3.0, supervisorctl answered at 6.0: 1.5 s of step, 1.0 s of gap and
    # 0.5 s of the init step's probe are OMS booting
    assert steps["run_new"]["work"] == 3.0
    assert steps["run_new"]["work_source"] == upgrade.BOOT_SOURCE
    # docker_init.sh's own time starts after ready_at: not counted twice
    assert steps["init"]["work"] == 6.0
    assert result["boot_seconds"] == 3.0
    assert result["start_seconds"] == 0.3
    assert result["work_total"] == pytest.approx(10.9)
    assert result["overhead"] == pytest.approx(15.0 - 10.9)


def test_a_boot_shorter_than_the_engine_start_keeps_the_engine_figure():
    steps = by_step(upgrade.analyse(journal(ready_at=3.2), engine_start=0.3))
    assert steps["run_new"]["work"] == 0.3
    assert steps["run_new"]["work_source"] == "docker create -> running (engine)"


def test_the_boot_is_clipped_to_the_window():
    result = upgrade.analyse(journal(ready_at=20.0), engine_start=0.3)
    assert by_step(result)["run_new"]["work"] == 12.0  # 3.0 -> the window's end at 15.0
    assert result["boot_seconds"] == 12.0


def test_without_the_engine_figure_the_step_or_the_longer_boot_counts():
    steps = by_step(upgrade.analyse(journal(ready_at=4.0)))
    assert steps["run_new"]["work"] == 1.5 and steps["run_new"]["work_source"] == "step"
    steps = by_step(upgrade.analyse(journal(ready_at=6.0)))
    assert steps["run_new"]["work"] == 3.0
    assert steps["run_new"]["work_source"] == upgrade.BOOT_SOURCE


def rollback_journal(health_done=True):
    def step(start, end):
        return {"status": "done", "started_at": at(start), "finished_at": at(end)}
    steps = {"rollback_verify": step(90.0, 91.0), "rollback_stage": step(91.0, 99.9),
             "rollback_ha_off": step(100, 100.2), "rollback_stop_new": step(100.2, 101.0),
             "rollback_restore": step(101.0, 110.0),
             "rollback_start_old": step(110.0, 111.0), "rollback_ha_on": step(118.0, 118.3)}
    if health_done:
        steps["rollback_health"] = step(111.0, 118.0)
    return {"facts": {"t1": at(0), "t3": at(101.0)}, "steps": steps}


def test_the_rollback_window_runs_from_t3_to_4_1_1_online():
    result = upgrade.analyse_rollback(rollback_journal())
    assert result["rollback_window"] == pytest.approx(17.0)
    by_step = dict((s["step"], s["seconds"]) for s in result["rollback_steps"])
    assert by_step["rollback_restore"] == pytest.approx(9.0)
    assert [s["step"] for s in result["rollback_steps"]] == [
        "rollback_verify", "rollback_stage", "rollback_ha_off", "rollback_stop_new", "rollback_restore",
        "rollback_start_old", "rollback_health", "rollback_ha_on"]
    # the load ahead ran while 4.2.0 served: outside the window
    before = [s["step"] for s in result["rollback_steps"] if s["before_t3"]]
    assert before == ["rollback_verify", "rollback_stage", "rollback_ha_off", "rollback_stop_new"]


def test_a_rollback_that_did_not_reach_online_has_no_window():
    assert upgrade.analyse_rollback(rollback_journal(health_done=False)) is None


def test_the_window_ends_at_t2_not_after_the_reload_check():
    """Step 8 writes ha.config at T2, then waits (up to oms_ha_reload_wait, 30 s) for a sign that
    OMS took it: HA is on and OMS serves meanwhile, so that wait is not downtime."""
    waited = journal()
    waited["steps"]["ha_on"] = dict(waited["steps"]["ha_on"], finished_at=at(44.6),
                                    data={"t2": at(14.6)})
    result = upgrade.analyse(waited, engine_start=0.3)
    assert result["window"] == pytest.approx(14.6)
    assert by_step(result)["ha_on"]["seconds"] == pytest.approx(0.1)
    # without data.t2 (a journal of before it), the step's end
    assert upgrade.analyse(journal(), engine_start=0.3)["window"] == pytest.approx(15.0)
