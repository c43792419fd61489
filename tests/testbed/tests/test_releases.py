"""The 4.2.1 and 4.2.2 images: each docker_init.sh changes the schema of its own, only from its
predecessor's, and fails when run again; projects whose delay and switchover the tests set."""

import time

import pytest

from conftest import (MAIN, SUCCESS_LINE, docker_init, health, healthy, openapi, query, refusal,
                      run_new, versions, wait_for)

V421, V422 = "4.2.1-CE", "4.2.2-CE"


def cols(info, db, table):
    return {r[0] for r in query(info, "SELECT column_name FROM information_schema.columns WHERE "
                                "table_schema=%s AND table_name=%s", (db, table))}


def run_release(bed, info, version, running):
    """Stop the container `running`, start `version` as the upgrade does (IS_UPGRADE=true, same
    mounts); return its name."""
    with open(bed.release_archive(version), "rb") as f:
        bed.client.images.load(f.read())
    name = "%s_%s" % (info["new_container"], version[:5].replace(".", ""))
    kwargs = bed.run_kwargs(info["instance"], image=bed.release_image(version),
                            container_name=name, env={"IS_UPGRADE": "true"})
    bed.client.containers.get(running).stop(timeout=10)
    bed.client.containers.run(**kwargs)
    return name


def to_420(bed, info):
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    code, out = docker_init(bed, info)
    assert code == 0, out
    assert versions(info) == ["4.2.0-CE"] * 3
    return info["new_container"]


def test_each_release_migrates_its_predecessor_and_refuses_a_second_run(bed, fresh):
    info = fresh
    m = info["metadb"]
    c420 = to_420(bed, info)
    c421 = run_release(bed, info, V421, c420)
    wait_for(lambda: health(info), 30, what="4.2.1 console")
    assert health(info)["data"]["version"] == V421 and not healthy(info)
    code, out = docker_init(bed, info, container=c421)
    assert code == 0 and out.rstrip().endswith(SUCCESS_LINE), out
    assert versions(info) == [V421] * 3
    assert {"labels", "alarm_level"} <= cols(info, m["rm_db"], "oms_project")
    assert "cpu_quota" in cols(info, m["cm_db"], "host")
    assert "checkpoint_ts" in cols(info, m["cm_hb_db"], "heart_beat")
    assert "sync_delay_seconds" not in cols(info, m["rm_db"], "oms_project")
    assert (V421,) in query(info, "SELECT version FROM `%s`.oms_version" % m["rm_db"])
    wait_for(lambda: healthy(info) and bed.host_status(MAIN) == "ONLINE", 30, what="4.2.1 online")
    code, out = docker_init(bed, info, container=c421)
    assert code != 0 and "Duplicate column" in out, out
    assert versions(info) == [V421] * 3

    c422 = run_release(bed, info, V422, c421)
    code, out = docker_init(bed, info, container=c422)
    assert code == 0, out
    assert versions(info) == [V422] * 3
    assert {"alarm_level", "sync_delay_seconds"} <= cols(info, m["rm_db"], "oms_project")
    assert {"cpu_quota", "arch"} <= cols(info, m["cm_db"], "host")
    assert {"checkpoint_ts", "sequence_group"} <= cols(info, m["cm_hb_db"], "heart_beat")
    wait_for(lambda: healthy(info) and bed.host_status(MAIN) == "ONLINE", 30, what="4.2.2 online")
    assert health(info)["data"]["version"] == V422


def test_a_skipped_release_is_refused_and_changes_nothing(bed, fresh):
    info = fresh
    m = info["metadb"]
    c422 = run_release(bed, info, V422, to_420(bed, info))
    refusal(bed, c422, "which this OMS 4.2.2-CE cannot run on")
    code, out = docker_init(bed, info, container=c422)
    assert code != 0 and "not 4.2.1-CE: 4.2.2-CE upgrades only from 4.2.1-CE" in out, out
    assert "nothing was changed" in out
    assert versions(info) == ["4.2.0-CE"] * 3
    assert "alarm_level" not in cols(info, m["rm_db"], "oms_project")
    assert "sync_delay_seconds" not in cols(info, m["rm_db"], "oms_project")


def test_421_on_411_data_is_refused(bed, fresh):
    info = fresh
    c421 = run_release(bed, info, V421, info["old_container"])
    refusal(bed, c421, "which this OMS 4.2.1-CE cannot run on")
    code, out = docker_init(bed, info, container=c421)
    assert code != 0 and "not 4.2.0-CE: 4.2.1-CE upgrades only from 4.2.0-CE" in out, out
    assert versions(info) == ["4.1.1-CE"] * 3


def progress(info, pid):
    status, body = openapi(info, "DescribeProjectProgress", {"id": pid})
    assert status == 200 and body["success"], body
    return body["data"]


def steps(info, pid):
    status, body = openapi(info, "DescribeProjectSteps", {"id": pid})
    assert status == 200 and body["success"], body
    return {s["name"]: s for s in body["data"]}


def test_project_delay_and_switchover_are_set_by_the_tests(bed, fresh):
    info = fresh
    migration, sync = "np_4xtbsim0001", "np_4xtbsim0002"
    now = time.time()
    assert now - progress(info, migration)["incrSyncCheckpoint"] < 10
    assert steps(info, migration)["TRANSFER_APP_SWITCH"]["status"] == "FINISHED"
    assert "TRANSFER_APP_SWITCH" not in steps(info, sync)
    bed.set_faults(MAIN, ["sync_delay=%s:900/%s:30" % (migration, sync),
                          "switchover_pending=%s" % migration])
    now = time.time()
    assert 895 <= now - progress(info, migration)["incrSyncCheckpoint"] <= 905
    incr = steps(info, sync)["INCR_TRANSFER"]
    assert 25 <= now - incr["stepInfo"]["incrTimestampCheckpoint"] <= 35
    assert steps(info, migration)["TRANSFER_APP_SWITCH"]["status"] == "INIT"
    status, body = openapi(info, "DescribeProjectProgress", {"id": "np_nope"})
    assert body["success"] is False and body["code"] == "GHANA-PROJECT000002"
    bed.set_faults(MAIN, [])
    assert steps(info, migration)["TRANSFER_APP_SWITCH"]["status"] == "FINISHED"


@pytest.mark.parametrize("token", ["sync_delay=np_1", "sync_delay=np_1:x", "switchover_pending="])
def test_malformed_project_controls_are_refused(bed, token):
    from obtestbed.errors import TestbedError
    with pytest.raises(TestbedError):
        bed.set_faults(MAIN, [token])
