"""The OMS 4.1.1 simulator: what OMS is documented to do (or our marked guesses)."""

import json
import os
import time

import pytest
import yaml

from conftest import (MAIN, SPARE, health, healthy, http, mysql_cli, refusal,
                      openapi, query, wait_for)

HA_DEFAULT = ('{"enable":false,"enableHost":false,"enableStore":true,'
              '"perceiveStoreClientCheckpoint":false,"enableConnector":true,'
              '"enableJdbcWriter":true,"subtopicStoreNumberThreshold":5,'
              '"checkRequestIntervalSec":600,"checkJdbcWriterIntervalSec":600,'
              '"checkHostDownIntervalSec":540,"checkModuleExceptionIntervalSec":240,'
              '"clearAbnormalResourceHours":72,"refetchStoreIntervalMin":30}')


def columns(info, db, table):
    return {r[0] for r in query(info, "SELECT column_name FROM information_schema.columns WHERE "
                                "table_schema=%s AND table_name=%s", (db, table))}


def log_text(info, name="oms_sim.log"):
    try:
        with open(os.path.join(info["mounts"]["logs"], name)) as f:
            return f.read()
    except OSError:
        return ""


def test_first_start_creates_the_411_schema_and_data(fresh):
    m = fresh["metadb"]
    assert columns(fresh, m["rm_db"], "oms_normal_config") >= {"id", "cfg_name", "cfg_value"}
    assert query(fresh, "SELECT cfg_value FROM `%s`.oms_normal_config WHERE cfg_name='ha.config'"
                 % m["rm_db"])[0][0] == HA_DEFAULT
    assert columns(fresh, m["cm_db"], "host") >= {"id", "ip", "host_status"}
    assert columns(fresh, m["cm_hb_db"], "heart_beat") >= {"task_name", "task_type", "host_ip", "gmt_modified"}
    assert columns(fresh, m["cm_hb_db"], "heatbeat_sequence") == {"id", "gmt_created",
                                                                  "gmt_modified"}
    key = query(fresh, "SELECT column_key, extra FROM information_schema.columns WHERE "
                "table_schema=%s AND table_name='heatbeat_sequence' AND column_name='id'",
                (m["cm_hb_db"],))[0]
    assert key[0] == "PRI" and "auto_increment" in key[1]
    for role in ("rm_db", "cm_db", "cm_hb_db"):
        assert query(fresh, "SELECT id, version FROM `%s`.oms_meta_version" % m[role]) == \
            ((1, "4.1.1-CE"),)
    statuses = {r[0] for r in query(fresh, "SELECT status FROM `%s`.oms_project" % m["rm_db"])}
    assert len(statuses) >= 3 and "RUNNING" in statuses


def test_while_running_heartbeats_host_and_files(bed, fresh):
    m = fresh["metadb"]
    hb = "`%s`" % m["cm_hb_db"]
    first = query(fresh, "SELECT COUNT(*), MAX(id) FROM %s.heatbeat_sequence" % hb)[0]
    time.sleep(4.2)
    second = query(fresh, "SELECT COUNT(*), MAX(id) FROM %s.heatbeat_sequence" % hb)[0]
    assert 3 <= second[0] - first[0] <= 6
    age = query(fresh, "SELECT TIMESTAMPDIFF(SECOND, gmt_modified, NOW()) FROM %s.heart_beat "
                "WHERE task_name='supervisor' AND host_ip='127.0.0.1'" % hb)[0][0]
    assert age <= 3
    assert bed.host_status(MAIN) == "ONLINE"
    wait_for(lambda: os.path.exists(os.path.join(fresh["mounts"]["store"],
                                                 "store_checkpoint.json")), 15)
    assert os.path.exists(os.path.join(fresh["mounts"]["run"], "oms_sim_status.json"))
    assert "OMS service start successfully" in log_text(fresh)
    logs = bed.client.containers.get(fresh["old_container"]).logs().decode().strip()
    assert logs.splitlines()[-1].endswith("OMS service start successfully")


