"""Row-for-row digests of MetaDB tables that every engine answers (MariaDB, MySQL, OceanBase):
plain SELECTs read in primary-key order and hashed here, in Python. No CHECKSUM TABLE (OceanBase
refuses it) and nothing of the collection's own proof, so a test can check the collection with it.
"""

import datetime
import decimal
import hashlib
import json


def _text(value):
    """A value as text that means the same on every engine and driver version."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, float, datetime.timedelta)):
        return str(value)
    return value


def base_tables(cur, db):
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s AND "
                "table_type='BASE TABLE' ORDER BY table_name", (db,))
    return [r[0] for r in cur.fetchall()]


def table_columns(cur, db, table):
    """(all columns in table order, the primary key's columns) of one table."""
    cur.execute("SELECT column_name, column_key FROM information_schema.columns WHERE "
                "table_schema=%s AND table_name=%s ORDER BY ordinal_position", (db, table))
    rows = cur.fetchall()
    return [r[0] for r in rows], [r[0] for r in rows if r[1] == "PRI"]


def _q(name):
    return "`%s`" % name.replace("`", "``")


def table_digest(cur, db, table, ignore_columns=(), skip_rows=()):
    """{"columns", "key", "rows", "sha256", "row_sha256"} of one table.

    Rows are read ORDER BY the primary key (all columns when there is none); `ignore_columns`
    are left out of every row, rows where a (column, value) of `skip_rows` matches are left out
    entirely. `row_sha256` maps each row's key (JSON) to its own digest, for a readable diff.
    """
    columns, key = table_columns(cur, db, table)
    order = key or columns
    cur.execute("SELECT %s FROM %s.%s ORDER BY %s" % (
        ", ".join(_q(c) for c in columns), _q(db), _q(table), ", ".join(_q(c) for c in order)))
    kept = [c for c in columns if c not in ignore_columns]
    whole = hashlib.sha256()
    per_row = {}
    count = 0
    for raw in cur.fetchall():
        row = {c: _text(v) for c, v in zip(columns, raw)}
        if any(str(row.get(c)) == v for c, v in skip_rows):
            continue
        line = json.dumps([row[c] for c in kept], separators=(",", ":"), default=str)
        whole.update(line.encode("utf-8") + b"\n")
        row_key = json.dumps([row[c] for c in order], separators=(",", ":"), default=str)
        per_row[row_key] = hashlib.sha256(line.encode("utf-8")).hexdigest()
        count += 1
    return {"columns": kept, "key": order, "rows": count, "sha256": whole.hexdigest(),
            "row_sha256": per_row}


def describe_difference(name, before, after, limit=5):
    """Lines that say how two table_digest() results differ; [] when they are the same."""
    if before["sha256"] == after["sha256"] and before["columns"] == after["columns"]:
        return []
    out = []
    if before["columns"] != after["columns"]:
        out.append("%s: columns %s -> %s" % (name, before["columns"], after["columns"]))
    if before["rows"] != after["rows"]:
        out.append("%s: %d rows -> %d rows" % (name, before["rows"], after["rows"]))
    b, a = before["row_sha256"], after["row_sha256"]
    for label, keys in (("rows gone", sorted(set(b) - set(a))),
                        ("rows added", sorted(set(a) - set(b))),
                        ("rows changed", sorted(k for k in set(a) & set(b) if a[k] != b[k]))):
        if keys:
            more = " and %d more" % (len(keys) - limit) if len(keys) > limit else ""
            out.append("%s: %s (%s = %s%s)" % (name, label, ",".join(before["key"]),
                                               "; ".join(keys[:limit]), more))
    if not out:
        out.append("%s: same rows in another order (digest %s -> %s)" % (
            name, before["sha256"][:12], after["sha256"][:12]))
    return out
