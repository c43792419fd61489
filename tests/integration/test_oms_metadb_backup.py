"""oms_metadb_backup against the test bed's real MetaDB (MariaDB or OceanBase): prune, dump, verify,
restore, failures, secrets.

The simulator writes heartbeat rows every second while its container runs, so the module fixture
stops the instance's OMS container first, as the upgrade role does before step 2.2.

Every comparison here is the test's own (every row of every table, read and hashed in Python), not
the collection's proof, and uses only SQL every engine answers.
"""

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import docker
import pymysql
import pytest

from obtestbed.access import connect, query

INSTANCE = os.environ.get("OMS_TEST_INSTANCE", "a")
ROLES = ("rm", "cm", "cm_hb")


@pytest.fixture(scope="module")
def bed(request):
    return stopped_bed(request)


def stopped_bed(request):
    """Instance reset to a fresh 4.1.1 deployment, its OMS container stopped; its description.

    OMS_IT_METADB_DESC=file.json runs these tests against a MetaDB described there instead (same keys
    as `testbed describe`: metadb, metadb_root, config_file), e.g. a seekdb started by hand.
    """
    override = os.environ.get("OMS_IT_METADB_DESC")
    if override:
        with open(override) as f:
            return json.load(f)
    testbed = request.getfixturevalue("testbed")
    testbed.reset(INSTANCE)
    desc = testbed.describe(INSTANCE)
    docker.from_env().containers.get(desc["old_container"]).stop(timeout=30)
    return desc


def dbs(desc):
    return [desc["metadb"]["%s_db" % r] for r in ROLES]


def engine_of(desc):
    version, comment = query(desc, "SELECT VERSION(), @@version_comment")[0]
    text = ("%s %s" % (version, comment)).lower()
    return "oceanbase" if "oceanbase" in text else "mariadb" if "mariadb" in text else "mysql"


def long_session(cur, desc):
    """OceanBase kills statements after 10 s by default: the test's own bulk statements need more."""
    if engine_of(desc) == "oceanbase":
        cur.execute("SET SESSION ob_query_timeout = 600000000, ob_trx_timeout = 600000000")


def all_checksums(desc):
    """{db: {table: sha256 of every row, in a total order}} of the three databases: the test's own proof."""
    result = {}
    conn = connect(desc)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            for db in dbs(desc):
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s "
                            "AND table_type='BASE TABLE'", (db,))
                tables = sorted(r[0] for r in cur.fetchall())
                result[db] = {}
                for t in tables:
                    # sorted here, not by ORDER BY: some engines refuse to sort on LOB columns
                    cur.execute("SELECT * FROM `%s`.`%s`" % (db, t))
                    h = hashlib.sha256()
                    for row in sorted(repr(r) for r in cur.fetchall()):
                        h.update(row.encode("utf-8"))
                    result[db][t] = h.hexdigest()
    finally:
        conn.close()
    return result


