# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which tables the dump could not read within the MetaDB's statement timeout: the preflight's
refusal, before anything stops.

mysqldump runs each SELECT under the server's global statement timeout (OceanBase's
ob_query_timeout, MariaDB's max_statement_time, MySQL's max_execution_time: it cannot raise its
own). The dump reads a table with a key in ranges short enough (an integer key: dump_pieces; a key
tuple: dump_keys), so only a table without any usable key is read with one statement. OceanBase's
hidden primary key of such a table (`__pk_increment`) cannot be selected (seekdb 1.4: error 1054),
so it offers no ranges either. Such a table is a risk when its size, read at the rate measured
here over the same link (a bounded sample of its rows, formatted in the server as mysqldump writes
them), would take more than RISK_SHARE of the timeout.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.obtools.oms.plugins.module_utils import dump_keys, dump_pieces, metadb, metadb_inventory

# a single statement may take this share of the timeout (the window's pieces share the link)
RISK_SHARE = 0.5
# bytes of rows read to measure the rate, and the bounds on the rows read for it
RATE_SAMPLE_BYTES = 8 * 1024 * 1024
RATE_SAMPLE_ROWS = (1000, 200000)
# the timeout the hint suggests: the table's estimated time times this, at least an hour
HINT_FACTOR = 4
HINT_MIN_SECONDS = 3600

# (variable, its unit in seconds) per engine
VARIABLES = {"oceanbase": ("ob_query_timeout", 1e-6), "mariadb": ("max_statement_time", 1.0),
             "mysql": ("max_execution_time", 1e-3)}


def statement_timeout(conn, engine):
    """(variable, seconds) of the global statement timeout mysqldump's sessions run under, or
    (variable, None) when there is none (0)."""
    variable, unit = VARIABLES.get(engine, VARIABLES["mysql"])
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT @@global.%s" % variable)
            value = cur.fetchone()[0]
        except metadb.pymysql.err.MySQLError:
            # a server without it (MySQL before 5.7.8) has no such kill
            return variable, None
    seconds = float(value or 0) * unit
    return variable, (seconds if seconds > 0 else None)


def hint(variable, seconds):
    """How to give mysqldump's statements `seconds`, in the variable's own unit."""
    want = max(HINT_MIN_SECONDS, int(seconds * HINT_FACTOR) + 1)
    if variable == "ob_query_timeout":
        return ("as the tenant's administrator: SET GLOBAL ob_query_timeout = %d, GLOBAL ob_trx_timeout = %d "
                "(microseconds); set them back after the upgrade" % (want * 1000000, want * 1000000))
    if variable == "max_statement_time":
        return "SET GLOBAL max_statement_time = %d (seconds); set it back after the upgrade" % want
    return "SET GLOBAL max_execution_time = %d (milliseconds); set it back after the upgrade" % (want * 1000)


def unbounded_tables(cur, database, tables):
    """{table: [(column, data type)]} of the tables the dump reads with one statement: no
    single-column integer primary key, no key tuple (dump_keys.choose_key)."""
    cur.execute("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_KEY, IS_NULLABLE, CHARACTER_SET_NAME "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME, ORDINAL_POSITION", (database,))
    columns = {}
    for row in cur.fetchall():
        columns.setdefault(row[0], []).append(tuple(row[1:]))
    cur.execute("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION "
                "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX", (database,))
    indexes = {}
    for row in cur.fetchall():
        indexes.setdefault(row[0], []).append(tuple(row[1:]))
    found = {}
    for table in tables:
        cols = columns.get(table, [])
        if dump_pieces.int_key(cols) is not None:
            continue
        if dump_keys.choose_key([(c[0], c[1], c[3], c[4]) for c in cols], indexes.get(table, [])) is not None:
            continue
        found[table] = [(c[0], c[1]) for c in cols]
    return found


def _rows(cur, database, table, engine):
    """Rows of a table: COUNT(*) on OceanBase (information_schema reads 0 there; our session's
    timeouts are raised), the estimate elsewhere (COUNT(*) is a full scan, under the timeout)."""
    if engine == "oceanbase":
        cur.execute("SELECT COUNT(*) FROM %s.%s" % (metadb.quote_identifier(database), metadb.quote_identifier(table)))
        return int(cur.fetchone()[0])
    cur.execute("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (database, table))
    row = cur.fetchone()
    return int(row[0] or 0) if row else 0


def rate_sql(database, table, columns, rows):
    """A bounded read of `rows` rows, each formatted in the server roughly as mysqldump writes it
    (one string a row, so that the client's own parsing is not what is measured)."""
    parts = []
    for name, data_type in columns:
        col = metadb.quote_identifier(name)
        if (data_type or "").lower() in metadb_inventory.HEX_TYPES:
            parts.append("HEX(%s)" % col)
        else:
            parts.append("QUOTE(%s)" % col)
    return "SELECT CONCAT_WS(',', %s) FROM %s.%s LIMIT %d" % (
        ", ".join(parts) or "1", metadb.quote_identifier(database), metadb.quote_identifier(table), int(rows))


def measure_rate(conn, database, table, columns, row_bytes):
    """Bytes per second of reading rows of `table` over this connection (a bounded sample)."""
    low, high = RATE_SAMPLE_ROWS
    rows = max(low, min(high, int(RATE_SAMPLE_BYTES / max(row_bytes, 1.0))))
    started = time.time()
    total = 0
    with conn.cursor() as cur:
        cur.execute(rate_sql(database, table, columns, rows))
        for (text,) in cur.fetchall():
            total += len(text or b"") + metadb_inventory.ROW_OVERHEAD
    seconds = max(time.time() - started, 1e-3)
    return total / seconds if total else None


def risks(conn, databases, engine):
    """[{database, table, bytes, seconds, bytes_per_second, variable, timeout_seconds, hint}] of
    the tables read with one statement that would take more than RISK_SHARE of the timeout."""
    variable, limit = statement_timeout(conn, engine)
    if limit is None:
        return []
    candidates = []
    with conn.cursor() as cur:
        for _role, database in databases:
            tables = metadb_inventory.base_tables(conn, database)
            for table, columns in sorted(unbounded_tables(cur, database, tables).items()):
                rows = _rows(cur, database, table, engine)
                if not rows:
                    continue
                cur.execute(metadb_inventory.sampled_row_bytes_sql(database, table, columns))
                sampled, sampled_bytes = cur.fetchone()
                per_row = (float(sampled_bytes) / int(sampled) if sampled else 0.0) \
                    + metadb_inventory.ROW_OVERHEAD + metadb_inventory.VALUE_OVERHEAD * len(columns)
                candidates.append((rows * per_row, database, table, columns, per_row))
    conn.rollback()
    if not candidates:
        return []
    # the rate is read on the largest: the one where it matters, and the longest sample
    largest = max(candidates)
    rate = measure_rate(conn, largest[1], largest[2], largest[3], largest[4])
    conn.rollback()
    found = []
    for size, database, table, _columns, _per_row in sorted(candidates, key=lambda c: (c[1], c[2])):
        seconds = size / rate if rate else float("inf")
        if seconds > RISK_SHARE * limit:
            found.append({"database": database, "table": table, "bytes": int(size),
                          "seconds": round(seconds, 1), "bytes_per_second": int(rate or 0),
                          "variable": variable, "timeout_seconds": round(limit, 3),
                          "hint": hint(variable, seconds)})
    return found
