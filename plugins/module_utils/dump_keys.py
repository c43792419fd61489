# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ranges of a table's key tuple (keyset pagination), for tables without a single integer key.

A table whose primary key has several columns, or one that is not an integer (or, without a
primary key, a unique index of NOT NULL columns), is read in pieces of about `width` rows each:
the end of a piece is the key of the row `width` rows after its start, found by one bounded seek
in the index (`... WHERE key >= start ORDER BY key LIMIT width, 1`), and the piece is the
mysqldump `--where` `key >= start AND key < end`. The first piece has no lower bound and the last
no upper one, so together they read every row whatever the values are.

Bounds are SQL literals made from what the server answered (HEX of a string in the column's own
character set, the text of a number or a date) and compared by the server, never in Python: a
string compares in its column's collation (the literal's introducer names the column's character
set, and a column's collation wins over a literal's). The same literal ends one piece and starts
the next, so `key < b` and `key >= b` split the rows in two without loss or overlap whatever b is
exactly; a key column with no faithful literal (floats, ENUM, SET, BIT, prefix indexes) is not
used. Keys are compared as `a > x OR (a = x AND b >= y)`, which both engines read as index ranges
(a row constructor `(a, b) >= (x, y)` is not on MariaDB 10.11: it scans the table).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year")
DECIMAL_TYPES = ("decimal", "numeric")
STRING_TYPES = ("char", "varchar")
BINARY_TYPES = ("binary", "varbinary")
TEMPORAL_TYPES = ("date", "datetime", "timestamp", "time")

_INTEGER = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_HEX = re.compile(r"^[0-9A-Fa-f]*$")
_TEMPORAL = re.compile(r"^-?[0-9 :.-]+$")
_CHARSET = re.compile(r"^[A-Za-z0-9_]+$")


def quote(name):
    return "`%s`" % name.replace("`", "``")


def kind_of(data_type, charset=None):
    """How a key column's values become literals: 'int', 'decimal', 'string', 'binary',
    'temporal', or None when it cannot be a keyset column."""
    t = (data_type or "").lower()
    if t in INTEGER_TYPES:
        return "int"
    if t in DECIMAL_TYPES:
        return "decimal"
    if t in STRING_TYPES:
        return "string" if charset and _CHARSET.match(charset) else None
    if t in BINARY_TYPES:
        return "binary"
    if t in TEMPORAL_TYPES:
        return "temporal"
    return None


def choose_key(columns, indexes):
    """The columns a table is read in ranges of, [(name, kind, charset)], or None.

    columns: [(name, data type, IS_NULLABLE, CHARACTER_SET_NAME)] of the table;
    indexes: [(INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION)] of it.
    The primary key, else the unique index (by name) whose columns are all NOT NULL: a NULL is in
    no range, so a nullable unique key would lose its NULL rows. Every column must have a kind.
    """
    info = dict((c[0], c) for c in columns)
    by_index = {}
    for name, non_unique, seq, column, sub_part, collation in indexes:
        entry = by_index.setdefault(name, {"unique": int(non_unique or 0) == 0, "columns": [], "usable": True})
        entry["columns"].append((int(seq), column))
        # a prefix or a descending column: the index's order is not the columns' ascending order
        if sub_part is not None or (collation or "A").upper() == "D":
            entry["usable"] = False
    candidates = []
    if "PRIMARY" in by_index:
        candidates.append(by_index["PRIMARY"])
    candidates.extend(by_index[n] for n in sorted(by_index) if n != "PRIMARY")
    for entry in candidates:
        if not entry["unique"] or not entry["usable"]:
            continue
        names = [c for _seq, c in sorted(entry["columns"])]
        key = []
        for name in names:
            col = info.get(name)
            if col is None or (col[2] or "").upper() == "YES":
                break
            kind = kind_of(col[1], col[3])
            if kind is None:
                break
            key.append((name, kind, col[3] if kind == "string" else None))
        else:
            return key
    return None


