"""resume: the re-run finished the upgrade without redoing what was done."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_upgraded(host):
    checks.assert_upgraded(checks.describe(checks.instance_of(host)))


def test_every_step_ran_once(host):
    steps = checks.journal(checks.describe(checks.instance_of(host)))["steps"]
    assert [s for s in steps if steps[s]["status"] != "done"] == []
    assert all(steps[s]["attempts"] == 1 for s in steps), {s: steps[s]["attempts"] for s in steps}
