"""Issue 30 item 4: tables whose key is not one integer column are dumped in bounded pieces too.

A new user's MetaDB on OceanBase with the tenant's ob_query_timeout at 1 s, and a large table
whose primary key has two columns: a plain mysqldump of it is killed (Error 4012), and before
issue 30 so was the collection's dump (one SELECT for any table without a single integer key).
The dump reads it in ranges of its key tuple; the restore gives back every row (the test's own
reading: an ordered digest of every row of every table). A second table with a key of a date, a
byte string and a decimal goes through the same ranges. On MariaDB (the modules' lane) the same
dump and restore run without the timeout (the test bed's MariaDB server is shared by the lanes:
a global statement timeout there would reach other tests).
"""

import os

import docker
import pytest

from obtestbed.access import connect
from playbooks import run_playbook, tail, write_inventory

from test_oms_metadb_backup import (  # noqa: F401  pylint: disable=unused-import
    all_checksums, args, engine_of, global_ob_timeouts, long_session, plain_mysqldump, root_connect, stopped_bed)


@pytest.fixture(scope="module")
def bed(request):
    return stopped_bed(request)


@pytest.fixture
def backup_dir(tmp_path):
    return str(tmp_path / "backup")


# rows of about 430 bytes: 400,000 is about 170 MB of SQL, several seconds for one SELECT on seekdb;
# on MariaDB (no timeout) enough for a few pieces
PAIR_ROWS = {"oceanbase": 400000, "mariadb": 120000}
MIXED_ROWS = 150000


def fill(desc, database, pair_rows):
    """it_pair (PRIMARY KEY (a, b): a string in a case-insensitive collation, mixed case, and an
    int) and it_mixed (PRIMARY KEY (d, v, m): datetime(6), varbinary, decimal), generated in
    the server (INSERT ... SELECT over a table of digits)."""
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            for sql in (
                    "DROP TABLE IF EXISTS it_pair", "DROP TABLE IF EXISTS it_mixed", "DROP TABLE IF EXISTS it_digits",
                    "CREATE TABLE it_pair (a varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, "
                    "b int NOT NULL, pad varchar(400), n int, PRIMARY KEY (a, b))",
                    "CREATE TABLE it_mixed (d datetime(6) NOT NULL, v varbinary(16) NOT NULL, m decimal(12,2) NOT NULL, "
                    "pad varchar(100), PRIMARY KEY (d, v, m))",
                    "CREATE TABLE it_digits (d int PRIMARY KEY)",
                    "INSERT INTO it_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)"):
                cur.execute(sql)
            x = "(a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d)"
            for chunk in range(0, pair_rows, 100000):
                # a: 'K17', 'k17 ' ... a few hundred values in mixed case (equal in the collation);
                # b: unique, so the pair is
                cur.execute("INSERT INTO it_pair SELECT CONCAT(IF(%(x)s %% 2 = 0, 'k', 'K'), %(x)s %% 331, "
                            "IF(%(x)s %% 3 = 0, ' ', '')), %(x)s + %(c)d, CONCAT(REPEAT(MD5(%(x)s), 12), 'x'), "
                            "%(x)s %% 7 FROM it_digits a, it_digits b, it_digits c, it_digits d, it_digits e "
                            "WHERE %(x)s < %(n)d" % {"x": x, "c": chunk, "n": min(100000, pair_rows - chunk)})
            cur.execute("INSERT INTO it_mixed SELECT TIMESTAMPADD(MICROSECOND, %(x)s * 1000, '2024-02-29 23:59:59') "
                        "- INTERVAL (%(x)s %% 5) DAY, UNHEX(MD5(%(x)s %% 17)), (%(x)s %% 13) - 6.25, "
                        "REPEAT('z', 90) FROM it_digits a, it_digits b, it_digits c, it_digits d, it_digits e "
                        "WHERE %(x)s < %(n)d" % {"x": x, "n": MIXED_ROWS})
            cur.execute("DROP TABLE it_digits")
        conn.commit()
    finally:
        conn.close()


def drop(desc, database):
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("DROP TABLE IF EXISTS it_pair")
            cur.execute("DROP TABLE IF EXISTS it_mixed")
    finally:
        conn.close()


def change_rows(desc, database):
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("DELETE FROM it_pair WHERE b > 300000")
            cur.execute("UPDATE it_pair SET n = -1 WHERE b = 7")
            cur.execute("DELETE FROM it_mixed WHERE m > 0")
        conn.commit()
    finally:
        conn.close()