def test_health_and_openapi(fresh):
    body = health(fresh)
    assert body["success"] is True and body["data"]["healthy"] is True
    status, page = openapi(fresh, "ListProjects", {"pageNumber": 1, "pageSize": 3})
    assert status == 200 and page["success"] is True
    for key in ("success", "errorDetail", "code", "message", "advice", "requestId",
                "pageNumber", "pageSize", "totalCount", "cost", "data"):
        assert key in page
    assert page["totalCount"] == 4 and len(page["data"]) == 3 and page["pageSize"] == 3
    status, page2 = openapi(fresh, "ListProjects", {"pageNumber": 2, "pageSize": 3})
    ids = {p["id"] for p in page["data"]} | {p["id"] for p in page2["data"]}
    assert len(ids) == 4
    status, running = openapi(fresh, "ListProjects", {"status": ["RUNNING"]})
    assert running["data"] and {p["status"] for p in running["data"]} == {"RUNNING"}
    status, too_big = openapi(fresh, "ListProjects", {"pageSize": 151})
    assert too_big["success"] is False
    pid = page["data"][0]["id"]
    status, one = openapi(fresh, "DescribeProject", {"id": pid})
    assert status == 200 and one["success"] and one["data"]["id"] == pid
    assert one["data"]["steps"]
    status, missing = openapi(fresh, "DescribeProject", {"id": "np_nope"})
    assert missing["success"] is False and missing["code"]
    status, refused = openapi(fresh, "ListProjects", auth=("admin", "wrong"))
    assert status == 401 and refused["success"] is False
    status, refused = http(fresh["console_url"] + "/api/v2?Action=ListProjects", "POST", {})
    assert status == 401


def test_https_when_certificate_and_key_are_mounted(bed):
    info = bed.reset(MAIN, ssl=True)
    try:
        assert info["console_url"].startswith("https://")
        assert info["ssl_certificate"] and info["ssl_key"]
        binds = bed.client.containers.get(info["old_container"]).attrs["HostConfig"]["Binds"]
        assert "%s:/etc/pki/nginx/oms_server.crt" % info["ssl_certificate"] in binds
        assert healthy(info)
        status, page = openapi(info, "ListProjects")
        assert status == 200 and page["success"]
        plain = info["console_url"].replace("https://", "http://")
        try:
            http(plain + "/oms/health", timeout=3)
            answered_plain = True
        except (OSError, ValueError):
            answered_plain = False
        assert not answered_plain
    finally:
        bed.reset(MAIN)


def _restart_with_config(bed, info, edit, env=None):
    with open(info["config_file"]) as f:
        conf = yaml.safe_load(f)
    edit(conf)
    with open(info["config_file"], "w") as f:
        yaml.safe_dump(conf, f)
    container = bed.client.containers.get(info["old_container"])
    container.stop(timeout=10)
    if env:
        container.remove()
        kwargs = bed.run_kwargs(info["instance"], env=env)
        bed.client.containers.run(**kwargs)
    else:
        container.start()
    return info["old_container"]


def test_refuses_config_without_a_required_key(spare):
    bed = spare
    bed.up([SPARE])
    info = bed.describe(SPARE)
    name = _restart_with_config(bed, info, lambda c: c.pop("drc_cm_heartbeat_db"))
    logs = refusal(bed, name, "lacks required key(s): drc_cm_heartbeat_db")
    assert "OMS service start successfully" not in logs.split("starting")[-1]
    assert health(info) is None


def test_refuses_missing_config_file(spare):
    bed = spare
    bed.up([SPARE])
    info = bed.describe(SPARE)
    kwargs = bed.run_kwargs(SPARE, container_name="oms_t2_noconf")
    kwargs["volumes"] = [v for v in kwargs["volumes"] if not v.startswith(info["config_file"])]
    bed.client.containers.run(**kwargs)
    refusal(bed, "oms_t2_noconf", "config file /home/admin/conf/config.yaml not found")
    bed.client.containers.get("oms_t2_noconf").remove(force=True)


def test_refuses_unreachable_metadb(spare):
    bed = spare
    bed.up([SPARE])
    info = bed.describe(SPARE)
    name = _restart_with_config(bed, info, lambda c: c.update(oms_meta_port=1),
                                env={"OMS_SIM_METADB_WAIT": "2"})
    refusal(bed, name, "MetaDB 127.0.0.1:1 (user oms_meta) is not reachable")
    assert not healthy(info)


def test_restart_on_existing_data_does_not_reinitialise(bed, fresh):
    m = fresh["metadb"]
    query(fresh, "UPDATE `%s`.oms_project SET status='FAILED' WHERE id='np_4xtbsim0001'"
          % m["rm_db"])
    bed.client.containers.get(fresh["old_container"]).restart(timeout=10)
    bed.wait_serving(MAIN, timeout=60)
    assert query(fresh, "SELECT status FROM `%s`.oms_project WHERE id='np_4xtbsim0001'"
                 % m["rm_db"])[0][0] == "FAILED"
    assert "existing 4.1.1-CE metadata found, not reinitialising" in \
        bed.client.containers.get(fresh["old_container"]).logs().decode()


def test_stops_promptly_on_sigterm(bed, fresh):
    container = bed.client.containers.get(fresh["old_container"])
    started = time.monotonic()
    container.stop(timeout=20)
    assert time.monotonic() - started < 5
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0


