"""oms_metadb_backup against the test bed's real MariaDB: prune, dump, verify, restore, failures.

The simulator writes heartbeat rows every second while its container runs, so the module fixture
stops the instance's OMS container first, as the upgrade role does before step 2.2.
"""

import glob
import os
import threading
import time

import docker
import pytest

from obtestbed.access import connect, query

INSTANCE = os.environ.get("OMS_TEST_INSTANCE", "a")
ROLES = ("rm", "cm", "cm_hb")


@pytest.fixture(scope="module")
def bed(testbed):
    """Instance reset to a fresh 4.1.1 deployment, its OMS container stopped; its description."""
    testbed.reset(INSTANCE)
    desc = testbed.describe(INSTANCE)
    docker.from_env().containers.get(desc["old_container"]).stop(timeout=30)
    return desc


def dbs(desc):
    return [desc["metadb"]["%s_db" % r] for r in ROLES]


def all_checksums(desc):
    """{db: {table: CHECKSUM TABLE}} of every base table of the three databases."""
    result = {}
    conn = connect(desc)
    try:
        with conn.cursor() as cur:
            for db in dbs(desc):
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s "
                            "AND table_type='BASE TABLE'", (db,))
                tables = sorted(r[0] for r in cur.fetchall())
                result[db] = {}
                for t in tables:
                    cur.execute("CHECKSUM TABLE `%s`.`%s`" % (db, t))
                    result[db][t] = cur.fetchone()[1]
    finally:
        conn.close()
    return result


def args(desc, **extra):
    a = {"config_file": desc["config_file"]}
    a.update(extra)
    return a


@pytest.fixture
def backup_dir(tmp_path):
    return str(tmp_path / "backup")


def add_tricky_data(desc):
    """Rows that break naive dumps: 4-byte UTF-8, quotes, backslashes, every byte value, NULLs."""
    rm = desc["metadb"]["rm_db"]
    conn = connect(desc, rm)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS it_tricky")
            cur.execute("CREATE TABLE it_tricky (id int PRIMARY KEY, txt varchar(64) CHARACTER SET utf8mb4, "
                        "b blob, n int NULL)")
            cur.execute("INSERT INTO it_tricky VALUES (1, %s, %s, NULL), (2, '', %s, 3)",
                        (u"caf\u00e9 \U0001F600 \"q\" \\ ' ;--", bytes(bytearray(range(256))), b"\x00\n\r'"))
    finally:
        conn.close()


def test_estimated_reports_the_three_databases(bed, run_module, backup_dir):
    r = run_module("oms_metadb_backup", args(bed, state="estimated", backup_dir=backup_dir))
    assert not r.failed, r.get("msg")
    assert not r.changed
    assert [d["database"] for d in r["databases"]] == dbs(bed)
    assert r["missing_databases"] == []
    assert r["estimate_bytes"] >= r["total_bytes"] > 0
    assert r["enough_space"] is True
    assert not os.path.exists(backup_dir)


def test_prune_100000_heartbeats_to_one(bed, run_module):
    hb = bed["metadb"]["cm_hb_db"]
    query(bed, "DELETE FROM heatbeat_sequence", database=hb)
    query(bed, "INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) "
               "SELECT now(), now() FROM seq_1_to_100000", database=hb)
    (count, max_id), = query(bed, "SELECT COUNT(*), MAX(id) FROM heatbeat_sequence", database=hb)
    assert count == 100000

    check = run_module("oms_metadb_backup", args(bed, state="pruned"), check=True)
    assert check.changed and check["rows_to_delete"] == 99999 and check["rows_deleted"] == 0
    assert query(bed, "SELECT COUNT(*) FROM heatbeat_sequence", database=hb)[0][0] == 100000

    first = run_module("oms_metadb_backup", args(bed, state="pruned", batch_size=7000))
    assert not first.failed, first.get("msg")
    assert first.changed
    assert first["rows_deleted"] == 99999 and first["rows_after"] == 1 and first["max_id"] == max_id
    assert query(bed, "SELECT id FROM heatbeat_sequence", database=hb) == ((max_id,),)

    again_check = run_module("oms_metadb_backup", args(bed, state="pruned"), check=True)
    again = run_module("oms_metadb_backup", args(bed, state="pruned"))
    assert not again_check.changed and not again.changed and again["rows_deleted"] == 0


