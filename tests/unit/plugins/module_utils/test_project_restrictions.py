"""The documented upgrade restrictions over OpenAPI answers (pure logic, the docs' shapes)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import project_restrictions as pr

NOW = 1700000000


def steps(incr_checkpoint=None, switch=None, incr_status="MONITORING"):
    out = [{"order": 1, "name": "TRANSFER_PRECHECK", "status": "FINISHED", "stepInfo": None},
           {"order": 4, "name": "FULL_TRANSFER", "status": "FINISHED", "stepInfo": {}}]
    info = None
    if incr_checkpoint is not None:
        info = {"incrTimestampCheckpoint": incr_checkpoint,
                "checkpointSampleTimestamp": incr_checkpoint + 1}
    out.append({"order": 6, "name": "INCR_TRANSFER", "status": incr_status, "stepInfo": info})
    if switch:
        out.append({"order": 8, "name": "TRANSFER_APP_SWITCH", "status": switch, "stepInfo": None})
    return out


def project(pid, status="RUNNING", name=None):
    return {"id": pid, "name": name or "p_%s" % pid, "status": status}


def one(status, step_list, progress, max_delay=300):
    p = project("np_1", status, "orders")
    return pr.check([p], {"np_1": {"steps": step_list, "progress": progress}}, NOW, max_delay)


def test_a_project_in_quasi_real_time_with_switchover_done_passes():
    result = one("RUNNING", steps(NOW - 5, "FINISHED"), {"incrSyncCheckpoint": NOW - 3})
    assert result["ok"] and result["refused"] == [] and result["projects"][0]["delay"] == 5
    assert result["projects"][0]["switchover"] == "FINISHED"


def test_a_lagging_project_is_refused_by_name_with_its_delay():
    result = one("RUNNING", steps(NOW - 900), {"incrSyncCheckpoint": NOW - 900})
    assert not result["ok"]
    assert result["refused"] == [
        "orders (np_1): incremental synchronization 900 s behind, over the allowed 300 s. Wait "
        "until it catches up (or find why it lags) before the upgrade"]


def test_the_delay_limit_is_the_dbas_and_is_inclusive():
    assert one("RUNNING", steps(NOW - 300), {})["ok"]
    assert not one("RUNNING", steps(NOW - 301), {})["ok"]
    assert one("RUNNING", steps(NOW - 900), {}, max_delay=1000)["ok"]


def test_the_older_checkpoint_counts():
    result = one("RUNNING", steps(NOW - 10), {"incrSyncCheckpoint": NOW - 400})
    assert result["projects"][0]["delay"] == 400 and not result["ok"]


def test_millisecond_checkpoints_are_read_as_seconds():
    result = one("RUNNING", steps((NOW - 20) * 1000), {})
    assert result["projects"][0]["delay"] == 20


@pytest.mark.parametrize("switch", ["INIT", "RUNNING", "FAILED", "SUSPEND"])
def test_a_pending_forward_switchover_is_refused_even_when_in_sync(switch):
    result = one("RUNNING", steps(NOW - 1, switch), {})
    assert result["refused"] == [
        "orders (np_1): forward switchover not completed (step TRANSFER_APP_SWITCH is %s). "
        "Complete the forward switchover on the current OMS first; OMS does not recommend the "
        "new version doing it" % switch]


def test_a_suspended_project_warns_but_its_pending_switchover_still_refuses():
    result = one("SUSPEND", steps(NOW - 99999, "FINISHED"), {})
    assert result["ok"] and "orders (np_1) is SUSPEND, not synchronizing" in result["warnings"][0]
    result = one("SUSPEND", steps(NOW - 99999, "INIT"), {})
    assert not result["ok"]


def test_a_running_project_without_checkpoint_is_refused_naming_its_step():
    result = one("RUNNING", steps(None, incr_status="INIT"), {"currentStep": "FULL_TRANSFER"})
    assert "not yet synchronizing incrementally (current step FULL_TRANSFER)" in result["refused"][0]


@pytest.mark.parametrize("status", ["FINISHED", "RELEASED", "DELETED", "RELEASING"])
def test_done_projects_are_not_checked(status):
    result = one(status, steps(NOW - 99999, "INIT"), {})
    assert result["ok"] and result["warnings"] == []
    assert not pr.needs_details(project("x", status))


def test_every_offending_project_is_named_and_the_dbtype_restriction_is_a_note():
    projects = [project("a", name="fast"), project("b", name="slow"), project("c", name="half")]
    details = {"a": {"steps": steps(NOW - 1)}, "b": {"steps": steps(NOW - 4000)},
               "c": {"steps": steps(NOW - 1, "INIT")}}
    result = pr.check(projects, details, NOW)
    assert [r.split(":")[0] for r in result["refused"]] == ["slow (b)", "half (c)"]
    message = pr.refusal_message(result, "oms_upgrade_ignore_project_restrictions")
    assert "slow (b)" in message and "half (c)" in message
    assert "oms_upgrade_ignore_project_restrictions: true" in message
    assert "dbType" in result["notes"][0] and "400.faq.md" in result["notes"][0]