def test_rereads_ha_config_and_logs_ha_action_on_stale_heartbeat(fresh):
    m = fresh["metadb"]
    hb = "`%s`" % m["cm_hb_db"]
    query(fresh, "INSERT INTO %s.heart_beat (task_name, task_type, host_ip, status, gmt_created, "
          "gmt_modified) VALUES ('store_t1_probe', 'store', '127.0.0.1', 'RUNNING', NOW() - INTERVAL 1 HOUR, "
          "NOW() - INTERVAL 1 HOUR)" % hb)
    time.sleep(6)
    assert "HA action" not in log_text(fresh)  # HA is off by default
    ha = json.loads(HA_DEFAULT)
    ha.update(enable=True, perceiveStoreClientCheckpoint=True, checkHostDownIntervalSec=60)
    query(fresh, "UPDATE `%s`.oms_normal_config SET cfg_value=%%s WHERE cfg_name='ha.config'"
          % m["rm_db"], (json.dumps(ha),))
    wait_for(lambda: "ha.config reloaded: enable=True" in log_text(fresh), 12,
             what="ha.config reload")
    line = wait_for(lambda: [ln for ln in log_text(fresh).splitlines() if "HA action" in ln], 12,
                    what="HA action line")[0]
    assert "store_t1_probe" in line and "earliest checkpoint" in line


def test_survives_losing_its_metadb_connections(bed, fresh):
    m = fresh["metadb"]
    conn = bed.root_connect()
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.processlist WHERE user='oms_meta' AND "
                    "db=%s", (m["cm_hb_db"],))
        ids = [r[0] for r in cur.fetchall()]
        assert ids
        for pid in ids:
            cur.execute("KILL CONNECTION %d" % pid)
    conn.close()
    before = query(fresh, "SELECT MAX(id) FROM `%s`.heatbeat_sequence" % m["cm_hb_db"])[0][0]
    wait_for(lambda: query(fresh, "SELECT MAX(id) FROM `%s`.heatbeat_sequence"
                           % m["cm_hb_db"])[0][0] > before + 2, 10, what="heartbeats again")
    assert healthy(fresh)


def test_comes_back_healthy_on_restored_data_after_rollback(bed, fresh, tmp_path):
    """Rollback: container stopped, databases dropped, created and restored, container started."""
    m = fresh["metadb"]
    dbs = [m["rm_db"], m["cm_db"], m["cm_hb_db"]]
    container = bed.client.containers.get(fresh["old_container"])
    container.stop(timeout=10)
    dumps = {db: mysql_cli_dump(fresh, db) for db in dbs}
    for db in dbs:
        mysql_cli(fresh, "-e", "DROP DATABASE `%s`; CREATE DATABASE `%s`" % (db, db))
        mysql_cli(fresh, db, stdin=dumps[db])
    container.start()
    bed.wait_serving(MAIN, timeout=60)
    logs = container.logs().decode()
    assert logs.count("MetaDB initialised with the 4.1.1-CE schema") == 1
    assert bed.host_status(MAIN) == "ONLINE"


def mysql_cli_dump(info, db):
    import subprocess
    r = info["metadb_root"]
    return subprocess.run(["mysqldump", "-h", r["host"], "-P", str(r["port"]), "-u", r["user"],
                           "--single-transaction", "--triggers=false", db],
                          env=dict(os.environ, MYSQL_PWD=r["password"]), stdout=subprocess.PIPE,
                          check=True, universal_newlines=True).stdout


def test_ha_action_at_start_after_downtime(bed, fresh):
    """With HA on, a server that was down (stale supervisor heartbeat) logs the action at start."""
    m = fresh["metadb"]
    ha = json.loads(HA_DEFAULT)
    ha.update(enable=True, checkHostDownIntervalSec=60)
    container = bed.client.containers.get(fresh["old_container"])
    container.stop(timeout=10)
    query(fresh, "UPDATE `%s`.oms_normal_config SET cfg_value=%%s WHERE cfg_name='ha.config'"
          % m["rm_db"], (json.dumps(ha),))
    query(fresh, "UPDATE `%s`.heart_beat SET gmt_modified=NOW() - INTERVAL 2 HOUR WHERE "
          "task_name='supervisor'" % m["cm_hb_db"])
    container.start()
    bed.wait_serving(MAIN, timeout=60)
    line = [ln for ln in log_text(fresh).splitlines() if "HA action" in ln]
    assert line and "heartbeat of supervisor" in line[0]
    assert "now minus refetchStoreIntervalMin=30 min" in line[0]


@pytest.mark.skipif(os.environ.get("OBTB_TEST_METADB_RESTART") != "1",
                    reason="restarts the shared MetaDB: set OBTB_TEST_METADB_RESTART=1 when alone")
def test_survives_a_metadb_restart(bed, fresh):
    bed.client.containers.get(fresh["metadb_container"]).restart(timeout=20)
    bed.metadb()
    wait_for(lambda: healthy(fresh) and bed.host_status(MAIN) == "ONLINE", 30,
             what="healthy after the MetaDB restart")
