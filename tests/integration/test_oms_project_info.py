"""oms_project_info against the simulator's OpenAPI: paging, credentials, faults, HTTPS."""

import pytest

from conftest import INSTANCE


def console_args(desc, **extra):
    args = {"console_url": desc["console_url"], "console_user": desc["console_user"],
            "console_password": desc["console_password"]}
    args.update(extra)
    return args


def test_lists_every_project_across_pages(instance, run_module):
    whole = run_module("oms_project_info", console_args(instance, page_size=150))
    assert not whole.failed, whole.get("msg")
    assert not whole.changed
    total = whole["total"]
    assert total == len(whole["projects"]) >= 3, "the simulator keeps a few projects"
    # a page smaller than the project count: several ListProjects calls, same answer
    paged = run_module("oms_project_info", console_args(instance, page_size=total - 1))
    assert not paged.failed, paged.get("msg")
    assert paged["projects"] == whole["projects"]
    assert paged["total"] == total
    assert set(paged["states"]) == set(p["id"] for p in whole["projects"])
    assert all(p["status"] in ("INIT", "RUNNING", "SUSPEND", "FAILED", "FINISHED", "RELEASING",
                               "RELEASED", "DELETED") for p in paged["projects"])
    one = run_module("oms_project_info", console_args(instance, page_size=1))
    assert [p["id"] for p in one["projects"]] == [p["id"] for p in whole["projects"]]


def test_selects_projects_by_id_and_reports_unknown_ids(instance, run_module):
    everything = run_module("oms_project_info", console_args(instance))
    first = everything["projects"][0]["id"]
    some = run_module("oms_project_info", console_args(instance, project_ids=[first, "np_nope"]))
    assert not some.failed, some.get("msg")
    assert [p["id"] for p in some["projects"]] == [first]
    assert some["missing_ids"] == ["np_nope"]
    assert some["total"] == everything["total"]


def test_plain_http_is_warned_about(instance, run_module):
    assert instance["console_url"].startswith("http://")
    result = run_module("oms_project_info", console_args(instance))
    assert not result.failed, result.get("msg")
    assert any("in clear" in w for w in result.get("warnings", []))
    assert instance["console_password"] not in " ".join(result.get("warnings", []))


def test_check_mode_reads_the_same_and_changes_nothing(instance, run_module):
    real = run_module("oms_project_info", console_args(instance))
    checked = run_module("oms_project_info", console_args(instance), check=True)
    assert not checked.failed and not checked.changed
    assert checked["states"] == real["states"]


def test_wrong_password_fails_with_a_credentials_message(instance, run_module):
    wrong = "not-the-password-%s" % INSTANCE
    result = run_module("oms_project_info", console_args(instance, console_password=wrong))
    assert result.failed
    assert "refused the credentials of user 'admin'" in result["msg"]
    assert "HTTP 401" in result["msg"]
    assert "console_password" in result["msg"]
    assert wrong not in result["msg"]
    assert wrong not in result.output


def test_openapi_refused_fails_with_omss_code_message_and_advice(instance, testbed, run_module):
    testbed.set_faults(INSTANCE, ["openapi_refuse"])
    try:
        result = run_module("oms_project_info", console_args(instance))
    finally:
        testbed.set_faults(INSTANCE, [])
    assert result.failed
    assert "OMS OpenAPI ListProjects failed: [GHANA-SYS000503]" in result["msg"]
    assert "injected fault openapi_refuse" in result["msg"]
    assert result["hint"] == "Try again later"
    assert result["code"] == "GHANA-SYS000503"


def test_unreachable_console_says_so(instance, run_module):
    args = console_args(instance, console_url="http://127.0.0.1:9", request_timeout=5)
    result = run_module("oms_project_info", args)
    assert result.failed
    assert "Cannot reach the OMS console at http://127.0.0.1:9" in result["msg"]


@pytest.fixture
def https_instance(testbed, instance):
    desc = testbed.reset(INSTANCE, ssl=True)
    yield desc
    testbed.reset(INSTANCE)


def test_https_with_the_ca_file_and_without_it(https_instance, run_module):
    desc = https_instance
    assert desc["console_url"].startswith("https://")
    trusted = run_module("oms_project_info", console_args(desc, ca_path=desc["ssl_certificate"]))
    assert not trusted.failed, trusted.get("msg")
    assert trusted["total"] >= 1
    assert not any("in clear" in w for w in trusted.get("warnings", []))
    untrusted = run_module("oms_project_info", console_args(desc))
    assert untrusted.failed
    assert "TLS to the OMS console" in untrusted["msg"] and "ca_path" in untrusted["msg"]
    assert "certificate verify failed" in untrusted["msg"]
    assert desc["console_password"] not in untrusted.output
    unchecked = run_module("oms_project_info", console_args(desc, validate_certs=False))
    assert not unchecked.failed, unchecked.get("msg")


LAGGING = "np_4xtbsim0001"      # mysql_orders_to_ob, a RUNNING migration
SYNCING = "np_4xtbsim0002"      # ob_users_to_kafka, a RUNNING synchronization


def test_restrictions_pass_on_projects_in_quasi_real_time(instance, run_module):
    result = run_module("oms_project_info", console_args(instance, check_restrictions=True))
    assert not result.failed, result.get("msg")
    found = result["restrictions"]
    assert found["ok"] and found["refused"] == [] and found["max_sync_delay"] == 300
    checked = {p["id"]: p for p in found["projects"]}
    assert checked[LAGGING]["switchover"] == "FINISHED" and checked[LAGGING]["delay"] < 30
    assert checked[SYNCING]["switchover"] is None
    assert any("SUSPEND, not synchronizing" in w for w in found["warnings"])
    assert "dbType" in found["notes"][0]


def test_a_lagging_project_and_a_pending_switchover_are_refused_by_name(testbed, instance,
                                                                        run_module):
    testbed.set_faults(INSTANCE, ["sync_delay=%s:900" % LAGGING, "switchover_pending=%s" % SYNCING])
    try:
        result = run_module("oms_project_info", console_args(instance, check_restrictions=True))
        assert result.failed
        assert "mysql_orders_to_ob (np_4xtbsim0001): incremental synchronization" in result["msg"]
        assert "over the allowed 300 s" in result["msg"]
        assert "oms_upgrade_ignore_project_restrictions: true" in result["msg"]
        # a SYNC project has no forward switchover step: the fault cannot make it pending
        assert "ob_users_to_kafka" not in result["msg"]
        delay = [p for p in result["restrictions"]["projects"] if p["id"] == LAGGING][0]["delay"]
        assert 895 <= delay <= 960
        testbed.set_faults(INSTANCE, ["switchover_pending=%s" % LAGGING])
        pending = run_module("oms_project_info", console_args(instance, check_restrictions=True))
        assert pending.failed and "forward switchover not completed" in pending["msg"]
        testbed.set_faults(INSTANCE, ["sync_delay=%s:900" % LAGGING])
        allowed = run_module("oms_project_info", console_args(
            instance, check_restrictions=True, max_sync_delay=1000))
        assert not allowed.failed and allowed["restrictions"]["ok"]
        going_on = run_module("oms_project_info", console_args(
            instance, check_restrictions=True, fail_on_restrictions=False))
        assert not going_on.failed and not going_on["restrictions"]["ok"]
        assert "mysql_orders_to_ob" in going_on["restrictions"]["refused"][0]
    finally:
        testbed.set_faults(INSTANCE, [])
