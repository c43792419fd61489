"""The 4.2.0 image: IS_UPGRADE, docker_init.sh, refusals, and the reverse (4.1.1 on 4.2.0 data)."""

import os

from conftest import (MAIN, SUCCESS_LINE, connect, docker_init, health, healthy, openapi,
                      query, refusal, run_new, versions, wait_for)
from obtestbed import rowdigest


def cols(info, db, table):
    return {r[0] for r in query(info, "SELECT column_name FROM information_schema.columns WHERE "
                                "table_schema=%s AND table_name=%s", (db, table))}


def checksums(info):
    """Row digests of every table but those the running server keeps current (any engine:
    OceanBase has no CHECKSUM TABLE)."""
    m = info["metadb"]
    out = {}
    conn = connect(info)
    try:
        with conn.cursor() as cur:
            for db in (m["rm_db"], m["cm_db"]):
                for table in rowdigest.base_tables(cur, db):
                    if table in ("host", "host_process"):
                        continue  # kept current by the running server
                    out["%s.%s" % (db, table)] = rowdigest.table_digest(cur, db, table)["sha256"]
    finally:
        conn.close()
    return out


def test_upgrade_waits_for_docker_init_then_comes_online(bed, fresh):
    info = fresh
    m = info["metadb"]
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    wait_for(lambda: health(info), 20, what="4.2.0 console")
    body = health(info)
    assert body["data"]["healthy"] is False and body["data"]["version"] == "4.2.0-CE"
    status, page = openapi(info, "ListProjects")
    assert status == 200 and page["success"]
    wait_for(lambda: bed.host_status(MAIN) not in (None, "ONLINE"), 10, what="host not ONLINE")
    assert versions(info) == ["4.1.1-CE"] * 3
    code, out = docker_init(bed, info)
    assert code == 0, out
    assert versions(info) == ["4.2.0-CE"] * 3
    assert "labels" in cols(info, m["rm_db"], "oms_project")
    assert "host_version" in cols(info, m["cm_db"], "host")
    assert "component_version" in cols(info, m["cm_hb_db"], "heart_beat")
    assert out.rstrip().endswith(SUCCESS_LINE)
    with open(os.path.join(info["mounts"]["logs"], "docker_init.log"), encoding="utf-8") as f:
        assert SUCCESS_LINE in f.read()
    wait_for(lambda: healthy(info) and bed.host_status(MAIN) == "ONLINE", 10,
             what="4.2.0 online")
    before = checksums(info)
    code, out = docker_init(bed, info)
    assert code == 0 and "already at 4.2.0-CE" in out
    assert checksums(info) == before


def test_init_fail_halfway_leaves_rm_migrated_and_cm_not(bed, fresh):
    info = fresh
    bed.set_faults(MAIN, ["init_fail_halfway"])
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    code, out = docker_init(bed, info)
    assert code != 0 and "failed half way" in out
    assert versions(info) == ["4.2.0-CE", "4.1.1-CE", "4.1.1-CE"]
    assert not healthy(info)
    bed.set_faults(MAIN, [])
    code, out = docker_init(bed, info)
    assert code == 0, out
    assert versions(info) == ["4.2.0-CE"] * 3


def test_docker_init_refuses_an_unknown_schema(bed, fresh):
    info = fresh
    m = info["metadb"]
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    wait_for(lambda: health(info), 20, what="4.2.0 console")
    query(info, "UPDATE `%s`.oms_meta_version SET version='3.3.1-CE'" % m["cm_db"])
    code, out = docker_init(bed, info)
    assert code != 0 and "neither 4.1.1-CE nor 4.2.0-CE" in out and "nothing was changed" in out
    assert versions(info) == ["4.1.1-CE", "3.3.1-CE", "4.1.1-CE"]
    assert "labels" not in cols(info, m["rm_db"], "oms_project")


def test_420_without_is_upgrade_refuses_411_metadata(bed, fresh):
    info = fresh
    run_new(bed, info)
    refusal(bed, info["new_container"], "IS_UPGRADE is not true: refusing to start")
    assert not healthy(info)
    assert versions(info) == ["4.1.1-CE"] * 3


def test_411_refuses_420_metadata(bed, fresh):
    info = fresh
    run_new(bed, info, env={"IS_UPGRADE": "true"})
    assert docker_init(bed, info)[0] == 0
    bed.client.containers.get(info["new_container"]).stop(timeout=10)
    old = bed.client.containers.get(info["old_container"])
    old.start()
    refusal(bed, info["old_container"], "cannot run on")
    assert not healthy(info)