def test_composite_key_table_at_a_1_s_query_timeout_is_dumped_and_restored_row_for_row(
        bed, run_module, backup_dir, global_ob_timeouts, tmp_path):  # noqa: F811
    oceanbase = engine_of(bed) == "oceanbase"
    cm = bed["metadb"]["cm_db"]
    fill(bed, cm, PAIR_ROWS["oceanbase" if oceanbase else "mariadb"])
    try:
        before = all_checksums(bed)
        if oceanbase:
            global_ob_timeouts((10 ** 6, 1800 * 10 ** 6))  # 1 s, as a new user's tenant may have it
            plain = plain_mysqldump(bed, tmp_path, cm, "it_pair")
            assert plain.returncode != 0, "one SELECT of it_pair should outlive 1 s; make the table larger"
            assert b"4012" in plain.stderr or b"imeout" in plain.stderr, plain.stderr[-300:]

        r = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
        assert not r.failed, r.get("msg")
        entry = [e for e in r["manifest"]["databases"] if e["database"] == cm][0]
        for table, columns, least in (("it_pair", ["a", "b"], 4 if oceanbase else 2), ("it_mixed", ["d", "v", "m"], 2)):
            pieces = [p for p in entry["pieces"] if p.get("table") == table]
            assert len(pieces) >= least, pieces
            assert all(p["keyset"] == columns for p in pieces)
            assert pieces[0]["from"] is None and pieces[-1]["to"] is None
            # each piece starts where the one before it ended
            assert all(p["from"] == q["to"] for q, p in zip(pieces, pieces[1:]))

        change_rows(bed, cm)
        assert all_checksums(bed) != before
        restored = run_module("oms_metadb_backup", args(bed, state="restored", backup_dir=backup_dir))
        assert not restored.failed, restored.get("msg")
        assert restored["restored"] == [cm]
        assert all_checksums(bed) == before
    finally:
        if oceanbase:
            global_ob_timeouts((1800 * 10 ** 6, 1800 * 10 ** 6))
        drop(bed, cm)


def fill_keyless(desc, database, rows):
    """it_loose: `rows` rows of about 430 bytes and no key at all (not even a unique one)."""
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            for sql in ("DROP TABLE IF EXISTS it_loose", "DROP TABLE IF EXISTS it_digits",
                        "CREATE TABLE it_loose (a varchar(40), b int, pad varchar(400), n int)",
                        "CREATE TABLE it_digits (d int PRIMARY KEY)",
                        "INSERT INTO it_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)"):
                cur.execute(sql)
            x = "(a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d)"
            for chunk in range(0, rows, 100000):
                cur.execute("INSERT INTO it_loose SELECT CONCAT('k', %(x)s %% 331), %(x)s + %(c)d, "
                            "CONCAT(REPEAT(MD5(%(x)s), 12), 'x'), %(x)s %% 7 FROM it_digits a, it_digits b, "
                            "it_digits c, it_digits d, it_digits e WHERE %(x)s < %(n)d"
                            % {"x": x, "c": chunk, "n": min(100000, rows - chunk)})
            cur.execute("DROP TABLE it_digits")
        conn.commit()
    finally:
        conn.close()


def test_preflight_refuses_a_large_keyless_table_at_a_1_s_query_timeout_naming_it(
        bed, request, global_ob_timeouts):  # noqa: F811
    """No key, no ranges (OceanBase's hidden primary key cannot be selected): one SELECT of the
    table would outlive the timeout, so the preflight refuses, naming the table and what to do,
    and nothing stops."""
    if engine_of(bed) != "oceanbase":
        pytest.skip("the test bed's MariaDB is shared by the lanes: no global statement timeout there")
    # the old container serving again (the module fixture stopped it): the preflight checks it runs
    instance = request.getfixturevalue("instance")
    cm = instance["metadb"]["cm_db"]
    fill_keyless(instance, cm, 300000)
    try:
        global_ob_timeouts((10 ** 6, 1800 * 10 ** 6))
        run = run_playbook(write_inventory(instance), "upgrade", {"oms_upgrade_preflight_only": "true"})
        assert run.rc != 0, tail(run)
        assert "Refuse when a table cannot be dumped within the MetaDB's statement timeout" in run.output, tail(run)
        assert "%s.it_loose" % cm in run.output and "SET GLOBAL ob_query_timeout" in run.output, tail(run)
        assert "add a primary key" in run.output, tail(run)
        # before any stop: the old container serves, no new one, no dump
        client = docker.from_env()
        assert client.containers.get(instance["old_container"]).status == "running"
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(instance["new_container"])
        assert not os.path.exists(os.path.join(instance["backup_dir"], "manifest.json"))
    finally:
        global_ob_timeouts((1800 * 10 ** 6, 1800 * 10 ** 6))
        drop_keyless(instance, cm)


def drop_keyless(desc, database):
    conn = connect(desc, database)
    try:
        with conn.cursor() as cur:
            long_session(cur, desc)
            cur.execute("DROP TABLE IF EXISTS it_loose")
    finally:
        conn.close()
