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
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
    """Per server address, seconds since its supervisor heartbeat, by the MetaDB's clock."""
    address = quote(ip_column) if ip_column else "NULL"
    return ("SELECT %s, TIMESTAMPDIFF(MICROSECOND, MAX(gmt_modified), NOW(6)) "
            "FROM %s.heart_beat WHERE task_name = %%s GROUP BY %s"
            % (address, quote(cm_hb_db), address))


def pick_ip_column(columns):
    names = [c.lower() for c in columns]
    for candidate in HEARTBEAT_IP_COLUMNS:
        if candidate in names:
            return candidate
    return None


def evaluate(hosts, heartbeat_ages, heartbeat_max_age, console=None, read_errors=None):
    """The health report from what was read.

    hosts: [(ip, host_status)] from <cm>.host; heartbeat_ages: {ip: seconds} (key None: a
    heartbeat without an address, which then stands for every server); console: None when no
    console URL was given, else console.ConsoleClient.health()'s dict; read_errors: strings for
    what could not be read this time.
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
        servers.append(dict(ip=ip, host_status=status, online=not reasons, reasons=reasons,
                            heartbeat_age=None if age is None else round(max(age, 0.0), 1)))
    problems = list(read_errors or [])
    if not hosts and not read_errors:
        problems.append("no server in the cm database's host table (OMS: CM-RESONF000001 "
                        "No alive hosts in current region)")
    console_healthy = None
    console_error = None
    if console is not None:
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
            for address, micros in self._query(heartbeat_ages_sql(self.cm_hb_db, self._ip_column),
                                               (HEARTBEAT_TASK,)):
                if micros is not None:
                    ages[address] = float(micros) / 1000000.0
        except Exception as exc:
            errors.append(self._describe(exc, "read %s.heart_beat" % self.cm_hb_db))
            self.close()
        return hosts, ages, errors


def probe(reader, heartbeat_max_age, console_client=None):
    hosts, ages, errors = reader.read()
    console = console_client.health() if console_client is not None else None
    return evaluate(hosts, ages, heartbeat_max_age, console, errors)


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
