"""resume: the re-run finished the upgrade without redoing what was done."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_upgraded(host):
    checks.assert_upgraded(checks.describe(checks.instance_of(host)))


def test_every_step_done_and_nothing_before_the_kill_redone(host):
    steps = checks.journal(checks.describe(checks.instance_of(host)))["steps"]
    assert [s for s in steps if steps[s]["status"] != "done"] == []
    # The controller was killed once the dump was done: the re-run must not stop, prune or dump
    # again (a step caught in flight by the kill may run twice; that is what resume is for).
    before_kill = ["image_load", "ha_off", "stop_old", "heartbeat_prune", "backup"]
    assert {s: steps[s]["attempts"] for s in before_kill} == dict.fromkeys(before_kill, 1)
