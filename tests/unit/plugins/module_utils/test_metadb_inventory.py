"""The space estimate per engine, on a scripted connection (the dump-timeout refusal: test_dump_timeouts)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import metadb_engine, metadb_inventory


class ScriptedConn(object):
    """Answers each statement by the first rule whose key is in the SQL; records every statement."""

    def __init__(self, rules):
        self.rules = rules
        self.log = []
        self.rows = None

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, args=None):
        self.log.append(sql)
        for key, rows in self.rules:
            if key in sql:
                self.rows = rows(args) if callable(rows) else rows
                return
        raise AssertionError("unexpected statement: %s" % sql)

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def rollback(self):
        pass


def ob_conn(rows_in=100000, sample_bytes=150000, keys=()):
    return ScriptedConn([
        ("COLUMN_KEY = 'PRI'", [k + ("PRI",) for k in keys]),
        ("information_schema.COLUMNS", [("heatbeat_sequence", "id", "bigint"),
                                        ("heatbeat_sequence", "gmt_created", "datetime"),
                                        ("blobs", "id", "int"), ("blobs", "b", "blob")]),
        ("SELECT COUNT(*) FROM `cm_hb`.`heatbeat_sequence`", [(rows_in,)]),
        ("SELECT COUNT(*) FROM `cm_hb`.`blobs`", [(0,)]),
        ("sample_rows", [(1000, sample_bytes)]),
        ("@@global.ob_query_timeout", [(10000000,)]),
    ])


def test_oceanbase_estimate_counts_rows_and_samples_their_length():
    conn = ob_conn()
    est = metadb_inventory.size_estimate(conn, [("cm_hb", "cm_hb")], engine="oceanbase")
    assert est["method"] == "sampled"
    # 150 bytes a row sampled + 4 framing + 3 per value (2 columns) = 160; plus one table's overhead each
    expected = 100000 * 160 + 2 * metadb_inventory.TABLE_OVERHEAD
    assert est["total_bytes"] == expected
    assert est["databases"][0]["largest_table"] == {"table": "heatbeat_sequence", "bytes": 100000 * 160 + 2048}
    assert est["estimate_bytes"] == int(math.ceil(expected * metadb_inventory.ESTIMATE_MARGIN))
    # the sample is bounded, and no information_schema.TABLES size is trusted
    sample = [s for s in conn.log if "sample_rows" in s][0]
    assert "LIMIT %d" % metadb_inventory.SAMPLE_ROWS in sample
    assert not any("DATA_LENGTH" in s for s in conn.log)


def test_sampled_row_length_counts_hex_blobs_twice():
    sql = metadb_inventory.sampled_row_bytes_sql("db", "t", [("id", "int"), ("b", "blob"), ("v", "varbinary")])
    assert "COALESCE(LENGTH(`id`), 4)" in sql
    assert "COALESCE(2 * LENGTH(`b`) + 2, 4)" in sql and "COALESCE(2 * LENGTH(`v`) + 2, 4)" in sql
    assert "FROM `db`.`t` LIMIT 1000" in sql


def test_oceanbase_estimate_is_never_zero_for_rows_that_information_schema_calls_zero():
    est = metadb_inventory.size_estimate(ob_conn(rows_in=1, sample_bytes=10), [("cm_hb", "cm_hb")], "oceanbase")
    assert est["total_bytes"] > 0 and est["estimate_bytes"] >= metadb_inventory.ESTIMATE_MIN_BYTES


def test_mysql_and_mariadb_use_information_schema():
    conn = ScriptedConn([("information_schema.TABLES", [(3, 1000000, 200000)])])
    est = metadb_inventory.size_estimate(conn, [("rm", "rm")], engine="mariadb")
    assert est["method"] == "information_schema" and est["total_bytes"] == 1200000
    assert not any("COUNT(*) FROM `" in s for s in conn.log)  # no table is read


@pytest.mark.parametrize("version,comment,engine", [
    ("5.7.25-OceanBase seekdb-v1.4.0.0", "OceanBase 4.3.5.3 seekdb", "oceanbase"),
    ("5.7.25", "OceanBase_CE 4.2.1.2 (r1)", "oceanbase"),
    ("10.11.6-MariaDB-0+deb12u1", "Debian 12", "mariadb"),
    ("8.0.36", "MySQL Community Server - GPL", "mysql"),
    ("5.7.44", "", "mysql"),
])
def test_engine_classification(version, comment, engine):
    assert metadb_engine.classify(version, comment) == engine
    assert (metadb_engine.session_setup_sql(engine) is not None) == (engine == "oceanbase")
