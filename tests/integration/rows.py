"""The tests' own row-for-row view of an instance's three MetaDB databases (not the collection's
proof: no CHECKSUM TABLE, no manifest), read as the OMS user (obtestbed.access).

A running OMS keeps rewriting a few tables (heartbeats, host/process status and gmt_modified,
ha.config when HA goes back on): those rows and columns are left out, as
molecule/shared/metadb_snapshot.py's LIVE list says. Every other row of every table is compared.
"""
import os
import sys

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
from metadb_snapshot import LIVE  # noqa: E402  pylint: disable=wrong-import-position
from obtestbed.access import connect  # noqa: E402  pylint: disable=wrong-import-position

ROLES = ("rm_db", "cm_db", "cm_hb_db")


def table_rows(d, live=False):
    """{database: {table: sorted rows}}; each row a tuple of str. live=True keeps OMS's live rows."""
    out = {}
    conn = connect(d)
    try:
        with conn.cursor() as cur:
            for role in ROLES:
                db = d["metadb"][role]
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s", (db,))
                out[db] = {}
                for (table,) in sorted(cur.fetchall()):
                    skip, columns, rows_out = LIVE.get(table, (False, (), ())) if not live else (False, (), ())
                    if skip:
                        out[db][table] = "(live, not compared)"
                        continue
                    cur.execute("SELECT * FROM `%s`.`%s`" % (db, table))
                    names = [c[0] for c in cur.description]
                    rows = []
                    for r in cur.fetchall():
                        row = dict(zip(names, r))
                        if any(str(row.get(c)) == v for c, v in rows_out):
                            continue
                        rows.append(tuple("%s=%r" % (k, row[k]) for k in names if k not in columns))
                    out[db][table] = sorted(rows)
    finally:
        conn.close()
    return out


def differences(before, after, limit=10):
    """What differs, one line each (at most `limit`); [] when row-for-row identical."""
    lines = []
    for db in sorted(set(before) | set(after)):
        b, a = before.get(db), after.get(db)
        if a is None or b is None:
            lines.append("%s: database %s" % (db, "missing" if a is None else "appeared"))
            continue
        for table in sorted(set(b) | set(a)):
            if table not in a or table not in b:
                lines.append("%s.%s: table %s" % (db, table, "missing" if table not in a else "appeared"))
            elif a[table] != b[table]:
                gone = [r for r in b[table] if r not in a[table]][:2]
                new = [r for r in a[table] if r not in b[table]][:2]
                lines.append("%s.%s: %d rows -> %d; gone %s; new %s" % (db, table, len(b[table]), len(a[table]), gone, new))
    return lines[:limit]


def row_counts(d):
    """{database.table: rows} over the three databases (what was dropped shows as missing)."""
    return {"%s.%s" % (db, t): (len(rows) if isinstance(rows, list) else rows)
            for db, tables in table_rows(d, live=True).items() for t, rows in tables.items()}
