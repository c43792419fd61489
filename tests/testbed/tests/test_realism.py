"""The realistic lifecycle every test meets, and each guess's unfavourable side as a switch."""

import json
import os
import threading
import time
import urllib.error
import urllib.request

from conftest import (MAIN, NOT_READY, SUCCESS_LINE, docker_init, health, healthy, openapi,
                      query, run_new, versions, wait_for)


def raw_get(url, timeout=3):
    """(status, body text); None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def log_text(info, name="oms_sim.log"):
    with open(os.path.join(info["mounts"]["logs"], name), encoding="utf-8") as f:
        return f.read()


# -- lifecycle --------------------------------------------------------------------------------

def test_boot_phase_answers_502_and_docker_init_is_not_ready(bed):
    info = bed.reset(MAIN, wait=False)
    assert info["profile"]["name"] == "short" and info["profile"]["boot_seconds"] > 0
    answer = wait_for(lambda: raw_get(info["console_url"] + "/oms/health"), 10,
                      interval=0.1, what="nginx answering")
    assert answer[0] == 502 and "nginx" in answer[1]
    code, out = docker_init(bed, info, container=info["old_container"], wait_ready=False)
    assert code == 1 and NOT_READY in out
    wait_for(lambda: healthy(info), 60, what="the boot to end")


def test_a_failed_server_is_restarted_and_the_container_stays_up(bed, fresh):
    info = fresh
    container = bed.client.containers.get(info["old_container"])
    pid = container.exec_run(["cat", "/tmp/oms_sim_serving"]).output.decode().strip()
    assert container.exec_run(["kill", "-KILL", pid]).exit_code == 0
    wait_for(lambda: not healthy(info), 10, what="health false while the server is down")
    container.reload()
    assert container.status == "running"
    wait_for(lambda: healthy(info), 60, what="the supervisor's restart")
    with open(os.path.join(info["mounts"]["logs"], "supervisord.log")) as f:
        assert "not expected" in f.read()


def test_docker_init_restarts_the_components_takes_its_time_and_ends_with_the_line(bed, fresh):
    info = fresh
    m = info["metadb"]
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append((time.monotonic(), healthy(info)))
            time.sleep(0.3)
    wait_for(lambda: health(info), 30, what="4.2.0 booted")
    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        code, out = docker_init(bed, info)
    finally:
        done.set()
        watcher.join()
    assert code == 0 and out.rstrip().endswith(SUCCESS_LINE), out
    took = time.monotonic() - started
    assert took >= info["profile"]["init_seconds"] * 0.9
    assert "[3/4] restarting every component" in out
    # false until the restarted components are back, which is at the very end
    early = [ok for at, ok in seen if at < started + 0.8 * info["profile"]["init_seconds"]]
    assert early and not any(early), "health must stay false while docker_init.sh runs"
    wait_for(lambda: healthy(info), 20, what="4.2.0 online")
    # the migration writes rows: a 4.2.0 system parameter and obd's oms_version
    assert query(info, "SELECT COUNT(*) FROM `%s`.oms_normal_config WHERE "
                 "cfg_name='struct.obkv.createtable'" % m["rm_db"])[0][0] == 1
    assert query(info, "SELECT version FROM `%s`.oms_version" % m["rm_db"]) == (("4.2.0-CE",),)


def test_init_no_success_line_exits_0_without_it(bed, fresh):
    info = fresh
    bed.set_faults(MAIN, ["init_no_success_line"])
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    code, out = docker_init(bed, info)
    assert code == 0 and SUCCESS_LINE not in out and "did not complete" in out
    assert versions(info) == ["4.2.0-CE"] * 3


def test_realistic_profile_boots_for_a_minute(bed):
    try:
        info = bed.reset(MAIN, profile="realistic", wait=False)
        assert info["profile"] == {"name": "realistic", "boot_seconds": 60, "init_seconds": 120}
        wait_for(lambda: raw_get(info["console_url"] + "/oms/health"), 10, what="nginx")
        time.sleep(10)
        assert raw_get(info["console_url"] + "/oms/health")[0] == 502
        with open(os.path.join(info["mounts"]["logs"], "supervisord.log")) as f:
            assert "boot 60.0 s, docker_init.sh 120.0 s" in f.read()
    finally:
        bed.reset(MAIN)


# -- the unfavourable sides -------------------------------------------------------------------

def test_no_health_endpoint_answers_nginx_404(bed, fresh):
    bed.set_faults(MAIN, ["no_health_endpoint"])
    status, body = raw_get(fresh["console_url"] + "/oms/health")
    assert status == 404 and "<center>nginx</center>" in body
    assert openapi(fresh, "ListProjects")[1]["success"] is True


def test_envelope_strings_and_describe_list(bed, fresh):
    status, plain = openapi(fresh, "ListProjects", {"pageSize": 2})
    assert plain["success"] is True and plain["pageNumber"] == 1
    bed.set_faults(MAIN, ["envelope_strings", "describe_list"])
    status, page = openapi(fresh, "ListProjects", {"pageSize": 2})
    assert status == 200 and page["success"] == "true"
    assert page["pageNumber"] == "1" and page["pageSize"] == "2" and page["totalCount"] == "4"
    status, one = openapi(fresh, "DescribeProject", {"id": "np_4xtbsim0001"})
    assert one["success"] == "true" and isinstance(one["data"], list) and len(one["data"]) == 1
    assert one["data"][0]["id"] == "np_4xtbsim0001"


def test_ha_config_cached_until_the_console_restarts(bed, fresh):
    info = fresh
    m = info["metadb"]
    bed.set_faults(MAIN, ["ha_config_cached"])
    ha = json.loads(query(info, "SELECT cfg_value FROM `%s`.oms_normal_config WHERE "
                          "cfg_name='ha.config'" % m["rm_db"])[0][0])
    ha["refetchStoreIntervalMin"] = 77
    query(info, "UPDATE `%s`.oms_normal_config SET cfg_value=%%s WHERE cfg_name='ha.config'"
          % m["rm_db"], (json.dumps(ha),))
    time.sleep(7)  # more than the 5 s re-read of the favourable side
    assert "refetchStoreIntervalMin=77" not in log_text(info)
    bed.client.containers.get(info["old_container"]).restart(timeout=10)
    bed.wait_serving(MAIN, timeout=60)
    wait_for(lambda: "refetchStoreIntervalMin=77" in log_text(info), 10, what="taken at restart")
