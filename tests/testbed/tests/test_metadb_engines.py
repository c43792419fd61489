"""The MetaDB engines: OMS_TESTBED_METADB=oceanbase puts an instance on seekdb (OceanBase's SQL
engine) beside MariaDB; the instance remembers its engine. Uses t2 only (the `spare` fixture
takes it down afterwards), so t1 stays on whatever engine the run chose."""

import json
import os
import stat
import subprocess

import docker
import pymysql
import pytest

from conftest import SPARE, connect, healthy, query, versions, wait_for
from obtestbed import Testbed, naming, rowdigest

CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testbed")


def cli(*args, engine=None, check=True):
    env = dict(os.environ)
    env.pop(naming.METADB_ENV, None)
    if engine:
        env[naming.METADB_ENV] = engine
    return subprocess.run([CLI] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=check)


def describe(name):
    return json.loads(cli("describe", name).stdout)


def databases_on(engine, bed, pattern):
    conn = bed.root_connect(engine=engine)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name "
                        "LIKE %s", (pattern,))
            return sorted(r[0] for r in cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def on_oceanbase(spare):
    """t2 deployed on the OceanBase MetaDB with the CLI, as a user would; its description."""
    cli("up", SPARE, engine=naming.OCEANBASE)
    return describe(SPARE)


def test_up_describe_status_on_oceanbase(spare, on_oceanbase):
    info = on_oceanbase
    m = info["metadb"]
    assert m["engine"] == "oceanbase" and m["port"] == naming.SEEKDB_PORT != naming.METADB_PORT
    assert m["user"] == "oms_meta" and info["metadb_container"] == "obtb-seekdb"
    assert info["metadb_root"]["port"] == m["port"] and info["metadb_root"]["socket"] is None
    assert "OceanBase" in query(info, "SELECT VERSION()")[0][0]
    now, utc = query(info, "SELECT NOW(), UTC_TIMESTAMP()")[0]
    assert abs((now - utc).total_seconds()) < 5, "seekdb's NOW() must be UTC like MariaDB's"
    for name in ("oms_meta.password", "root.password"):
        mode = os.stat(os.path.join(spare.root, "seekdb", name)).st_mode
        assert stat.S_IMODE(mode) == 0o600
    with open(info["config_file"]) as f:
        assert "oms_meta_port: %d" % naming.SEEKDB_PORT in f.read()
    status = json.loads(cli("status").stdout)
    assert status["metadb_engines"] == {"mariadb": "running", "oceanbase": "running"}
    assert status["instances"][SPARE]["metadb_engine"] == "oceanbase"
    assert status["instances"][SPARE]["healthy"] is True
    # Without OMS_TESTBED_METADB the instance keeps its engine; describe never changes it.
    assert describe(SPARE)["metadb"]["engine"] == "oceanbase"
    cli("reset", SPARE)
    assert describe(SPARE)["metadb"]["engine"] == "oceanbase"


def test_a_411_deployment_serves_on_oceanbase(spare, on_oceanbase):
    info = on_oceanbase
    m = info["metadb"]
    assert healthy(info) and spare.host_status(SPARE) == "ONLINE"
    assert versions(info) == ["4.1.1-CE"] * 3
    ha = query(info, "SELECT cfg_value FROM `%s`.oms_normal_config WHERE cfg_name='ha.config'"
               % m["rm_db"])[0][0]
    assert json.loads(ha)["enable"] is False
    first = query(info, "SELECT MAX(id) FROM `%s`.heatbeat_sequence" % m["cm_hb_db"])[0][0]
    wait_for(lambda: query(info, "SELECT MAX(id) FROM `%s`.heatbeat_sequence"
                           % m["cm_hb_db"])[0][0] >= first + 2, 15, what="heartbeats on seekdb")
    container = spare.client.containers.get(info["old_container"])
    assert "OMS service start successfully" in container.logs().decode()
    assert "Traceback" not in container.logs().decode()


def test_oms_meta_has_no_process_and_only_its_instances_databases(spare, on_oceanbase):
    info = on_oceanbase
    grants = " ".join(r[0] for r in query(info, "SHOW GRANTS"))
    assert "PROCESS" not in grants and "ON *.*" not in grants.replace("USAGE ON *.*", "")
    conn = connect(info)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE t2_cm_hb_411")  # the rollback drops and creates its own
            cur.execute("CREATE DATABASE t2_cm_hb_411")
        for sql in ("CREATE DATABASE t2xrm_411",  # `_` in a grant is a wildcard unless escaped
                    "CREATE DATABASE t1_other_411", "SELECT * FROM mysql.user"):
            with pytest.raises(pymysql.MySQLError):
                with conn.cursor() as cur:
                    cur.execute(sql)
    finally:
        conn.close()
    # Another instance's databases on the same server: created as root, never granted.
    root = spare.root_connect(engine=naming.OCEANBASE)
    try:
        with root.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS t2other_rm_411")
            cur.execute("CREATE TABLE IF NOT EXISTS t2other_rm_411.secret (id int PRIMARY KEY)")
        with pytest.raises(pymysql.MySQLError):
            query(info, "SELECT * FROM t2other_rm_411.secret")
    finally:
        with root.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS t2other_rm_411")
        root.close()


def test_down_on_oceanbase_removes_only_its_own(spare, on_oceanbase):
    info = on_oceanbase
    cli("down", SPARE)
    with pytest.raises(docker.errors.NotFound):
        spare.client.containers.get(info["old_container"])
    assert not os.path.exists(info["host_dir"])
    assert databases_on(naming.OCEANBASE, spare, "t2\\_%") == []
    assert spare.client.containers.get("obtb-seekdb").status == "running"
    assert spare.client.containers.get("obtb-metadb").status == "running"
    assert [r[0] for r in query(info, "SHOW GRANTS") if "t2" in r[0]] == []


def test_moving_an_instance_between_engines_leaves_nothing_behind(spare, on_oceanbase):
    cli("reset", SPARE, engine=naming.MARIADB)
    info = describe(SPARE)
    assert info["metadb"]["engine"] == "mariadb" and info["metadb"]["port"] == naming.METADB_PORT
    assert healthy(info) and versions(info) == ["4.1.1-CE"] * 3
    assert databases_on(naming.OCEANBASE, spare, "t2\\_%") == []
    assert databases_on(naming.MARIADB, spare, "t2\\_%") == sorted(
        [info["metadb"][k] for k in ("rm_db", "cm_db", "cm_hb_db")])
    cli("up", SPARE, engine=naming.OCEANBASE)  # serving on MariaDB: up moves it back
    assert describe(SPARE)["metadb"]["engine"] == "oceanbase"
    assert databases_on(naming.MARIADB, spare, "t2\\_%") == []


def test_an_unknown_engine_is_refused_with_the_choices():
    bad = cli("status", engine="postgres", check=False)
    assert bad.returncode != 0
    assert "mariadb, oceanbase" in bad.stderr and "OMS_TESTBED_METADB" in bad.stderr
    with pytest.raises(ValueError):
        Testbed(metadb_engine="mysql")


def test_row_digests_see_each_changed_row_on_both_engines(fresh, on_oceanbase):
    """obtestbed.rowdigest (molecule's before/after comparison) on MariaDB and on seekdb."""
    for info in (fresh, on_oceanbase):
        rm = info["metadb"]["rm_db"]
        conn = connect(info)
        try:
            with conn.cursor() as cur:
                before = rowdigest.table_digest(cur, rm, "oms_project")
                assert before == rowdigest.table_digest(cur, rm, "oms_project")
                ignoring = rowdigest.table_digest(cur, rm, "oms_project", ("owner",),
                                                  (("id", "np_4xtbsim0003"),))
                assert before["key"] == ["id"] and before["rows"] == 4
                cur.execute("UPDATE `%s`.oms_project SET owner='someone' WHERE "
                            "id='np_4xtbsim0002'" % rm)
                cur.execute("DELETE FROM `%s`.oms_project WHERE id='np_4xtbsim0003'" % rm)
                after = rowdigest.table_digest(cur, rm, "oms_project")
                same = rowdigest.table_digest(cur, rm, "oms_project", ("owner",),
                                              (("id", "np_4xtbsim0003"),))
        finally:
            conn.close()
        lines = rowdigest.describe_difference("oms_project", before, after)
        assert "oms_project: 4 rows -> 3 rows" in lines, lines
        assert 'oms_project: rows gone (id = ["np_4xtbsim0003"])' in lines, lines
        assert 'oms_project: rows changed (id = ["np_4xtbsim0002"])' in lines, lines
        assert ignoring["columns"] == [c for c in before["columns"] if c != "owner"]
        # What is ignored (a column, a row) may change; the rest must not have.
        assert rowdigest.describe_difference("oms_project", ignoring, same) == []
        assert rowdigest.describe_difference("oms_project", before, same)