def test_prune_while_oms_writes_keeps_new_rows_and_sizes_batches_by_time(bed, run_module):
    """The roles prune before the stop, while OMS still inserts heartbeats: rows above the max(id)
    read at the start survive, and the batches follow batch_seconds instead of batch_size."""
    hb = bed["metadb"]["cm_hb_db"]
    query(bed, "DELETE FROM heatbeat_sequence", database=hb)
    query(bed, "INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) "
               "SELECT now(), now() FROM seq_1_to_300000", database=hb)
    stop = threading.Event()

    def oms_writes():
        conn = connect(bed, hb)
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute("INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) VALUES (now(), now())")
                    conn.commit()
                    time.sleep(0.05)
        finally:
            conn.close()

    writer = threading.Thread(target=oms_writes)
    writer.start()
    try:
        r = run_module("oms_metadb_backup", args(bed, state="pruned", batch_size=500, batch_seconds=0.05))
    finally:
        stop.set()
        writer.join()
    assert not r.failed, r.get("msg")
    assert r.changed and r["rows_deleted"] == r["rows_to_delete"] >= 299999
    assert r["batch_size_first"] == 500 and r["batch_size_last"] != 500 and r["batches"] > 1
    assert 0 < r["longest_batch_seconds"] < r["seconds"] and r["longest_batch_rows"] > 0
    (below, total), = query(bed, "SELECT SUM(id < %s), COUNT(*) FROM heatbeat_sequence" % r["max_id"],
                            database=hb)
    assert int(below) == 0 and total >= 1  # the row at max_id and every row OMS wrote meanwhile

    # the second, in-window prune: only what was written since, starting at the first one's max_id
    query(bed, "INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) "
               "SELECT now(), now() FROM seq_1_to_20", database=hb)
    plan = run_module("oms_metadb_backup", args(bed, state="pruned", from_id=r["max_id"]), check=True)
    assert plan.changed and plan["rows_to_delete"] == total + 19
    again = run_module("oms_metadb_backup", args(bed, state="pruned", from_id=r["max_id"]))
    assert not again.failed, again.get("msg")
    assert again["rows_after"] == 1 and again["rows_deleted"] == total + 19 and again["batches"] == 1


@pytest.mark.parametrize("compress", ["none", "zstd", "gzip"])
def test_dump_then_restore_gives_checksum_identical_databases(bed, run_module, backup_dir, compress):
    add_tricky_data(bed)
    before = all_checksums(bed)
    a = args(bed, state="dumped", backup_dir=backup_dir, compress=compress)

    check = run_module("oms_metadb_backup", a, check=True)
    assert not check.failed, check.get("msg")
    assert check.changed and not os.path.exists(backup_dir)

    first = run_module("oms_metadb_backup", a)
    assert not first.failed, first.get("msg")
    assert first.changed
    manifest = first["manifest"]
    assert [d["database"] for d in manifest["databases"]] == dbs(bed)
    for entry in manifest["databases"]:
        path = os.path.join(backup_dir, entry["file"])
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert entry["size"] == os.path.getsize(path) > 0
        assert entry["checksums"] == before[entry["database"]]
        assert entry["tables"] == len(before[entry["database"]])
    assert os.stat(os.path.join(backup_dir, "manifest.json")).st_mode & 0o777 == 0o600
    assert not glob.glob(os.path.join(backup_dir, ".*tmp*"))

    assert not run_module("oms_metadb_backup", a, check=True).changed
    second = run_module("oms_metadb_backup", a)
    assert not second.changed and second["manifest"] == manifest

    verified = run_module("oms_metadb_backup", args(bed, state="verified", backup_dir=backup_dir))
    assert not verified.failed and not verified.changed

    # damage all three: a changed row, a dropped table, a dropped database
    rm, cm, hb = dbs(bed)
    query(bed, "UPDATE it_tricky SET n = 42 WHERE id = 1", database=rm)
    query(bed, "DROP TABLE region", database=cm)
    query(bed, "DROP DATABASE `%s`" % hb)
    damaged = all_checksums(bed)

    r = args(bed, state="restored", backup_dir=backup_dir)
    plan = run_module("oms_metadb_backup", r, check=True)
    assert not plan.failed, plan.get("msg")
    assert plan.changed
    assert plan["restored"] == [rm, cm, hb] and plan["dropped"] == [rm, cm]
    assert all_checksums(bed) == damaged

    restored = run_module("oms_metadb_backup", r)
    assert not restored.failed, restored.get("msg")
    assert restored.changed and restored["restored"] == [rm, cm, hb]
    assert all_checksums(bed) == before

    assert not run_module("oms_metadb_backup", r, check=True).changed
    again = run_module("oms_metadb_backup", r)
    assert not again.changed and again["unchanged"] == [rm, cm, hb]


