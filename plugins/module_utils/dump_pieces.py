# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database's dump in pieces, each a short mysqldump, put back together as one plain .sql file.

OceanBase kills any statement that runs longer than the tenant's ob_query_timeout (10 s by
default; MariaDB's max_statement_time and MySQL's max_execution_time, when set, likewise) and
mysqldump reads a table with one SELECT, which it cannot give a longer timeout: a
table much over 300 MB could not be dumped behind an OBProxy streaming 30-40 MB/s. The window is
quiescent (OMS is stopped; metadb_dump proves that no other session uses the databases before and
after), so the dump need not be one snapshot, and a table can be read in ranges of its key:

- the schema: one `mysqldump --no-data` (CREATE TABLE statements, views; header and footer);
- the data: `mysqldump --no-create-info` pieces. A table with a single-column integer primary key
  is read in ranges `k >= a AND k < b`: a range holds at most
  b - a rows whatever the table's size, so every piece's SELECT is bounded. The width of the next
  range comes from the rate measured on the pieces of that table already dumped (keys per second
  of one mysqldump, startup included) times the target duration of a piece (a quarter of the
  timeout on OceanBase, at most PIECE_SECONDS), and grows at most twice per piece; the first
  range is sized from the sampled length of a row at a conservative rate. A table with another
  key (several columns, not an integer, or a unique key of NOT NULL columns) is read in ranges of
  its key tuple, each about as many rows as the widths above say (dump_keys). Tables whose key
  span fits one range, and tables without such a key, are dumped whole, several per mysqldump;
- the triggers, when asked for, after the data (so that loading the rows does not fire them).

The file is: the schema dump up to its footer, each piece's body (its output without mysqldump's
header and footer) in plan order, the triggers' body, the schema dump's footer: it loads with
`mysql -e "source file"` as a plain mysqldump file does, carries one header (the server and
database) and ends with the completion line. The plan (which pieces, which ranges) is recorded in
the manifest: dumping the database again with the same plan gives the same bytes, which is how a
restore is proven (dump_digest). The first and last ranges are open-ended, so rows added outside
the first dump's key span are still read by such a re-dump.

A table without a usable key is read with one SELECT: before the window, the preflight refuses
when its read, at the rate measured over the link, would come near the timeout
(dump_timeouts); if the server still kills it, the error names the variable and what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils import dump_keys

# the target duration of one piece where no timeout bounds it: short enough to spread a large
# table over the workers with a short tail, long enough that mysqldump's start (about 30 ms:
# connect, SHOW CREATE TABLE, ...) stays a few per cent
PIECE_SECONDS = 1.0
# under a statement timeout (ob_query_timeout, max_statement_time...) a piece aims at this share
# of it (the SELECT must end within it; the rate is measured on pieces that ran side by side,
# startup included, so it is conservative)
TIMEOUT_SHARE = 0.25
# the rate assumed for the first range of a table, before one was measured (bytes per second of
# one mysqldump; measured here: 30-40 MB/s from seekdb, ~100 MB/s from MariaDB)
FIRST_RATE = 10 * 1024 * 1024
# a range grows at most this much from one piece to the next
GROWTH = 2.0
# tables dumped by one mysqldump when they are small
GROUP_MAX_TABLES = 64

INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")

# mysqldump's header ends with this line, its footer starts with the first of these
HEADER_LAST = b"SET @OLD_SQL_NOTES=@@SQL_NOTES"
FOOTER_FIRST = (b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;", b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;")


def quote(name):
    return "`%s`" % name.replace("`", "``")


def int_key(columns):
    """The single-column integer primary key of a table from its [(column, data type, COLUMN_KEY)],
    or None: the key a table can be read in ranges of."""
    keys = [c for c in columns if c[2] == "PRI"]
    if len(keys) == 1 and (keys[0][1] or "").lower() in INTEGER_TYPES:
        return keys[0][0]
    return None


def target_seconds(query_timeout_seconds=None):
    """How long one piece may take: PIECE_SECONDS, or less under an OceanBase timeout."""
    if query_timeout_seconds:
        return min(PIECE_SECONDS, TIMEOUT_SHARE * float(query_timeout_seconds))
    return PIECE_SECONDS


def first_width(row_bytes, seconds, rate=FIRST_RATE):
    """Keys in the first range of a table: `seconds` at `rate` for rows of `row_bytes`."""
    return max(1, int(rate * seconds / max(float(row_bytes or 0), 1.0)))


def next_width(last_width, keys, seconds, target):
    """The next range's width from the last finished piece (`keys` wide, `seconds` long)."""
    if seconds <= 0 or keys <= 0:
        return max(1, int(last_width * GROWTH))
    measured = int(target * keys / float(seconds))
    return max(1, min(int(last_width * GROWTH), measured))


