"""The dump's plan reads a table's lowest key from a floor when one is known (step 2.2 left no
heartbeat row below its max(id)): on OceanBase a MIN from the index's start steps over every delete
mark of the prune, seconds inside the window. metadb_dump.read_piece_info, with a cursor that
answers as a server would and records the statements; the dump itself runs on both engines
(tests/integration/test_oms_metadb_backup.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump


class Cursor(object):
    def __init__(self, rows_at_or_above):
        self.sql = []
        self.rows_at_or_above = rows_at_or_above  # (min, max) the server finds above the floor
        self.answer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.sql.append((sql, args))
        if "information_schema.COLUMNS" in sql:
            self.answer = [("heatbeat_sequence", "id", "bigint", "PRI", "NO", None)]
        elif "information_schema.STATISTICS" in sql:
            self.answer = [("heatbeat_sequence", "PRIMARY", 0, 1, "id", None, "A")]
        elif "information_schema.TABLES" in sql:
            self.answer = [("heatbeat_sequence", 12)]
        elif "WHERE `id` >=" in sql:
            self.answer = [self.rows_at_or_above]
        elif sql.startswith("SELECT MIN"):
            self.answer = [(1, 5000012)]
        else:
            self.answer = [(0, 0)]

    def fetchall(self):
        return self.answer

    def fetchone(self):
        return self.answer[0]


class Conn(object):
    def __init__(self, cursor):
        self.cur = cursor

    def cursor(self):
        return self.cur


def min_queries(cursor):
    return [(sql, args) for sql, args in cursor.sql if sql.startswith("SELECT MIN")]


def test_with_a_floor_the_lowest_key_is_read_from_there():
    cur = Cursor(rows_at_or_above=(5000000, 5000012))
    info = metadb_dump.read_piece_info(Conn(cur), "cm_hb", ["heatbeat_sequence"], {"heatbeat_sequence": 5000000})
    assert info[0]["low"] == 5000000 and info[0]["high"] == 5000012
    assert min_queries(cur) == [("SELECT MIN(`id`), MAX(`id`) FROM `cm_hb`.`heatbeat_sequence` WHERE `id` >= %s",
                                 (5000000,))]


def test_nothing_at_or_above_the_floor_reads_the_whole_index():
    cur = Cursor(rows_at_or_above=(None, None))
    info = metadb_dump.read_piece_info(Conn(cur), "cm_hb", ["heatbeat_sequence"], {"heatbeat_sequence": 5000000})
    assert info[0]["low"] == 1 and info[0]["high"] == 5000012
    assert len(min_queries(cur)) == 2 and min_queries(cur)[1][1] is None


def test_without_a_floor_one_query_reads_both_ends():
    cur = Cursor(rows_at_or_above=(None, None))
    info = metadb_dump.read_piece_info(Conn(cur), "cm_hb", ["heatbeat_sequence"])
    assert (info[0]["low"], info[0]["high"]) == (1, 5000012)
    assert [args for _sql, args in min_queries(cur)] == [None]
