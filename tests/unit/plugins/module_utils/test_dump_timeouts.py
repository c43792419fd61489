"""The preflight's refusal of tables the dump cannot read within the statement timeout (issue 30):
which tables have no bounded plan, the timeout per engine, the rate measured, the hint; on a
scripted connection (the real refusal: tests/integration/test_oms_metadb_keyset_dump.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import dump_timeouts


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
                self.rows = rows
                return
        raise AssertionError("unexpected statement: %s" % sql)

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def rollback(self):
        pass


# cm: `logs` has no key at all, `pairs` a composite primary key, `ids` an integer one, `names` a
# unique key whose column may be NULL (no bounded plan either)
COLUMNS = [("logs", "msg", "varchar", "", "YES", "utf8mb4"),
           ("pairs", "a", "varchar", "PRI", "NO", "utf8mb4"), ("pairs", "b", "int", "PRI", "NO", None),
           ("ids", "id", "bigint", "PRI", "NO", None),
           ("names", "name", "varchar", "UNI", "YES", "utf8mb4")]
INDEXES = [("pairs", "PRIMARY", 0, 1, "a", None, "A"), ("pairs", "PRIMARY", 0, 2, "b", None, "A"),
           ("ids", "PRIMARY", 0, 1, "id", None, "A"), ("names", "uk_name", 0, 1, "name", None, "A")]


def conn_for(engine_variable, timeout, rows=10 ** 6, sample_bytes=396000):
    return ScriptedConn([
        ("@@global.%s" % engine_variable, [(timeout,)]),
        ("TABLE_TYPE = 'BASE TABLE'", [("ids",), ("logs",), ("names",), ("pairs",)]),
        ("information_schema.COLUMNS", COLUMNS),
        ("information_schema.STATISTICS", INDEXES),
        ("SELECT COUNT(*) FROM `cm`.", [(rows,)]),
        ("SELECT TABLE_ROWS FROM information_schema.TABLES", [(rows,)]),
        ("sample_rows", [(1000, sample_bytes)]),
    ])


def test_only_tables_without_a_bounded_plan_are_read_for_their_size(monkeypatch):
    # 403 bytes a row (396 sampled, 4 framing, 3 a value): 403 MB a table
    monkeypatch.setattr(dump_timeouts, "measure_rate", lambda *a: 40 * 10 ** 6)
    conn = conn_for("ob_query_timeout", 10 ** 6)  # 1 s
    risks = dump_timeouts.risks(conn, [("cm", "cm")], "oceanbase")
    assert [(r["table"], r["variable"], r["timeout_seconds"]) for r in risks] == [
        ("logs", "ob_query_timeout", 1.0), ("names", "ob_query_timeout", 1.0)]
    assert risks[0]["seconds"] == pytest.approx(10 ** 6 * 403 / 40e6, abs=0.1)
    # the keyed tables are not even counted
    assert not any("`pairs`" in s or "`ids`" in s for s in conn.log if "COUNT(*)" in s)


@pytest.mark.parametrize("rate,risky", [(40 * 10 ** 6, False), (10 ** 6, True)])
def test_the_measured_rate_decides_against_half_the_timeout(monkeypatch, rate, risky):
    # 2,000 rows of 403 bytes: 0.8 MB; half of 1 s at 40 MB/s is 20 MB, at 1 MB/s 0.5 MB
    monkeypatch.setattr(dump_timeouts, "measure_rate", lambda *a: rate)
    risks = dump_timeouts.risks(conn_for("ob_query_timeout", 10 ** 6, rows=2000), [("cm", "cm")], "oceanbase")
    assert bool(risks) is risky


@pytest.mark.parametrize("engine,variable,value,seconds", [
    ("oceanbase", "ob_query_timeout", 10 ** 7, 10.0), ("mariadb", "max_statement_time", 2.5, 2.5),
    ("mysql", "max_execution_time", 3000, 3.0), ("mariadb", "max_statement_time", 0, None)])
def test_each_engine_s_statement_timeout(engine, variable, value, seconds):
    conn = ScriptedConn([("@@global.%s" % variable, [(value,)])])
    assert dump_timeouts.statement_timeout(conn, engine) == (variable, seconds)


def test_without_a_timeout_nothing_is_read(monkeypatch):
    conn = conn_for("max_statement_time", 0)
    assert dump_timeouts.risks(conn, [("cm", "cm")], "mariadb") == []
    assert len(conn.log) == 1


def test_on_mariadb_the_rows_come_from_the_estimate_not_a_count(monkeypatch):
    monkeypatch.setattr(dump_timeouts, "measure_rate", lambda *a: 10 ** 6)
    conn = conn_for("max_statement_time", 1.0)
    assert [r["table"] for r in dump_timeouts.risks(conn, [("cm", "cm")], "mariadb")] == ["logs", "names"]
    assert not any("COUNT(*) FROM `cm`" in s for s in conn.log)


def test_the_rate_is_the_bytes_read_over_the_time_taken(monkeypatch):
    clock = iter([100.0, 102.0])
    monkeypatch.setattr(dump_timeouts.time, "time", lambda: next(clock))
    conn = ScriptedConn([("SELECT CONCAT_WS", [(b"x" * 996,)] * 1000)])
    assert dump_timeouts.measure_rate(conn, "cm", "logs", [("msg", "varchar"), ("b", "blob")], 1000.0) == 500000.0
    assert conn.log == ["SELECT CONCAT_WS(',', QUOTE(`msg`), HEX(`b`)) FROM `cm`.`logs` LIMIT 8388"]


@pytest.mark.parametrize("variable,text", [
    ("ob_query_timeout", "SET GLOBAL ob_query_timeout = 3600000000, GLOBAL ob_trx_timeout = 3600000000"),
    ("max_statement_time", "SET GLOBAL max_statement_time = 3600"),
    ("max_execution_time", "SET GLOBAL max_execution_time = 3600000")])
def test_the_hint_gives_the_variable_in_its_own_unit(variable, text):
    assert text in dump_timeouts.hint(variable, 12.0)
    assert str(4 * 5000 + 1) in dump_timeouts.hint(variable, 5000.0)