def value_sql(column):
    """The expression a seek selects for one key column: what literal() makes a bound of."""
    name, kind, _charset = column
    if kind in ("string", "binary"):
        return "HEX(%s)" % quote(name)
    return "CAST(%s AS CHAR)" % quote(name)


def literal(column, value):
    """The SQL literal of a key value as value_sql() read it; ValueError on anything unexpected."""
    _name, kind, charset = column
    text = value.decode("ascii") if isinstance(value, bytes) else "%s" % value
    if kind == "int" and _INTEGER.match(text):
        return text
    if kind == "decimal" and _DECIMAL.match(text):
        return text
    if kind == "string" and _HEX.match(text):
        return "_%s X'%s'" % (charset, text)
    if kind == "binary" and _HEX.match(text):
        return "X'%s'" % text
    if kind == "temporal" and _TEMPORAL.match(text):
        return "'%s'" % text
    raise ValueError("no literal for %r of a %s key column" % (value, kind))


def compare(names, op, values):
    """`names` op `values` for op '>=' or '<' over the tuple, in lexicographic order, expanded:
    a > x OR (a = x AND (b > y OR (b = y AND c >= z)))."""
    strict = ">" if op == ">=" else "<"
    cols = [quote(n) for n in names]
    expr = "%s %s %s" % (cols[-1], op, values[-1])
    for col, val in reversed(list(zip(cols[:-1], values[:-1]))):
        expr = "%s %s %s OR (%s = %s AND %s)" % (col, strict, val, col, val, "(%s)" % expr if " OR " in expr else expr)
    return expr


def where(names, low, high):
    """The --where of a piece: low <= key < high, a None bound open."""
    parts = []
    if low is not None:
        parts.append("(%s)" % compare(names, ">=", low))
    if high is not None:
        parts.append("(%s)" % compare(names, "<", high))
    return " AND ".join(parts) or "1=1"


def seek_sql(database, table, key, low, width):
    """The statement that finds the end of a piece of `width` rows from `low` (None: the start):
    the key of the row after them, or no row when the piece reaches the table's end. It reads
    `width` + 1 entries of the index, however large the table."""
    names = [c[0] for c in key]
    sql = "SELECT %s FROM %s.%s" % (", ".join(value_sql(c) for c in key), quote(database), quote(table))
    if low is not None:
        sql += " WHERE %s" % compare(names, ">=", low)
    return sql + " ORDER BY %s LIMIT %d, 1" % (", ".join(quote(n) for n in names), int(width))


class KeysetRanges(object):
    """The pieces of one table over its key tuple, handed out one at a time: each piece's end is
    sought (seek_sql) by the worker that took it, so the next piece waits for that seek."""

    def __init__(self, table, key, width, target, next_width):
        self.table = table
        self.key = key
        self.names = [c[0] for c in key]
        self.width = max(1, int(width))
        self.target = target
        self._next_width = next_width
        self.next_low = None
        self.busy = False
        self.done = False

    def take(self):
        """The next piece (its "to" still to be sought), or None: none left, or one being sought."""
        if self.done or self.busy:
            return None
        self.busy = True
        return {"table": self.table, "keyset": list(self.names), "from": self.next_low, "to": None,
                "width": self.width}

    def seek(self, database, piece):
        """The statement that finds the piece's end (run it, then give its row to ended())."""
        return seek_sql(database, self.table, self.key, piece["from"], piece["width"])

    def ended(self, piece, row):
        """The seek's answer for the piece taken last: its end (the next piece's start) or the
        table's end (row None)."""
        piece["to"] = None if row is None else [literal(c, v) for c, v in zip(self.key, row)]
        self.next_low = piece["to"]
        self.done = row is None
        self.busy = False

    def measured(self, width, seconds):
        self.width = self._next_width(self.width, width, seconds, self.target)