def test_truncated_dump_is_refused_before_anything_is_dropped(bed, run_module, backup_dir):
    first = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
    assert not first.failed, first.get("msg")
    rm, cm, hb = dbs(bed)
    query(bed, "CREATE TABLE it_after_dump (id int PRIMARY KEY)", database=rm)
    query(bed, "CREATE TABLE it_after_dump (id int PRIMARY KEY)", database=hb)
    before = all_checksums(bed)

    victim = os.path.join(backup_dir, "%s.sql" % cm)
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:
        f.truncate(size // 2)

    verified = run_module("oms_metadb_backup", args(bed, state="verified", backup_dir=backup_dir))
    assert verified.failed and victim in verified["msg"] and "sha256" in verified["msg"]

    r = run_module("oms_metadb_backup", args(bed, state="restored", backup_dir=backup_dir))
    assert r.failed
    assert victim in r["msg"] and "does not verify" in r["msg"]
    assert all_checksums(bed) == before  # nothing dropped, the tables made after the dump are there

    # a dump whose manifest was rewritten to match a truncated file still fails: no completion line
    query(bed, "DROP TABLE it_after_dump", database=rm)
    query(bed, "DROP TABLE it_after_dump", database=hb)


def test_wrong_password_fails_clearly_and_changes_nothing(bed, run_module, backup_dir):
    hb = bed["metadb"]["cm_hb_db"]
    query(bed, "INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) VALUES (now(), now()), (now(), now())",
          database=hb)
    rows = query(bed, "SELECT COUNT(*) FROM heatbeat_sequence", database=hb)[0][0]
    for state in ("pruned", "dumped", "estimated"):
        a = args(bed, state=state, backup_dir=backup_dir, login_password="not-the-password")
        r = run_module("oms_metadb_backup", a)
        assert r.failed, state
        assert "refused the login" in r["msg"] and "password" in r["msg"].split("refused the login")[1]
        assert "not-the-password" not in r.output
    assert query(bed, "SELECT COUNT(*) FROM heatbeat_sequence", database=hb)[0][0] == rows
    assert not os.path.exists(backup_dir)


def test_unreachable_metadb_fails_clearly_and_changes_nothing(bed, run_module, backup_dir):
    for state in ("pruned", "dumped", "restored"):
        a = args(bed, state=state, backup_dir=backup_dir, login_host="127.0.0.1", login_port=1,
                 connect_timeout=3)
        r = run_module("oms_metadb_backup", a)
        assert r.failed, state
        if state == "restored":
            assert "No backup manifest" in r["msg"]  # proves the files first, before connecting
        else:
            assert "Cannot reach the MetaDB at 127.0.0.1:1" in r["msg"] and "login_port" in r["msg"]
    assert not os.path.exists(backup_dir)


def scan_proc(password, seen, stop):
    """Look at every process's argv and environment until stopped; note mysqldump sightings."""
    needle = password.encode()
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            for what in ("cmdline", "environ"):
                try:
                    with open("/proc/%s/%s" % (pid, what), "rb") as f:
                        data = f.read()
                except (IOError, OSError):
                    continue
                if what == "cmdline" and b"mysqldump" in data.split(b"\0")[0]:
                    seen["mysqldump"].append(data.replace(b"\0", b" ").decode("utf-8", "replace"))
                if needle in data:
                    seen["leaks"].append((pid, what, data[:200]))
        time.sleep(0.005)


def test_password_never_visible_in_ps_while_mysqldump_runs(bed, run_module, backup_dir):
    hb = bed["metadb"]["cm_hb_db"]
    # enough rows that mysqldump runs for a while
    query(bed, "INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) "
               "SELECT now(), now() FROM seq_1_to_1500000", database=hb)
    seen = {"mysqldump": [], "leaks": []}
    stop = threading.Event()
    scanner = threading.Thread(target=scan_proc, args=(bed["metadb"]["password"], seen, stop))
    scanner.start()
    try:
        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir, compress="gzip"))
    finally:
        stop.set()
        scanner.join()
    assert not r.failed, r.get("msg")
    assert seen["mysqldump"], "the scan never saw mysqldump running"
    assert all("--defaults-extra-file=" in c for c in seen["mysqldump"])
    assert seen["leaks"] == []
    assert not glob.glob("/tmp/.obtools-oms-client-*")
    query(bed, "DELETE FROM heatbeat_sequence WHERE id < (SELECT MAX(id) FROM heatbeat_sequence)",
          database=hb)
