"""A dump in pieces (issue 19): the plan (pure), and the pieces put back together in order, with a
real process standing in for mysqldump (it answers --no-data, --no-create-info and --where)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import dump_files, dump_keys, dump_pieces, metadb_dump  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import mysql_clients  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402


# -- the plan ------------------------------------------------------------------------------------

def walk(ranges, seconds_per_key=None):
    """Every piece a TableRanges hands out, each measured at `seconds_per_key` when given."""
    pieces = []
    while True:
        piece = ranges.take()
        if piece is None:
            return pieces
        pieces.append(piece)
        if seconds_per_key is not None:
            ranges.measured(piece["width"], piece["width"] * seconds_per_key)


def covered(pieces, low, high):
    """The keys of [low, high] each piece reads (first and last are open-ended)."""
    keys = []
    for p in pieces:
        start = low if p["from"] is None else p["from"]
        end = high + 1 if p["to"] is None else p["to"]
        keys.extend(range(start, end))
    return keys


@pytest.mark.parametrize("low,high,width", [(1, 1, 5), (1, 10, 3), (5, 104, 10), (-7, 7, 2), (0, 99, 1)])
def test_ranges_cover_every_key_once_and_leave_both_ends_open(low, high, width):
    pieces = walk(dump_pieces.TableRanges("t", "id", low, high, width, 1.0))
    assert pieces[0]["from"] is None and pieces[-1]["to"] is None
    assert all(a["to"] == b["from"] for a, b in zip(pieces, pieces[1:]))
    assert covered(pieces, low, high) == list(range(low, high + 1))


def test_ranges_follow_the_measured_rate_and_grow_at_most_twice_per_piece():
    # 1 ms a key, target 0.25 s: 250 keys a piece once measured; the first is 10 keys wide
    ranges = dump_pieces.TableRanges("t", "id", 1, 100000, 10, 0.25)
    pieces = walk(ranges, seconds_per_key=0.001)
    widths = [p["width"] for p in pieces]
    assert widths[:6] == [10, 20, 40, 80, 160, 250]
    assert max(widths) == 250  # no piece is longer than the target at the measured rate
    assert covered(pieces, 1, 100000) == list(range(1, 100001))


def test_a_slower_rate_shrinks_the_next_range_at_once():
    ranges = dump_pieces.TableRanges("t", "id", 1, 10 ** 6, 1000, 0.25)
    first = ranges.take()
    ranges.measured(first["width"], 1.0)  # 1000 keys took 1 s: 4 times the target
    assert ranges.take()["width"] == 250


def test_target_is_a_quarter_of_the_query_timeout_and_at_most_piece_seconds():
    assert dump_pieces.target_seconds(None) == dump_pieces.PIECE_SECONDS
    assert dump_pieces.target_seconds(1.0) == 0.25
    assert dump_pieces.target_seconds(100.0) == dump_pieces.PIECE_SECONDS


def test_first_width_from_the_sampled_row_length():
    # 10 MB/s for 0.25 s of rows of 500 bytes
    assert dump_pieces.first_width(500, 0.25, rate=10 * 1024 * 1024) == int(10 * 1024 * 1024 * 0.25 / 500)
    assert dump_pieces.first_width(None, 1.0, rate=100) == 100


def test_plan_splits_large_keyed_tables_and_groups_the_small_ones_in_name_order():
    tables = [
        {"table": "z_small", "key": "id", "low": 1, "high": 10, "row_bytes": 100},
        {"table": "big", "key": "id", "low": 1, "high": 10 ** 6, "row_bytes": 400},
        {"table": "a_nokey", "key": None, "low": None, "high": None, "rows": 5},
        {"table": "c_empty", "key": "id", "low": None, "high": None},
        {"table": "d", "key": "id", "low": 3, "high": 3, "row_bytes": 10},
    ]
    units = dump_pieces.plan_units(tables, 0.25, rate=10 * 1024 * 1024)
    assert [u[0] for u in units] == ["group", "ranges", "group"]
    assert units[0][1] == ["a_nokey"] and units[2][1] == ["c_empty", "d", "z_small"]
    assert units[1][1].table == "big" and units[1][1].width == dump_pieces.first_width(400, 0.25)


def test_int_key_only_for_one_integer_primary_key_column():
    assert dump_pieces.int_key([("id", "bigint", "PRI"), ("x", "varchar", "")]) == "id"
    assert dump_pieces.int_key([("id", "varchar", "PRI")]) is None
    assert dump_pieces.int_key([("a", "int", "PRI"), ("b", "int", "PRI")]) is None
    assert dump_pieces.int_key([("a", "int", "UNI")]) is None


def test_where_and_args_of_a_recorded_piece():
    assert dump_pieces.range_where("id", None, 10) == "`id` < 10"
    assert dump_pieces.range_where("i`d", 10, 20) == "`i``d` >= 10 AND `i``d` < 20"
    assert dump_pieces.range_where("id", 10, None) == "`id` >= 10"
    assert dump_pieces.piece_args({"table": "t", "key": "id", "from": 1, "to": 2}) == (["--where=`id` >= 1 AND `id` < 2"], ["t"])
    assert dump_pieces.piece_args({"tables": ["a", "b"]}) == ([], ["a", "b"])


# -- the pieces put back together ----------------------------------------------------------------

FAKE = r'''
import os, re, sys
args = [a for a in sys.argv[1:] if not a.startswith("--")]
opts = [a for a in sys.argv[1:] if a.startswith("--")]
db, tables = args[0], args[1:]
rows = {"big": 1000, "small": 3}
out = sys.stdout
if os.environ.get("FAKE_FAIL") and os.environ["FAKE_FAIL"] in " ".join(sys.argv):
    sys.stderr.write("ERROR 4012 (HY000): Timeout, query has reached the maximum query timeout\n")
    sys.exit(2)
out.write("/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n--\n-- Host: 10.0.0.1    Database: %s\n"
          "-- ------\n\n/*!40101 SET NAMES utf8mb4 */;\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n" % db)
if "--no-data" in opts and "--no-create-info" not in opts:
    for t in sorted(rows):
        out.write("\n--\n-- Table structure for table `%s`\n--\n\nDROP TABLE IF EXISTS `%s`;\n"
                  "CREATE TABLE `%s` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n);\n" % (t, t, t))
elif "--no-data" not in opts:
    where = [o for o in opts if o.startswith("--where=")]
    low, high = 1, 10 ** 9
    if where:
        m = re.search(r">= (-?\d+)", where[0]); low = int(m.group(1)) if m else low
        m = re.search(r"< (-?\d+)", where[0]); high = int(m.group(1)) if m else high
    for t in tables:
        ids = [i for i in range(1, rows[t] + 1) if low <= i < high]
        out.write("\n--\n-- Dumping data for table `%s`\n--\n\nLOCK TABLES `%s` WRITE;\n" % (t, t))
        if ids:
            out.write("INSERT INTO `%s` VALUES\n%s;\n" % (t, ",\n".join("(%d)" % i for i in ids)))
        out.write("UNLOCK TABLES;\n")
if os.environ.get("FAKE_TRUNCATE") and os.environ["FAKE_TRUNCATE"] in " ".join(sys.argv):
    sys.exit(0)
out.write("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed\n")
'''


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "mysqldump.py"
    script.write_text(FAKE)
    wrapper = tmp_path / "mysqldump"
    wrapper.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, script))
    wrapper.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    return str(wrapper), str(work)


def run_pieced(fake, width=100, workers=3, recorded=None):
    mysqldump, work = fake
    out = os.path.join(work, "db.sql")
    pieced = metadb_dump.PiecedDump(work, mysqldump, "defaults.cnf", workers=workers)
    units = None
    if recorded is None:
        units = [("ranges", dump_pieces.TableRanges("big", "id", 1, 1000, width, 1.0)), ("group", ["small"])]
    pieced.add("db", mysql_clients.AssemblySink(out, "none"), units=units, recorded=recorded)
    pieced.run()
    with open(out, "rb") as f:
        return f.read(), pieced.dbs[0].result, pieced.plan(pieced.dbs[0])


def ids(text, table):
    found = []
    for stmt in re.findall(br"INSERT INTO `%s` VALUES\n(.*?);\n" % table.encode(), text, re.S):
        found.extend(int(x) for x in re.findall(br"\((\d+)\)", stmt))
    return found


@pytest.mark.parametrize("workers", [1, 3])
def test_pieces_are_put_together_in_order_as_one_plain_dump(fake, workers):
    text, result, plan = run_pieced(fake, width=37, workers=workers)
    assert ids(text, "big") == list(range(1, 1001)) and ids(text, "small") == [1, 2, 3]
    assert text.count(b"-- Host: ") == 1 and text.count(b"-- Dump completed") == 1
    assert text.count(b"SET @OLD_SQL_NOTES") == 1 and text.count(b"SET SQL_MODE=@OLD_SQL_MODE") == 1
    # schema first, then the data, then the footer
    assert text.index(b"CREATE TABLE `small`") < text.index(b"INSERT INTO `big`") < text.index(b"-- Dump completed")
    assert text.rstrip().endswith(b"-- Dump completed")
    assert result["scan"]["create_tables"] == 2 and result["scan"]["completed"]
    assert result["scan"]["header_database"] == "db" and result["size"] == len(text)
    assert len([p for p in plan if p.get("key")]) >= 2 and plan[-1] == {"tables": ["small"]}
    assert [n for n in os.listdir(fake[1]) if n != "db.sql"] == []  # no piece left behind


def test_the_recorded_plan_gives_back_the_same_bytes(fake):
    text, _result, plan = run_pieced(fake, width=37)
    os.unlink(os.path.join(fake[1], "db.sql"))
    again, _result, plan_again = run_pieced(fake, recorded=plan, workers=2)
    assert again == text and plan_again == plan


def test_a_failed_piece_fails_the_dump_with_its_error_and_leaves_nothing(fake, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "`id` >= 26 AND")
    with pytest.raises(OmsError) as err:
        run_pieced(fake, width=25)
    assert "4012" in err.value.msg and "ob_query_timeout" in err.value.hint
    assert os.listdir(fake[1]) == ["db.sql"]  # the caller removes its own output; no piece is left


def test_a_truncated_piece_is_refused(fake, monkeypatch):
    monkeypatch.setenv("FAKE_TRUNCATE", "--where=`id` >= 26 AND")
    with pytest.raises(OmsError) as err:
        run_pieced(fake, width=25)
    assert "truncated" in err.value.msg and "big where `id` >= 26 AND `id` < " in err.value.msg


def test_header_and_footer_offsets():
    out = (b"-- Host: h    Database: d\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\nBODY\n"
           b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n-- Dump completed\n")
    start = dump_pieces.header_end(out)
    end = dump_pieces.footer_start(out[10:], 10)
    assert out[start:end] == b"BODY\n"
    assert dump_pieces.header_end(b"-- no header\n") is None
    assert dump_files.COMPLETION_PREFIX in out[end:]


class SeekConn(object):
    """A MetaDB connection answering dump_keys' seeks over the fake's ids 1..1000 (key `id`)."""

    def __init__(self, log):
        self.log = log
        self.row = None

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, args=None):
        self.log.append(sql)
        if sql.startswith("SET time_zone"):
            return
        low = re.search(r"`id` >= (\d+)", sql)
        skip = int(re.search(r"LIMIT (\d+), 1", sql).group(1))
        keys = [i for i in range(1, 1001) if not low or i >= int(low.group(1))]
        self.row = ("%d" % keys[skip],) if skip < len(keys) else None

    def fetchone(self):
        return self.row

    def rollback(self):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("workers", [1, 3])
def test_key_tuple_pieces_wait_for_their_seek_and_give_every_row_once_in_order(fake, workers):
    mysqldump, work = fake
    out = os.path.join(work, "db.sql")
    log = []
    pieced = metadb_dump.PiecedDump(work, mysqldump, "defaults.cnf", workers=workers,
                                    connect=lambda: SeekConn(log))
    units = [("keyset", dump_keys.KeysetRanges("big", [("id", "int", None)], 90, 1.0, dump_pieces.next_width)),
             ("group", ["small"])]
    pieced.add("db", mysql_clients.AssemblySink(out, "none"), units=units)
    pieced.run()
    with open(out, "rb") as f:
        text = f.read()
    plan = pieced.plan(pieced.dbs[0])
    assert ids(text, "big") == list(range(1, 1001)) and ids(text, "small") == [1, 2, 3]
    ranged = [p for p in plan if p.get("keyset")]
    assert len(ranged) >= 3 and ranged[0]["from"] is None and ranged[-1]["to"] is None
    assert all(p["from"] == q["to"] for q, p in zip(ranged, ranged[1:]))
    assert sum(1 for sql in log if "LIMIT" in sql) == len(ranged)
    # the restore's proof replays the recorded pieces without a seek
    os.unlink(out)
    again = metadb_dump.PiecedDump(work, mysqldump, "defaults.cnf", workers=2)
    again.add("db", mysql_clients.AssemblySink(out, "none"), recorded=plan)
    again.run()
    with open(out, "rb") as f:
        assert f.read() == text
