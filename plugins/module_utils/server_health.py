# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Are the OMS servers Online? What the console's Servers page shows, read where OMS keeps it.

OMS's host-down guide (oceanbase/oms-doc, zh-CN/1400.faq/100.general-o-m/400.oms-host-down-guide.md)
checks two things in the MetaDB: `SELECT ip, host_status FROM host` in the cm database must say
ONLINE, and the `heart_beat` rows with task_name='supervisor' in the cm heartbeat database must
have a current gmt_modified. That guide names the heartbeat's address column `host_ip`; the test
bed's simulator may call it `ip`, so the column is looked up rather than assumed.

The heartbeat's age is computed by the MetaDB (NOW(6) - gmt_modified) so that the OMS host's and
the MetaDB's clocks may disagree without making a fresh heartbeat look stale.

Right after an upgrade the OLD container's last heartbeat may still be younger than the age
limit, so with `started_after` (the new container's start, UTC) a heartbeat counts only when it
was written after that moment (compared on the MetaDB's clock: the start is shifted by the
MetaDB's offset from UTC) or when it advanced while we watched, which only a live writer does.

The console's GET /oms/health is in OceanBase's deployer (obdeploy plugins/oms/1.0.0/
health_check.py) but in no OMS doc: when it answers 404 the console is judged by the documented
OpenAPI instead (ListProjects, one item), when credentials are given. `signals` says what was used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

ONLINE = "ONLINE"
HEARTBEAT_TASK = "supervisor"
HEARTBEAT_IP_COLUMNS = ("host_ip", "ip")


def quote(name):
    return "`%s`" % name.replace("`", "``")


def host_rows_sql(cm_db):
    return "SELECT ip, host_status FROM %s.host ORDER BY ip" % quote(cm_db)


def heartbeat_columns_sql():
    return ("SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'heart_beat'")


def heartbeat_ages_sql(cm_hb_db, ip_column):
    """Per server address, seconds since its supervisor heartbeat (by the MetaDB's clock) and
    the heartbeat's gmt_modified."""
    address = quote(ip_column) if ip_column else "NULL"
    return ("SELECT %s, TIMESTAMPDIFF(MICROSECOND, MAX(gmt_modified), NOW(6)), MAX(gmt_modified) "
            "FROM %s.heart_beat WHERE task_name = %%s GROUP BY %s"
            % (address, quote(cm_hb_db), address))


UTC_OFFSET_SQL = "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())"


def parse_utc(text):
    """'2024-05-06T09:01:00.123456789Z' (docker's StartedAt) or '2024-05-06 09:01:00' -> naive
    UTC datetime; raises OmsError for anything else."""
    value = (text or "").strip().rstrip("Z").replace("T", " ")
    if "+" in value:
        value, dummy, offset = value.partition("+")
        if offset not in ("00:00", "0000", "00"):
            raise OmsError("started_after %r is not in UTC" % text,
                           "Give the time in UTC, as docker inspect's State.StartedAt")
    if "." in value:
        value, dummy, fraction = value.partition(".")
        value += "." + (fraction + "000000")[:6]
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(value, layout)
        except ValueError:
            pass
    raise OmsError("started_after %r is not a time" % text,
                   "Give it as 2024-05-06T09:01:00Z (docker inspect's State.StartedAt)")


class HeartbeatWatch(object):
    """Whether each server's heartbeat was written after the new container started."""

    def __init__(self, started_local):
        self.started_local = started_local   # the start on the MetaDB's clock
        self.first_seen = {}

    def judge(self, written):
        """{address: gmt_modified} -> {address: True/False}."""
        verdict = {}
        for address, value in written.items():
            first = self.first_seen.setdefault(address, value)
            verdict[address] = bool(value is not None and (
                value > self.started_local or (first is not None and value > first)))
        return verdict


def pick_ip_column(columns):
    names = [c.lower() for c in columns]
    for candidate in HEARTBEAT_IP_COLUMNS:
        if candidate in names:
            return candidate
    return None


def evaluate(hosts, heartbeat_ages, heartbeat_max_age, console=None, read_errors=None,
             heartbeat_new=None, started_after=None):
    """The health report from what was read.

    hosts: [(ip, host_status)] from <cm>.host; heartbeat_ages: {ip: seconds} (key None: a
    heartbeat without an address, which then stands for every server); console: None when no
    console URL was given, else console.ConsoleClient.health()'s dict; read_errors: strings for
    what could not be read this time; heartbeat_new: None, or {ip: whether the heartbeat was
    written after started_after (the new container's start)}.
    Returns {servers, healthy, console_healthy, console_error, problems}.
    """
    servers = []
    for ip, status in hosts:
        reasons = []
        status_text = (status or "").strip()
        if status_text.upper() != ONLINE:
            reasons.append("host_status is %s" % (status_text or "empty"))
        age = heartbeat_ages.get(ip, heartbeat_ages.get(None))
        if age is None:
            reasons.append("no %s heartbeat" % HEARTBEAT_TASK)
        elif age > heartbeat_max_age:
            reasons.append("%s heartbeat %.0f s old (max %s s)" % (HEARTBEAT_TASK, age, heartbeat_max_age))
        elif heartbeat_new is not None and not heartbeat_new.get(ip, heartbeat_new.get(None)):
            reasons.append("%s heartbeat written before the container started (%s) and not "
                           "advanced since: it may be the old container's" % (
                               HEARTBEAT_TASK, started_after))
        servers.append(dict(ip=ip, host_status=status, online=not reasons, reasons=reasons,
                            heartbeat_age=None if age is None else round(max(age, 0.0), 1)))
    problems = list(read_errors or [])
    if not hosts and not read_errors:
        problems.append("no server in the cm database's host table (OMS: CM-RESONF000001 "
                        "No alive hosts in current region)")
    console_healthy = None
    console_error = None
    if console is not None and console.get("healthy") is not None:
        console_healthy = bool(console.get("healthy"))
        console_error = console.get("error")
        if not console_healthy:
            problems.append("console: %s" % (console_error or "not healthy"))
    healthy = (bool(servers) and all(s["online"] for s in servers) and not read_errors
               and console_healthy is not False)
    return dict(servers=servers, healthy=healthy, console_healthy=console_healthy,
                console_error=console_error, problems=problems)


def format_table(report):
    """A short table of the servers that are not online, and why (for a failure message)."""
    rows = [("server", "host_status", "heartbeat", "why")]
    for server in report["servers"]:
        if server["online"]:
            continue
        age = server["heartbeat_age"]
        rows.append((str(server["ip"]), str(server["host_status"]),
                     "-" if age is None else "%.0f s" % age, "; ".join(server["reasons"])))
    for problem in report["problems"]:
        rows.append(("-", "-", "-", problem))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in rows]
    return "\n".join(line.rstrip() for line in lines)


class MetaDBHealthReader(object):
    """Reads <cm>.host and <cm_hb>.heart_beat over one connection, reconnecting when it drops.

    `connect` is a callable returning a DB-API connection (metadb.connect bound to the
    settings); `translate` turns a driver error into an OmsError.
    """

    def __init__(self, connect, cm_db, cm_hb_db, translate=None):
        self._connect = connect
        self.cm_db = cm_db
        self.cm_hb_db = cm_hb_db
        self._translate = translate
        self._conn = None
        self._ip_column = None
        self.written = {}

    def open(self):
        """Connect now, so that a wrong password fails at once instead of after the timeout."""
        if self._conn is None:
            self._conn = self._connect()
            try:
                self._conn.autocommit(True)  # each poll must see new rows, not one snapshot
            except AttributeError:
                pass
        return self._conn

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a dropped connection may fail; nothing to do about it
                pass
            self._conn = None

    def _query(self, sql, args=None):
        cursor = self.open().cursor()
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _describe(self, exc, doing):
        if isinstance(exc, OmsError):
            return exc.msg
        if self._translate is not None:
            return self._translate(exc, doing).msg
        return "%s: %s" % (doing, exc)

    def read(self):
        """(hosts, heartbeat_ages, read_errors); never raises for what a poll may outgrow."""
        errors = []
        hosts = []
        ages = {}
        try:
            hosts = [(row[0], row[1]) for row in self._query(host_rows_sql(self.cm_db))]
        except Exception as exc:  # driver errors: table missing mid-upgrade, connection lost
            errors.append(self._describe(exc, "read %s.host" % self.cm_db))
            self.close()
            return hosts, ages, errors
        try:
            if self._ip_column is None:
                columns = [row[0] for row in self._query(heartbeat_columns_sql(), (self.cm_hb_db,))]
                self._ip_column = pick_ip_column(columns) or ""
            self.written = {}
            for address, micros, written in self._query(
                    heartbeat_ages_sql(self.cm_hb_db, self._ip_column), (HEARTBEAT_TASK,)):
                if micros is not None:
                    ages[address] = float(micros) / 1000000.0
                    self.written[address] = written
        except Exception as exc:
            errors.append(self._describe(exc, "read %s.heart_beat" % self.cm_hb_db))
            self.close()
        return hosts, ages, errors

    def utc_offset(self):
        """Seconds the MetaDB's NOW() is ahead of UTC (its session time zone)."""
        rows = self._query(UTC_OFFSET_SQL)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def console_probe(client):
    """The console's health: GET /oms/health, or the OpenAPI when that URL is absent (404).

    Returns {healthy (None: not judged), error, signal}."""
    answer = client.health()
    if answer.get("status") != 404:
        return dict(healthy=answer["healthy"], error=answer.get("error"),
                    signal="console GET /oms/health data.healthy")
    if not client.password:
        return dict(healthy=None, error=None,
                    signal=None, note="GET /oms/health answered 404 (this OMS does not serve it) "
                                      "and no console_password was given: the console was not "
                                      "judged, only the MetaDB")
    try:
        client.call("ListProjects", {"pageNumber": 1, "pageSize": 1})
    except OmsError as exc:
        return dict(healthy=False, error="OpenAPI ListProjects: %s" % exc.msg,
                    signal="console OpenAPI ListProjects (GET /oms/health answered 404)")
    return dict(healthy=True, error=None,
                signal="console OpenAPI ListProjects (GET /oms/health answered 404)")


def probe(reader, heartbeat_max_age, console_client=None, watch=None, started_after=None):
    hosts, ages, errors = reader.read()
    heartbeat_new = watch.judge(reader.written) if watch is not None else None
    console = console_probe(console_client) if console_client is not None else None
    report = evaluate(hosts, ages, heartbeat_max_age, console, errors, heartbeat_new,
                      started_after)
    signals = ["MetaDB %s.host host_status ONLINE" % reader.cm_db,
               "MetaDB %s.heart_beat supervisor gmt_modified younger than %s s%s" % (
                   reader.cm_hb_db, heartbeat_max_age,
                   "" if watch is None else " and written after %s (or advancing)"
                   % started_after)]
    if console is not None and console.get("signal"):
        signals.append(console["signal"])
    report["signals"] = signals
    report["notes"] = [console["note"]] if console is not None and console.get("note") else []
    return report


def wait_until_healthy(check, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Call check() until its report says healthy or `timeout` seconds have passed.

    Returns (report, elapsed seconds with one decimal, polls). The last report is returned
    either way; the caller decides what an unhealthy one means.
    """
    start = clock()
    polls = 0
    while True:
        report = check()
        polls += 1
        elapsed = clock() - start
        if report["healthy"] or elapsed >= timeout:
            return report, round(elapsed, 1), polls
        sleep(max(0.0, min(interval, timeout - elapsed)))


def check_servers(settings, connect, translate, console_client=None, wait=True, timeout=960, interval=5,
                  heartbeat_max_age=60, started_after=None):
    """Read (and with `wait`, wait for) every server Online and the console healthy, as
    oms_server_health and the upgrade window's step 7 do. `connect` and `translate` are metadb's.
    Returns the result; raises OmsError (with the result and the table) when `wait` ran out."""
    for name, value in (("timeout", timeout), ("interval", interval), ("heartbeat_max_age", heartbeat_max_age)):
        if value < (0 if name == "timeout" else 1):
            raise OmsError("%s must be positive, not %s" % (name, value), "Give a number of seconds")
    settings.require("cm_db", "cm_hb_db")
    reader = MetaDBHealthReader(lambda: connect(settings), settings.cm_db, settings.cm_hb_db,
                                translate=lambda exc, doing: translate(exc, settings, doing=doing))
    reader.open()  # a wrong password or an unreachable MetaDB fails now, not after the timeout
    watch = None
    if started_after:
        watch = HeartbeatWatch(parse_utc(started_after) + datetime.timedelta(seconds=reader.utc_offset()))
    try:
        def check():
            return probe(reader, heartbeat_max_age, console_client, watch, started_after)
        if wait:
            report, elapsed, polls = wait_until_healthy(check, timeout, interval)
        else:
            report, elapsed, polls = check(), 0.0, 1
    finally:
        reader.close()
    result = dict(changed=False, servers=report["servers"], healthy=report["healthy"],
                  console_healthy=report["console_healthy"], problems=report["problems"],
                  signals=report["signals"], notes=report["notes"], elapsed=elapsed, polls=polls)
    if wait and not report["healthy"]:
        table = format_table(report)
        raise OmsError("OMS servers are not all online after %s s (timeout %s s):\n%s\nJudged by: %s"
                       % (elapsed, timeout, table, "; ".join(report["signals"])),
                       "Look at the container (docker logs; supervisorctl status inside it), its "
                       "OMS_HOST_IP and config.yaml's cm_nodes, and /home/admin/logs/docker_init*.log",
                       table=table, **result)
    return result
