"""Injected faults: by the file in the run mount (live) and by OMS_SIM_FAULTS."""

import time

from conftest import MAIN, health, healthy, openapi, query, wait_for


def test_never_online_by_file_switches_live(bed, fresh):
    info = fresh
    bed.set_faults(MAIN, ["never_online"])
    wait_for(lambda: bed.host_status(MAIN) == "OFFLINE", 10, what="host OFFLINE")
    # /oms/health reads the fault on its own cadence, not at the instant the host row changed
    wait_for(lambda: health(info)["data"]["healthy"] is False, 10, what="health false")
    body = health(info)
    assert body["data"]["healthy"] is False and "never_online" in " ".join(body["data"]["reasons"])

    def age():
        return query(info, "SELECT TIMESTAMPDIFF(SECOND, gmt_modified, NOW()) FROM `%s`."
                     "heart_beat WHERE task_name='supervisor'" % info["metadb"]["cm_hb_db"])[0][0]
    wait_for(lambda: age() >= 4, 10, what="supervisor heartbeat going stale")
    bed.set_faults(MAIN, [])
    wait_for(lambda: healthy(info) and bed.host_status(MAIN) == "ONLINE", 10, what="back online")
    assert age() <= 3


def test_openapi_refuse(bed, fresh):
    bed.set_faults(MAIN, ["openapi_refuse"])
    status, body = openapi(fresh, "ListProjects")
    assert status == 503 and body["success"] is False
    assert healthy(fresh)
    bed.set_faults(MAIN, [])
    assert openapi(fresh, "ListProjects")[1]["success"] is True


def test_slow_start_by_environment(bed):
    started = time.monotonic()
    info = bed.reset(MAIN, env_faults=["slow_start=4"], wait=False)
    env = bed.client.containers.get(info["old_container"]).attrs["Config"]["Env"]
    assert "OMS_SIM_FAULTS=slow_start=4" in env
    time.sleep(2)
    assert health(info) is None
    wait_for(lambda: healthy(info), 30, what="slow start to finish")
    assert time.monotonic() - started >= 4
    bed.reset(MAIN)


def test_slow_start_by_file_at_reset(bed):
    started = time.monotonic()
    info = bed.reset(MAIN, faults=["slow_start=3"])
    assert time.monotonic() - started >= 3 and healthy(info)
    bed.reset(MAIN)
