"""oms_server_health on the test bed: a running 4.1.1 is online; a stopped one goes stale."""

import subprocess
import time

from conftest import INSTANCE


def metadb_args(desc, **extra):
    meta = desc["metadb"]
    args = {"login_host": meta["host"], "login_port": meta["port"], "login_user": meta["user"],
            "login_password": meta["password"], "cm_db": meta["cm_db"],
            "cm_hb_db": meta["cm_hb_db"]}
    args.update(extra)
    return args


def with_console(desc, args):
    args.update(console_url=desc["console_url"], console_user=desc["console_user"],
                console_password=desc["console_password"])
    return args


def test_running_411_is_online(instance, run_module):
    result = run_module("oms_server_health", metadb_args(instance, timeout=60, interval=1))
    assert not result.failed, result.get("msg")
    assert not result.changed
    assert result["healthy"] is True
    assert result["console_healthy"] is None
    [server] = result["servers"]
    assert server["ip"] == instance["oms_host_ip"]
    assert server["host_status"] == "ONLINE"
    assert server["online"] and server["reasons"] == []
    assert 0 <= server["heartbeat_age"] < 60


def test_config_file_and_console_health_url(instance, run_module):
    args = with_console(instance, {"config_file": instance["config_file"], "timeout": 60,
                                   "interval": 1})
    result = run_module("oms_server_health", args)
    assert not result.failed, result.get("msg")
    assert result["healthy"] is True
    assert result["console_healthy"] is True
    checked = run_module("oms_server_health", dict(args, wait=False), check=True)
    assert not checked.failed and not checked.changed and checked["healthy"]


def test_stopped_container_goes_stale_and_wait_fails_with_a_table(instance, run_module):
    subprocess.run(["docker", "stop", "-t", "5", instance["old_container"]], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(4)
    report = run_module("oms_server_health", with_console(
        instance, metadb_args(instance, wait=False, heartbeat_max_age=3, request_timeout=5)))
    assert not report.failed, report.get("msg")
    assert not report.changed
    assert report["healthy"] is False
    [server] = report["servers"]
    assert not server["online"]
    assert server["heartbeat_age"] > 3
    assert any("supervisor heartbeat" in r for r in server["reasons"])
    assert report["console_healthy"] is False
    assert any("Cannot reach the OMS console" in p for p in report["problems"])

    started = time.monotonic()
    waited = run_module("oms_server_health", metadb_args(instance, timeout=4, interval=1,
                                                         heartbeat_max_age=3))
    assert time.monotonic() - started < 60
    assert waited.failed
    assert not waited.changed
    assert "not all online after" in waited["msg"]
    table = waited["table"].splitlines()
    assert table[0].split() == ["server", "host_status", "heartbeat", "why"]
    assert table[1].startswith(instance["oms_host_ip"])
    assert "supervisor heartbeat" in table[1]
    assert waited["table"] in waited["msg"]
    assert waited["polls"] >= 2


def test_server_never_online_fault_is_reported(instance, testbed, run_module):
    testbed.set_faults(INSTANCE, ["never_online"])
    try:
        deadline = time.monotonic() + 30
        while True:
            report = run_module("oms_server_health", with_console(
                instance, metadb_args(instance, wait=False)))
            if not report["healthy"] or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        testbed.set_faults(INSTANCE, [])
    assert report["healthy"] is False
    assert report["servers"][0]["host_status"] != "ONLINE"
    assert "host_status is" in report["servers"][0]["reasons"][0]
    assert report["console_healthy"] is False


def test_wrong_metadb_password_fails_at_once(instance, run_module):
    started = time.monotonic()
    result = run_module("oms_server_health", metadb_args(instance, login_password="wrong",
                                                         timeout=300))
    assert result.failed
    assert time.monotonic() - started < 60, "must not wait for the timeout"
    assert "refused the login" in result["msg"]


def test_missing_database_names_are_asked_for(instance, run_module):
    args = metadb_args(instance)
    del args["cm_hb_db"]
    result = run_module("oms_server_health", args)
    assert result.failed
    assert "cm_hb_db" in result["msg"]


# -- the unfavourable sides: no /oms/health, the old container's last heartbeat -----------------

def test_without_oms_health_the_openapi_and_metadb_decide_and_it_says_so(instance, testbed,
                                                                         run_module):
    testbed.set_faults(INSTANCE, ["no_health_endpoint"])
    try:
        args = with_console(instance, metadb_args(instance, timeout=60, interval=1))
        result = run_module("oms_server_health", args)
        assert not result.failed, result.get("msg")
        assert result["healthy"] is True and result["console_healthy"] is True
        assert any("OpenAPI ListProjects" in s and "404" in s for s in result["signals"])
        assert any(".host host_status" in s for s in result["signals"])
        # no password: only the MetaDB is judged, and the result says so
        bare = dict(args)
        del bare["console_password"]
        partial = run_module("oms_server_health", bare)
        assert not partial.failed, partial.get("msg")
        assert partial["console_healthy"] is None
        assert partial["notes"] and "404" in partial["notes"][0]
        # the OpenAPI refusing now makes the console unhealthy
        testbed.set_faults(INSTANCE, ["no_health_endpoint", "openapi_refuse"])
        refused = run_module("oms_server_health", dict(args, wait=False))
        assert refused["healthy"] is False and refused["console_healthy"] is False
        assert any("ListProjects" in p for p in refused["problems"])
    finally:
        testbed.set_faults(INSTANCE, [])


def test_the_old_containers_last_heartbeat_does_not_pass_for_a_new_start(instance, run_module):
    """A heartbeat younger than heartbeat_max_age but written before started_after (the old
    container's last) is refused until a live writer advances it."""
    subprocess.run(["docker", "stop", "-t", "5", instance["old_container"]], check=True,
                   stdout=subprocess.DEVNULL)
    now = run_module("oms_server_health", metadb_args(instance, wait=False))
    assert now["healthy"] is True, "the stopped container's heartbeat is still young"
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stale = run_module("oms_server_health", metadb_args(instance, timeout=5, interval=1,
                                                        started_after=after))
    assert stale.failed and "written before the container started" in stale["msg"]
    assert any("written after %s" % after in s for s in stale["signals"])
    # a container started now writes heartbeats after `after`: it passes
    subprocess.run(["docker", "start", instance["old_container"]], check=True,
                   stdout=subprocess.DEVNULL)
    fresh = run_module("oms_server_health", metadb_args(instance, timeout=120, interval=1,
                                                        started_after=after))
    assert not fresh.failed, fresh.get("msg")
    assert fresh["healthy"] is True