def insert_heartbeats(desc, rows):
    """`rows` heartbeat rows, generated in SQL every engine answers (no MariaDB seq_ tables)."""
    hb = desc["metadb"]["cm_hb_db"]
    conn = connect(desc, hb)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("DROP TABLE IF EXISTS it_digits")
            cur.execute("CREATE TABLE it_digits (d int PRIMARY KEY)")
            cur.execute("INSERT INTO it_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
            done = 0
            while done < rows:
                n = min(rows - done, 100000)
                cur.execute("INSERT INTO heatbeat_sequence (gmt_created, gmt_modified) SELECT now(), now() "
                            "FROM it_digits a, it_digits b, it_digits c, it_digits d, it_digits e LIMIT %d" % n)
                done += n
            cur.execute("DROP TABLE it_digits")
    finally:
        conn.close()


def clear_heartbeats(desc):
    """Back to the newest heartbeat row only (the test's own statement, long session on OceanBase)."""
    hb = desc["metadb"]["cm_hb_db"]
    conn = connect(desc, hb)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("SELECT MAX(id) FROM heatbeat_sequence")
            max_id = cur.fetchone()[0]
            if max_id is not None:
                cur.execute("DELETE FROM heatbeat_sequence WHERE id < %s", (max_id,))
    finally:
        conn.close()


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


def test_prune_100000_heartbeats_to_one(bed, run_module):
    hb = bed["metadb"]["cm_hb_db"]
    query(bed, "DELETE FROM heatbeat_sequence", database=hb)
    insert_heartbeats(bed, 100000)
    (count, max_id), = query(bed, "SELECT COUNT(*), MAX(id) FROM heatbeat_sequence", database=hb)
    assert count == 100000

    check = run_module("oms_metadb_backup", args(bed, state="pruned"), check=True)
    assert check.changed and check["rows_to_delete"] == 99999 and check["rows_deleted"] == 0
    assert query(bed, "SELECT COUNT(*) FROM heatbeat_sequence", database=hb)[0][0] == 100000

    first = run_module("oms_metadb_backup", args(bed, state="pruned", batch_size=7000))
    assert not first.failed, first.get("msg")
    assert first.changed
    assert first["rows_deleted"] == 99999 and first["rows_after"] == 1 and first["max_id"] == max_id
    assert first["workers"] == 1  # fewer rows than heartbeat.SPLIT_MIN_ROWS: one session
    assert query(bed, "SELECT id FROM heatbeat_sequence", database=hb) == ((max_id,),)

    again_check = run_module("oms_metadb_backup", args(bed, state="pruned"), check=True)
    again = run_module("oms_metadb_backup", args(bed, state="pruned"))
    assert not again_check.changed and not again.changed and again["rows_deleted"] == 0


def test_prune_while_oms_writes_keeps_new_rows_and_sizes_batches_by_time(bed, run_module):
    """The roles prune before the stop, while OMS still inserts heartbeats: rows above the max(id)
    read at the start survive, and the batches follow batch_seconds instead of batch_size."""
    hb = bed["metadb"]["cm_hb_db"]
    query(bed, "DELETE FROM heatbeat_sequence", database=hb)
    insert_heartbeats(bed, 300000)
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
    # OceanBase prunes this many rows in two ranges side by side; the rows at the cut go too (below)
    assert r["workers"] == (2 if bed["metadb"]["engine"] == "oceanbase" else 1)
    (below, total), = query(bed, "SELECT SUM(id < %s), COUNT(*) FROM heatbeat_sequence" % r["max_id"],
                            database=hb)
    assert int(below) == 0 and total >= 1  # the row at max_id and every row OMS wrote meanwhile

    # the second, in-window prune: only what was written since, starting at the first one's max_id
    insert_heartbeats(bed, 20)
    plan = run_module("oms_metadb_backup", args(bed, state="pruned", from_id=r["max_id"]), check=True)
    assert plan.changed and plan["rows_to_delete"] == total + 19
    again = run_module("oms_metadb_backup", args(bed, state="pruned", from_id=r["max_id"]))
    assert not again.failed, again.get("msg")
    assert again["rows_after"] == 1 and again["rows_deleted"] == total + 19 and again["batches"] == 1


@pytest.mark.parametrize("compress", ["none", "zstd", "gzip"])
def test_dump_then_restore_gives_row_identical_databases(bed, run_module, backup_dir, compress):
    add_tricky_data(bed)
    before = all_checksums(bed)
    a = args(bed, state="dumped", backup_dir=backup_dir, compress=compress)

    check = run_module("oms_metadb_backup", a, check=True)
    assert not check.failed, check.get("msg")
    assert check.changed and not os.path.exists(backup_dir)
    assert check["estimate_bytes"] > 0

    first = run_module("oms_metadb_backup", a)
    assert not first.failed, first.get("msg")
    assert first.changed
    manifest = first["manifest"]
    assert [d["database"] for d in manifest["databases"]] == dbs(bed)
    for entry in manifest["databases"]:
        path = os.path.join(backup_dir, entry["file"])
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert entry["size"] == os.path.getsize(path) > 0
        assert "checksums" not in entry
        assert entry["tables"] == len(before[entry["database"]])
    assert os.stat(os.path.join(backup_dir, "manifest.json")).st_mode & 0o777 == 0o600
    assert not glob.glob(os.path.join(backup_dir, ".*tmp*"))

    assert not run_module("oms_metadb_backup", a, check=True).changed
    second = run_module("oms_metadb_backup", a)
    assert not second.changed and second["manifest"] == manifest

    verified = run_module("oms_metadb_info", {"gather": ["backup"], "backup_dir": backup_dir})
    assert not verified.failed and not verified.changed
    assert verified["manifest"] == manifest

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
    assert restored["engine"]["engine"] == engine_of(bed)
    assert sorted(restored["content_digests"]) == sorted([rm, cm, hb])

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

    verified = run_module("oms_metadb_info", {"gather": ["backup"], "backup_dir": backup_dir})
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
    for name, state in (("oms_metadb_backup", "pruned"), ("oms_metadb_backup", "dumped"),
                        ("oms_metadb_info", None)):
        a = args(bed, backup_dir=backup_dir, login_password="not-the-password")
        if state:
            a["state"] = state
        r = run_module(name, a)
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


def scan_proc(password, seen, stop, databases=()):
    """Look at every process's argv and environment until stopped; note mysqldump sightings.

    Only mysqldump runs of `databases` are noted: other runs on this shared machine dump others.
    """
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
                argv = data.split(b"\0")
                if what == "cmdline" and b"mysqldump" in argv[0] and \
                        any(a.decode("utf-8", "replace") in databases for a in argv[-3:]):
                    seen["mysqldump"].append(data.replace(b"\0", b" ").decode("utf-8", "replace"))
                if needle in data:
                    seen["leaks"].append((pid, what, data[:200]))
        time.sleep(0.005)


@pytest.fixture
def global_ob_timeouts(bed):
    """On OceanBase, what the module's message tells the tenant's admin to do for long dumps.

    mysqldump runs under the tenant's global ob_query_timeout (10 s by default): the tests that
    make it run long raise it, as the operator would, and set it back afterwards.
    """
    def set_global(values=None):
        conn = root_connect(bed)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@global.ob_query_timeout, @@global.ob_trx_timeout")
                before = cur.fetchone()
                if values:
                    cur.execute("SET GLOBAL ob_query_timeout = %s" % int(values[0]))
                    cur.execute("SET GLOBAL ob_trx_timeout = %s" % int(values[1]))
        finally:
            conn.close()
        if values:
            # A new global reaches new sessions only after a while on OceanBase: wait until a new
            # session sees it, or a test meant to meet the timeout may run without it.
            deadline = time.time() + 60
            while True:
                conn = root_connect(bed)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@ob_query_timeout, @@ob_trx_timeout")
                        seen = tuple(int(v) for v in cur.fetchone())
                finally:
                    conn.close()
                if seen == (int(values[0]), int(values[1])) or time.time() > deadline:
                    break
                time.sleep(0.5)
        return before
    if engine_of(bed) != "oceanbase":
        yield set_global
        return
    before = set_global((1800 * 10 ** 6, 1800 * 10 ** 6))
    try:
        yield set_global
    finally:
        set_global(before)


def fill_table(desc, database, table, rows, key=True):
    """`table` with `rows` rows of about 400 bytes, generated in SQL (long session on OceanBase)."""
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("DROP TABLE IF EXISTS `%s`" % table)
            cur.execute("CREATE TABLE `%s` (id bigint %s, pad varchar(400), n int)"
                        % (table, "PRIMARY KEY" if key else "NOT NULL"))
            cur.execute("DROP TABLE IF EXISTS it_digits")
            cur.execute("CREATE TABLE it_digits (d int PRIMARY KEY)")
            cur.execute("INSERT INTO it_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
            done = 0
            while done < rows:
                n = min(rows - done, 100000)
                cur.execute("INSERT INTO `%s` SELECT %d + a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d, "
                            "CONCAT(REPEAT(MD5(a.d + 10*b.d + 100*c.d), 12), 'x', e.d), c.d "
                            "FROM it_digits a, it_digits b, it_digits c, it_digits d, it_digits e "
                            "WHERE a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d < %d" % (table, done + 1, n))
                done += n
            cur.execute("DROP TABLE it_digits")
        conn.commit()
    finally:
        conn.close()


def long_query(desc, database, sql):
    """One statement of the test's own, its session's timeouts raised on OceanBase."""
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute(sql)
    finally:
        conn.close()


def drop_table(desc, database, table):
    long_query(desc, database, "DROP TABLE IF EXISTS `%s`" % table)


def plain_mysqldump(desc, tmp_path, database, table):
    """The manual procedure's mysqldump of one table (the bed's MetaDB user, a 0600 defaults file)."""
    m = desc["metadb"]
    cnf = tmp_path / "plain.cnf"
    fd = os.open(str(cnf), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[client]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n" % (m["host"], m["port"], m["user"], m["password"]))
    return subprocess.run(["mysqldump", "--defaults-file=%s" % cnf, "--single-transaction", "--quick",
                           database, table], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)


def test_dump_and_restore_of_a_table_longer_than_ob_query_timeout_give_back_every_row(
        bed, run_module, backup_dir, global_ob_timeouts, tmp_path):
    """Issue 19: with the tenant at ob_query_timeout = 1 s, a plain mysqldump of a large table is
    killed; the collection's dump (in key ranges) and its restore give back every row."""
    if engine_of(bed) != "oceanbase":
        pytest.skip("ob_query_timeout is OceanBase's")
    hb = bed["metadb"]["cm_hb_db"]
    fill_table(bed, hb, "it_big", 400000)  # ~170 MB of SQL: several seconds for one SELECT
    before = all_checksums(bed)
    try:
        global_ob_timeouts((10 ** 6, 1800 * 10 ** 6))  # 1 s
        plain = plain_mysqldump(bed, tmp_path, hb, "it_big")
        assert plain.returncode != 0
        assert b"4012" in plain.stderr or b"imeout" in plain.stderr, plain.stderr[-300:]

        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
        assert not r.failed, r.get("msg")
        entry = [e for e in r["manifest"]["databases"] if e["database"] == hb][0]
        ranges = [p for p in entry["pieces"] if p.get("table") == "it_big"]
        assert len(ranges) >= 4 and ranges[0]["from"] is None and ranges[-1]["to"] is None

        # change the rows, then restore: every row comes back (the test's own digest)
        long_query(bed, hb, "DELETE FROM it_big WHERE id > 300000")
        long_query(bed, hb, "UPDATE it_big SET n = -1 WHERE id = 7")
        assert all_checksums(bed) != before
        restored = run_module("oms_metadb_backup", args(bed, state="restored", backup_dir=backup_dir))
        assert not restored.failed, restored.get("msg")
        assert restored["restored"] == [hb]
        assert all_checksums(bed) == before
    finally:
        global_ob_timeouts((1800 * 10 ** 6, 1800 * 10 ** 6))
        drop_table(bed, hb, "it_big")


def test_dump_refuses_while_another_session_uses_the_databases(bed, run_module, backup_dir):
    """The pieces are read one after another: the dump proves nobody else holds the databases."""
    rm = bed["metadb"]["rm_db"]
    other = connect(bed, rm)
    try:
        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
        with other.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID()")
            other_id = cur.fetchone()[0]
    finally:
        other.close()
    assert r.failed
    assert "Other sessions use" in r["msg"] and "id %s " % other_id in r["msg"] and rm in r["msg"]
    assert not os.path.exists(os.path.join(backup_dir, "manifest.json"))


def test_oceanbase_dump_of_a_keyless_table_killed_by_ob_query_timeout_names_the_variable(
        bed, run_module, backup_dir, global_ob_timeouts):
    """A table without an integer key is read with one SELECT: the preflight names it, and when
    the server kills it the message says what to do."""
    if engine_of(bed) != "oceanbase":
        pytest.skip("ob_query_timeout is OceanBase's")
    hb = bed["metadb"]["cm_hb_db"]
    fill_table(bed, hb, "it_nokey", 200000, key=False)
    try:
        global_ob_timeouts((200000, 1800 * 10 ** 6))  # 0.2 s: the table's SELECT outlives it
        est = run_module("oms_metadb_info", args(bed, backup_dir=backup_dir))
        assert not est.failed, est.get("msg")  # our own sessions raise their timeouts: COUNT(*) works
        assert [r["table"] for r in est["dump_timeout_risks"]] == ["it_nokey"]
        assert any("ob_query_timeout" in w for w in est.get("warnings", []))
        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
        assert r.failed
        assert "ob_query_timeout" in r["msg"] and "SET GLOBAL ob_query_timeout" in r["msg"]
        assert os.listdir(backup_dir) == []  # no manifest, no temporary dump, no defaults file
    finally:
        global_ob_timeouts((1800 * 10 ** 6, 1800 * 10 ** 6))
        drop_table(bed, hb, "it_nokey")


def test_password_never_visible_in_ps_while_mysqldump_runs(bed, run_module, backup_dir, global_ob_timeouts):
    # enough rows that mysqldump runs for a while
    insert_heartbeats(bed, 1500000)
    seen = {"mysqldump": [], "leaks": []}
    stop = threading.Event()
    scanner = threading.Thread(target=scan_proc, args=(bed["metadb"]["password"], seen, stop, dbs(bed)))
    scanner.start()
    try:
        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir, compress="gzip"))
    finally:
        stop.set()
        scanner.join()
        clear_heartbeats(bed)  # also when it failed: the next tests need a small table
    assert not r.failed, r.get("msg")
    assert seen["mysqldump"], "the scan never saw mysqldump running"
    # --defaults-file= first: no ~/.my.cnf can redirect the client; the file is in the backup dir
    assert all(c.split(" ")[1].startswith("--defaults-file=%s/.obtools-oms-client-" % backup_dir)
               for c in seen["mysqldump"]), seen["mysqldump"][:1]
    assert seen["leaks"] == []
    assert not glob.glob("/tmp/.obtools-oms-client-*")
    assert not glob.glob(os.path.join(backup_dir, ".obtools-oms-client-*"))


def module_pids(backup_dir):
    """{mysqldump pid: its parent's pid} of the mysqldump processes writing into backup_dir."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (IOError, OSError, IndexError, ValueError):
            continue
        if argv and argv[0].endswith(b"mysqldump") and len(argv) > 1 \
                and argv[1].startswith(("--defaults-file=%s/" % backup_dir).encode()):
            found[int(pid)] = ppid
    return found


def files_holding(needle, roots, since):
    """Regular files under roots, changed since `since`, whose bytes contain needle."""
    hits = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                    if not os.path.isfile(path) or st.st_mtime < since or st.st_size > 50 * 1024 * 1024:
                        continue
                    with open(path, "rb") as f:
                        if needle in f.read():
                            hits.append(path)
                except (IOError, OSError):
                    continue
    return hits


def test_sigkill_of_the_module_leaves_no_password_in_tmp_and_the_next_run_sweeps(
        bed, run_module, backup_dir, tmp_path, extra_user, global_ob_timeouts):
    """SIGKILL skips every finally: the defaults file must not be in /tmp, and the next start removes it."""
    insert_heartbeats(bed, 1500000)  # mysqldump runs long enough to be killed while it does
    try:
        _sigkill_then_rerun(bed, run_module, backup_dir, tmp_path, extra_user)
    finally:
        clear_heartbeats(bed)


def _sigkill_then_rerun(bed, run_module, backup_dir, tmp_path, extra_user):
    # a password of this test's own: other runs on the machine cannot leave it anywhere
    secret = "it-kill-%s" % hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    user = extra_user("it_kill_user", secret)
    password = secret.encode("utf-8")
    harness = tmp_path / "harness"  # the test's own args file (like an inventory) goes here, not /tmp
    harness.mkdir()
    env = dict(os.environ, TMPDIR=str(harness))
    started = time.time()
    runner = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, %r); from conftest import run_module; "
        "run_module('oms_metadb_backup', %r)") % (os.path.dirname(__file__),
                                                  args(bed, state="dumped", backup_dir=backup_dir,
                                                       login_user=user, login_password=secret))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 300
        pids = {}
        while time.time() < deadline and not pids:
            pids = module_pids(backup_dir)
            time.sleep(0.05)
        assert pids, "mysqldump never ran"
        module_pid = list(pids.values())[0]
        os.kill(module_pid, signal.SIGKILL)  # the module process: the one holding the defaults file
    finally:
        runner.wait(timeout=300)
    deadline = time.time() + 60
    while module_pids(backup_dir) and time.time() < deadline:  # mysqldump dies on its broken pipe
        time.sleep(0.2)
    left = glob.glob(os.path.join(backup_dir, ".obtools-oms-client-*.cnf"))
    assert len(left) == 1 and os.stat(left[0]).st_mode & 0o777 == 0o600
    assert os.stat(backup_dir).st_mode & 0o777 == 0o700
    # the backup directory is where the file belongs (pytest's tmp_path puts it under /tmp here)
    leaks = [p for p in files_holding(password, ["/tmp", "/var/tmp"], started - 1)
             if not p.startswith((str(harness) + "/", backup_dir + "/"))]
    assert leaks == [], "a password was left behind"
    assert not os.path.exists(os.path.join(backup_dir, "manifest.json"))

    again = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir,
                                                 login_user=user, login_password=secret))
    assert not again.failed, again.get("msg")
    assert not glob.glob(os.path.join(backup_dir, ".obtools-oms-client-*"))
    assert not glob.glob(os.path.join(backup_dir, ".*.tmp-*"))  # the killed run's partial dumps too


def root_connect(desc):
    r = desc["metadb_root"]
    return pymysql.connect(host=r["host"], port=int(r["port"]), user=r["user"], password=r["password"] or "",
                           autocommit=True, charset="utf8mb4")


@pytest.fixture
def extra_user(bed):
    """A MetaDB user of the test's own, with every grant OMS's user has on the three databases."""
    made = []

    def make(name, password):
        conn = root_connect(bed)
        try:
            with conn.cursor() as cur:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
                cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
                for db in dbs(bed):
                    cur.execute("GRANT ALL ON `%s`.* TO %%s@'%%%%'" % db, (name,))
        finally:
            conn.close()
        made.append(name)
        return name
    yield make
    conn = root_connect(bed)
    try:
        with conn.cursor() as cur:
            for name in made:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
    finally:
        conn.close()


@pytest.mark.parametrize("password", [u"p\u00e4ss-w\u00f6rd-\u20ac-\u4e2d\u6587", u"caf\u00e9 #;'\"\\"])
def test_non_ascii_password_works_in_pymysql_and_the_clients(bed, run_module, backup_dir, extra_user, password):
    user = extra_user("it_utf8_user", password)
    a = dict(args(bed, login_user=user, login_password=password), backup_dir=backup_dir)
    est = run_module("oms_metadb_info", a)                                     # PyMySQL
    assert not est.failed, est.get("msg")
    dumped = run_module("oms_metadb_backup", dict(a, state="dumped"))          # mysqldump
    assert not dumped.failed, dumped.get("msg")
    restored = run_module("oms_metadb_backup", dict(a, state="restored", force=True))  # mysql
    assert not restored.failed, restored.get("msg")
    assert password not in est.output + dumped.output + restored.output


def test_obproxy_style_user_name_reaches_the_server_unchanged(bed, run_module, backup_dir, extra_user):
    """OBProxy users are name@tenant#cluster; the proxy is not here, the name's characters are."""
    if engine_of(bed) == "oceanbase":
        pytest.skip("OceanBase itself refuses '@' and '#' in a user name (only OBProxy parses them)")
    user = extra_user("oms_meta@it_tenant#it_cluster", "pw#1;x")
    a = dict(args(bed, login_user=user, login_password="pw#1;x"), backup_dir=backup_dir)
    dumped = run_module("oms_metadb_backup", dict(a, state="dumped"))
    assert not dumped.failed, dumped.get("msg")
    assert dumped["manifest"]["metadb"]["user"] == user


def test_home_my_cnf_cannot_redirect_the_clients(bed, run_module, backup_dir, tmp_path, monkeypatch):
    """--defaults-file first: a ~/.my.cnf naming another server and user is not read at all."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text(u"[client]\nhost=192.0.2.1\nport=1\nuser=evil\npassword=evil\n"
                                  u"[mysqldump]\nwhere=1=0\n")
    monkeypatch.setenv("HOME", str(home))
    dumped = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
    assert not dumped.failed, dumped.get("msg")
    with open(os.path.join(backup_dir, "%s.sql" % bed["metadb"]["rm_db"]), "rb") as f:
        head = f.read(2000)
    assert ("-- Host: %s " % bed["metadb"]["host"]).encode() in head


def test_restore_refuses_a_dump_from_another_host_before_dropping(bed, run_module, backup_dir):
    """The dump's header must name the server the restore would load into."""
    dumped = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
    assert not dumped.failed, dumped.get("msg")
    before = all_checksums(bed)
    other = "localhost" if bed["metadb"]["host"] != "localhost" else "127.0.0.1"  # same server, another name
    r = run_module("oms_metadb_backup", args(bed, state="restored", backup_dir=backup_dir, login_host=other,
                                             force=True))
    assert r.failed and "does not come from the MetaDB" in r["msg"] and "Nothing was dropped" in r["msg"]
    assert all_checksums(bed) == before


def test_rehearsal_names_the_write_privileges_the_user_lacks(bed, run_module, backup_dir, extra_user):
    """The preflight's rehearsal probes INSERT, UPDATE and DELETE on each database (statements that
    match no row): a user who may read but not write would otherwise stop OMS, fail in
    docker_init.sh, and fail its rollback's restore too."""
    user, secret = extra_user("oms_probe_%s" % INSTANCE, "pr0be-secret"), "pr0be-secret"
    rm = bed["metadb"]["rm_db"]
    before = all_checksums(bed)
    login = dict(login_user=user, login_password=secret, backup_dir=backup_dir)
    assert not run_module("oms_metadb_backup", args(bed, state="rehearsed", **login)).failed
    conn = root_connect(bed)
    try:
        with conn.cursor() as cur:
            cur.execute("REVOKE UPDATE, DELETE ON `%s`.* FROM %%s@'%%%%'" % rm, (user,))
    finally:
        conn.close()
    refused = run_module("oms_metadb_backup", args(bed, state="rehearsed", **login))
    assert refused.failed
    assert "lacks UPDATE, DELETE on %s" % rm in refused["msg"], refused["msg"]
    assert "Grant the user ALL" in refused["msg"] and "Nothing was changed" in refused["msg"]
    assert all_checksums(bed) == before


def test_rehearsal_without_a_backup_dir_killed_leaves_no_password_in_tmp(bed, run_module, tmp_path, extra_user,
                                                                         monkeypatch):
    """The preflight's rehearsal on a first run (no backup directory yet), SIGKILLed while its
    mysqldump runs: its defaults file is in the collection's own 0700 directory, never under /tmp
    or /var/tmp; the next rehearsal removes it; the backup directory is still not created."""
    secret = "it-rehearse-%s" % hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    user = extra_user("it_rehearse_user", secret)
    missing = str(tmp_path / "no-backup-yet")
    harness = tmp_path / "harness"  # the test's own args file (like an inventory) goes here, not /tmp
    harness.mkdir()
    seen = harness / "mysqldump-saw"
    # a mysqldump that says who started it and with which defaults file, then hangs: the kill
    # lands while the module holds its defaults file, whatever the machine's speed
    fake = harness / "mysqldump"
    fake.write_text(u'#!/bin/sh\necho "$$ $PPID $1" > %s.part && mv %s.part %s\nexec sleep 300\n'
                    % (seen, seen, seen))
    fake.chmod(0o755)
    login = dict(login_user=user, login_password=secret)
    env = dict(os.environ, TMPDIR=str(harness))
    started = time.time()
    runner = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, %r); from conftest import run_module; "
        "run_module('oms_metadb_backup', %r)") % (os.path.dirname(__file__),
                                                  args(bed, state="rehearsed", backup_dir=missing,
                                                       mysqldump_path=str(fake), **login))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not seen.exists():
            time.sleep(0.05)
        assert seen.exists(), "the rehearsal never ran mysqldump"
        fake_pid, module_pid, option = seen.read_text().split(" ", 2)
        os.kill(int(module_pid), signal.SIGKILL)  # the module process: it holds the defaults file
        os.kill(int(fake_pid), signal.SIGKILL)
    finally:
        runner.wait(timeout=300)
    defaults = option.strip()[len("--defaults-file="):]
    private = os.path.dirname(defaults)
    assert option.startswith("--defaults-file=") and not defaults.startswith(("/tmp/", "/var/tmp/"))
    assert private == os.path.join(os.path.expanduser("~"), ".obtools-oms")
    assert os.stat(private).st_mode & 0o777 == 0o700
    password = secret.encode("utf-8")
    # Another module run on this host (CI runs this file on both engines at once) sweeps the files
    # of dead processes from the same private directory at its start: the file may be gone already.
    if os.path.exists(defaults):
        assert os.stat(defaults).st_mode & 0o777 == 0o600
        with open(defaults, "rb") as f:
            assert password in f.read()  # the search below can find the password: here it is
    leaks = [p for p in files_holding(password, ["/tmp", "/var/tmp"], started - 1)
             if not p.startswith(str(harness) + "/")]
    assert leaks == [], "a password was left under /tmp: %s" % leaks
    assert not os.path.exists(missing)

    monkeypatch.setattr(tempfile, "tempdir", str(harness))  # run_module's args file, as above
    again = run_module("oms_metadb_backup", args(bed, state="rehearsed", backup_dir=missing, **login))
    assert not again.failed, again.get("msg")
    assert [r["database"] for r in again["rehearsal"]] == dbs(bed)
    assert not os.path.exists(defaults), "the next run did not sweep the killed run's file"
    assert not [n for n in os.listdir(private) if n.startswith(".obtools-oms-client-%s-" % module_pid)]
    left = [p for p in files_holding(password, ["/tmp", "/var/tmp", private], started - 1)
            if not p.startswith(str(harness) + "/")]
    assert left == [], "the password is still on disk: %s" % left
    assert not os.path.exists(missing)