def range_where(key, low, high):
    """The --where of a range piece; None bounds are open (first and last piece)."""
    parts = []
    if low is not None:
        parts.append("%s >= %d" % (quote(key), int(low)))
    if high is not None:
        parts.append("%s < %d" % (quote(key), int(high)))
    return " AND ".join(parts) or "1=1"


def piece_where(piece):
    """The --where of a recorded range piece (integer key or key tuple), or None."""
    if piece.get("keyset"):
        return dump_keys.where(piece["keyset"], piece.get("from"), piece.get("to"))
    if piece.get("key"):
        return range_where(piece["key"], piece.get("from"), piece.get("to"))
    return None


def piece_args(piece):
    """(extra mysqldump options, table names) of a recorded piece."""
    if piece.get("keyset"):
        return ["--where=%s" % piece_where(piece)], [piece["table"]]
    if piece.get("key"):
        return ["--where=%s" % range_where(piece["key"], piece.get("from"), piece.get("to"))], [piece["table"]]
    return [], list(piece["tables"])


class TableRanges(object):
    """The key ranges of one table, handed out one at a time as workers ask; widths adapt.

    `low` and `high` are the smallest and largest key; the first range has no lower bound and the
    last none upper, so that together they cover every key.
    """

    def __init__(self, table, key, low, high, width, target):
        self.table = table
        self.key = key
        self.next_low = int(low)
        self.high = int(high)
        self.width = max(1, int(width))
        self.target = target
        self.first = True
        self.done = False

    def take(self):
        """The next piece (dict as recorded in the manifest), or None when all were handed out."""
        if self.done:
            return None
        low = self.next_low
        end = low + self.width
        piece = {"table": self.table, "key": self.key, "from": None if self.first else low,
                 "to": None if end > self.high else end, "width": self.width}
        self.first = False
        if end > self.high:
            self.done = True
        self.next_low = end
        return piece

    def measured(self, width, seconds):
        """A piece `width` keys wide took `seconds`: size the next ones from it."""
        self.width = next_width(self.width, width, seconds, self.target)


def plan_units(tables, target, rate=FIRST_RATE):
    """The data of one database as units, in table-name order.

    `tables`: [{"table", "key" (or None), "low", "high", "row_bytes", "rows" (estimate or None)}].
    "keyset" ([(column, kind, charset)], dump_keys.choose_key) for a table read in ranges of its
    key tuple; its "rows" are then exact below dump_keys' sample (a small table).
    Returns [("ranges", TableRanges)] for tables read in ranges of an integer key,
    [("keyset", KeysetRanges)] for those read in ranges of a key tuple and [("group", [names])] for
    runs of small tables, dumped together.
    """
    units = []
    group = []
    group_bytes = 0.0
    budget = rate * target

    def flush():
        if group:
            units.append(("group", list(group)))
            del group[:]

    for t in sorted(tables, key=lambda t: t["table"]):
        width = first_width(t.get("row_bytes"), target, rate)
        if t.get("keyset") and (t.get("rows") is None or int(t["rows"]) > width):
            flush()
            group_bytes = 0.0
            units.append(("keyset", dump_keys.KeysetRanges(t["table"], t["keyset"], width, target, next_width)))
            continue
        if t.get("key") and t.get("low") is not None and int(t["high"]) - int(t["low"]) + 1 > width:
            flush()
            group_bytes = 0.0
            units.append(("ranges", TableRanges(t["table"], t["key"], t["low"], t["high"], width, target)))
            continue
        if t.get("key") and t.get("low") is not None:
            est = (int(t["high"]) - int(t["low"]) + 1) * float(t.get("row_bytes") or 0)
        else:
            est = float(t.get("rows") or 0) * float(t.get("row_bytes") or 0)
        if group and (group_bytes + est > budget or len(group) >= GROUP_MAX_TABLES):
            flush()
            group_bytes = 0.0
        group.append(t["table"])
        group_bytes += est
    flush()
    return units


def header_end(head):
    """Offset just after mysqldump's header in `head` (the first bytes of its output), or None."""
    pos = head.find(HEADER_LAST)
    if pos < 0:
        return None
    end = head.find(b"\n", pos)
    return None if end < 0 else end + 1


def footer_start(tail, tail_offset):
    """Offset (in the whole output) where mysqldump's footer starts, from its last bytes, or None."""
    found = [tail.rfind(b"\n" + marker) for marker in FOOTER_FIRST]
    found = [pos for pos in found if pos >= 0]
    if not found:
        return None
    return tail_offset + min(found) + 1
