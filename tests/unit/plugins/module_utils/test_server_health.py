"""Server health from host rows and heartbeat ages; the reader's SQL; the wait loop."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import server_health as sh  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402


def test_online_with_fresh_heartbeat_is_healthy():
    report = sh.evaluate([("10.0.0.5", "ONLINE")], {"10.0.0.5": 2.04}, 60)
    assert report["healthy"] is True
    assert report["servers"] == [dict(ip="10.0.0.5", host_status="ONLINE", heartbeat_age=2.0,
                                      online=True, reasons=[])]
    assert report["console_healthy"] is None and report["problems"] == []


def test_each_reason_is_named():
    report = sh.evaluate([("a", "OFFLINE"), ("b", "ONLINE"), ("c", "ONLINE")],
                         {"b": 125.3, "zz": 1.0}, 60)
    assert report["healthy"] is False
    a, b, c = report["servers"]
    assert a["reasons"] == ["host_status is OFFLINE", "no supervisor heartbeat"]
    assert not a["online"] and a["heartbeat_age"] is None
    assert b["reasons"] == ["supervisor heartbeat 125 s old (max 60 s)"]
    assert c["reasons"] == ["no supervisor heartbeat"]


def test_status_comparison_ignores_case_and_blanks_but_not_empty():
    assert sh.evaluate([("a", " online ")], {"a": 1}, 60)["healthy"]
    assert sh.evaluate([("a", None)], {"a": 1}, 60)["servers"][0]["reasons"] == ["host_status is empty"]


def test_no_hosts_is_not_healthy():
    report = sh.evaluate([], {}, 60)
    assert report["healthy"] is False
    assert "no server" in report["problems"][0]


def test_heartbeat_without_address_stands_for_every_server():
    report = sh.evaluate([("a", "ONLINE"), ("b", "ONLINE")], {None: 3.0}, 60)
    assert report["healthy"]


def test_negative_age_from_clock_rounding_counts_as_fresh():
    report = sh.evaluate([("a", "ONLINE")], {"a": -0.4}, 60)
    assert report["healthy"] and report["servers"][0]["heartbeat_age"] == 0.0


def test_console_unhealthy_makes_the_whole_unhealthy():
    console = dict(healthy=False, error="GET /oms/health says data.healthy is false")
    report = sh.evaluate([("a", "ONLINE")], {"a": 1}, 60, console)
    assert report["healthy"] is False
    assert report["console_healthy"] is False
    assert report["problems"] == ["console: GET /oms/health says data.healthy is false"]
    ok = sh.evaluate([("a", "ONLINE")], {"a": 1}, 60, dict(healthy=True, error=None))
    assert ok["healthy"] and ok["console_healthy"] is True


def test_read_errors_make_it_unhealthy():
    report = sh.evaluate([("a", "ONLINE")], {}, 60, read_errors=["read cm_hb.heart_beat: gone"])
    assert not report["healthy"]
    assert report["problems"] == ["read cm_hb.heart_beat: gone"]


def test_table_lists_only_what_is_wrong():
    hosts = [("10.0.0.5", "OFFLINE"), ("10.0.0.6", "ONLINE")]
    ages = {"10.0.0.5": 200.0, "10.0.0.6": 1.0}
    report = sh.evaluate(hosts, ages, 60, dict(healthy=False, error="HTTP 502"))
    table = sh.format_table(report).splitlines()
    assert table[0].split() == ["server", "host_status", "heartbeat", "why"]
    assert table[1].startswith("10.0.0.5")
    assert "host_status is OFFLINE; supervisor heartbeat 200 s old (max 60 s)" in table[1]
    assert "200 s" in table[1]
    assert table[2].endswith("console: HTTP 502")
    assert len(table) == 3


# -- SQL ------------------------------------------------------------------------------------

def test_sql_quotes_database_names_and_uses_the_db_clock():
    assert sh.host_rows_sql("cm_411") == "SELECT ip, host_status FROM `cm_411`.host ORDER BY ip"
    sql = sh.heartbeat_ages_sql("cm`hb", "host_ip")
    assert "`cm``hb`.heart_beat" in sql
    assert "NOW(6)" in sql and "GROUP BY `host_ip`" in sql and "task_name = %s" in sql


def test_heartbeat_ip_column_prefers_the_documented_host_ip():
    assert sh.pick_ip_column(["id", "task_type", "HOST_IP", "ip"]) == "host_ip"
    assert sh.pick_ip_column(["id", "ip"]) == "ip"
    assert sh.pick_ip_column(["id"]) is None
    assert "GROUP BY NULL" in sh.heartbeat_ages_sql("hb", "")


class FakeCursor(object):
    def __init__(self, conn):
        self.conn = conn
        self.rows = []

    def execute(self, sql, args=None):
        self.conn.executed.append((sql, args))
        answer = self.conn.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self.rows = answer

    def fetchall(self):
        return self.rows

    def close(self):
        pass


class FakeConn(object):
    def __init__(self, answers):
        self.answers = answers
        self.executed = []
        self.autocommit_value = None
        self.closed = False

    def autocommit(self, value):
        self.autocommit_value = value

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed = True


T0 = datetime.datetime(2026, 1, 2, 10, 0, 0)


def test_reader_reads_hosts_and_ages_in_seconds_with_autocommit():
    conn = FakeConn([[("10.0.0.5", "ONLINE")], [("id",), ("host_ip",)], [("10.0.0.5", 1500000, T0)]])
    reader = sh.MetaDBHealthReader(lambda: conn, "cm", "hb")
    hosts, ages, errors = reader.read()
    assert hosts == [("10.0.0.5", "ONLINE")]
    assert ages == {"10.0.0.5": 1.5}
    assert errors == []
    assert conn.autocommit_value is True
    assert conn.executed[1][1] == ("hb",)
    assert conn.executed[2][1] == ("supervisor",)
    assert reader.written == {"10.0.0.5": T0}


def test_reader_turns_a_lost_connection_into_a_reason_and_reconnects():
    first = FakeConn([RuntimeError("Lost connection to MySQL server")])
    second = FakeConn([[("a", "ONLINE")], [("ip",)], [("a", 1000000, T0)]])
    conns = [first, second]
    reader = sh.MetaDBHealthReader(lambda: conns.pop(0), "cm", "hb",
                                   translate=lambda exc, doing: OmsError("%s failed: %s" % (doing, exc)))
    hosts, ages, errors = reader.read()
    assert errors == ["read cm.host failed: Lost connection to MySQL server"]
    assert first.closed
    hosts, ages, errors = reader.read()
    assert errors == [] and ages == {"a": 1.0}


# -- waiting --------------------------------------------------------------------------------

class FakeClock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_returns_as_soon_as_healthy():
    clock = FakeClock()
    answers = [False, False, True]

    def check():
        clock.now += 0.5  # a poll takes time
        return {"healthy": answers.pop(0)}
    report, elapsed, polls = sh.wait_until_healthy(check, 60, 5, clock=clock, sleep=clock.sleep)
    assert report["healthy"] and polls == 3
    assert clock.sleeps == [5, 5]
    assert elapsed == 11.5


def test_wait_gives_up_at_the_timeout_without_oversleeping():
    clock = FakeClock()
    report, elapsed, polls = sh.wait_until_healthy(lambda: {"healthy": False}, 12, 5,
                                                   clock=clock, sleep=clock.sleep)
    assert not report["healthy"]
    assert clock.sleeps == [5, 5, 2]
    assert elapsed == 12.0 and polls == 4


def test_wait_with_zero_timeout_polls_once():
    clock = FakeClock()
    _report, elapsed, polls = sh.wait_until_healthy(lambda: {"healthy": False}, 0, 5,
                                                    clock=clock, sleep=clock.sleep)
    assert polls == 1 and clock.sleeps == []


# -- the old container's heartbeat, and a console without /oms/health ---------------------------

def test_started_after_parses_docker_times_and_refuses_other_zones():
    assert sh.parse_utc("2026-01-02T10:00:05.123456789Z") == datetime.datetime(
        2026, 1, 2, 10, 0, 5, 123456)
    assert sh.parse_utc("2026-01-02 10:00:05") == datetime.datetime(2026, 1, 2, 10, 0, 5)
    assert sh.parse_utc("2026-01-02T10:00:05+00:00") == datetime.datetime(2026, 1, 2, 10, 0, 5)
    with pytest.raises(OmsError):
        sh.parse_utc("2026-01-02T10:00:05+08:00")
    with pytest.raises(OmsError):
        sh.parse_utc("yesterday")


def test_a_heartbeat_older_than_the_start_counts_only_once_it_advances():
    watch = sh.HeartbeatWatch(T0)
    old = T0 - datetime.timedelta(seconds=20)  # the old container's last one, 20 s before start
    assert watch.judge({"a": old}) == {"a": False}
    assert watch.judge({"a": old}) == {"a": False}
    report = sh.evaluate([("a", "ONLINE")], {"a": 25.0}, 60, heartbeat_new={"a": False},
                         started_after="2026-01-02T10:00:00Z")
    assert not report["healthy"]
    assert "written before the container started" in report["servers"][0]["reasons"][0]
    # advancing while watched proves a live writer, whatever the clocks say
    assert watch.judge({"a": old + datetime.timedelta(seconds=2)}) == {"a": True}
    # written after the start: new at once
    assert sh.HeartbeatWatch(T0).judge({"a": T0 + datetime.timedelta(seconds=1)}) == {"a": True}


class FakeConsole(object):
    def __init__(self, status, healthy, password="pw", openapi_error=None):
        self.status, self.healthy, self.password = status, healthy, password
        self.openapi_error = openapi_error
        self.calls = []

    def health(self):
        return dict(healthy=self.healthy, status=self.status, data=None,
                    error=None if self.healthy else "GET /oms/health answered HTTP %s" % self.status)

    def call(self, action, body=None):
        self.calls.append((action, body))
        if self.openapi_error:
            raise OmsError(self.openapi_error)
        return {"success": "true"}


def test_console_probe_uses_the_health_url_when_it_exists():
    answer = sh.console_probe(FakeConsole(200, True))
    assert answer["healthy"] is True and "GET /oms/health" in answer["signal"]
    answer = sh.console_probe(FakeConsole(502, False))
    assert answer["healthy"] is False and "502" in answer["error"]


def test_console_probe_falls_back_to_the_openapi_on_404():
    console = FakeConsole(404, False)
    answer = sh.console_probe(console)
    assert answer["healthy"] is True and "ListProjects" in answer["signal"]
    assert console.calls == [("ListProjects", {"pageNumber": 1, "pageSize": 1})]
    refused = sh.console_probe(FakeConsole(404, False, openapi_error="HTTP 503"))
    assert refused["healthy"] is False and "HTTP 503" in refused["error"]


def test_console_probe_without_password_judges_only_the_metadb_and_says_so():
    answer = sh.console_probe(FakeConsole(404, False, password=None))
    assert answer["healthy"] is None and "404" in answer["note"]
    report = sh.evaluate([("a", "ONLINE")], {"a": 1}, 60, answer)
    assert report["healthy"] and report["console_healthy"] is None
