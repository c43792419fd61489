# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prune OMS's heartbeat table before the backup (the procedure's step 2.2).

The procedure's `delete from heatbeat_sequence where id < (select max(id) from heatbeat_sequence)`
is refused by MySQL (error 1093: the target table appears in the subquery). We read max(id) first
and delete below it in batches, each its own transaction, so that undo and locks stay small on a
table that may hold millions of rows. The batch bound comes from a SELECT ... LIMIT/OFFSET, so
the DELETE is a plain primary-key range that MySQL, MariaDB and OceanBase all accept, and sparse ids
(OceanBase's auto-increment jumps) cost no empty rounds.

The roles prune twice: once while the old container still runs (millions of rows after weeks,
outside the downtime window; OMS keeps inserting above max(id), which a range below it does not
block), and once more after the stop, which then only deletes the rows of the last seconds.
Each batch is timed from its DELETE to its COMMIT (the time it holds row locks) and the next batch
is sized so that it takes about `batch_seconds`: a busy MetaDB gets smaller batches at once, and none
comes near OceanBase's ob_query_timeout (10 s by default) or holds locks OMS waits for. Only
check mode counts the rows below max(id); on OceanBase its session may then read longer than
ob_query_timeout's default (a COUNT(*) of 5M rows took over 60 s on a loaded machine); the DELETEs
stay short by their size.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import metadb

HEARTBEAT_TABLE = "heatbeat_sequence"  # sic, OMS's spelling
# A slow commit (a loaded MetaDB's fsync) costs the same for 100 rows as for 1000: below this a
# smaller batch only multiplies the batches (at load 40, 5M rows took 3989 batches and 12 minutes
# with a floor of 100), it does not shorten the locks.
MIN_BATCH = 1000
MAX_BATCH = 200000
# a batch grows at most this factor at a time, so one fast batch cannot make the next one long;
# it shrinks at once to what the last batch's time says (a slow MetaDB is believed immediately)
MAX_GROWTH = 2.0


def _scalar(cursor, sql, args=None):
    cursor.execute(sql, args)
    row = cursor.fetchone()
    return row[0] if row else None


# seconds OceanBase may spend on one read of a table of millions of rows (it locks nothing)
OCEANBASE_COUNT_TIMEOUT = 600


def is_oceanbase(conn):
    with conn.cursor() as cur:
        version = _scalar(cur, "SELECT VERSION()")
    conn.rollback()
    return "oceanbase" in str(version or "").lower()


def allow_long_reads(conn):
    """On OceanBase, let this session's counts run past the default ob_query_timeout (10 s);
    True there."""
    if is_oceanbase(conn):
        with conn.cursor() as cur:
            cur.execute("SET SESSION ob_query_timeout = %d" % (OCEANBASE_COUNT_TIMEOUT * 1000000))
        return True
    return False


def next_batch_size(size, seconds, target):
    """The batch size that should take about `target` seconds, given that `size` rows took `seconds`.

    target 0 keeps the size. Bounded by MIN_BATCH..MAX_BATCH; grows at most MAX_GROWTH times.
    """
    if not target or target <= 0:
        return size
    wanted = size * MAX_GROWTH if seconds <= 0 else size * target / seconds
    wanted = min(wanted, size * MAX_GROWTH)
    return int(min(max(wanted, MIN_BATCH), MAX_BATCH))


# At least this many rows are pruned in OCEANBASE_WORKERS ranges side by side on OceanBase: two
# sessions deleted 1.47 x the rows per second of one there (seekdb, 2 cores), against 1.04 x on
# MariaDB, whose deletes wait on one another. Fewer rows (the window's last seconds) are one range:
# a second session would cost more than it saves. Rows, not the id span: OceanBase's ids jump
# (its auto-increment cache), so a few rows can span millions of ids.
OCEANBASE_WORKERS = 2
SPLIT_MIN_ROWS = 200000


def _new_stats(batch_size):
    return {"deleted": 0, "batches": 0, "batch_size_first": int(batch_size),
            "batch_size_last": int(batch_size), "batch_size_max": int(batch_size),
            "longest_batch_seconds": 0.0, "longest_batch_rows": 0}


def _prune_range(conn, q, low, high, size, batch_seconds, clock, stats):
    """Delete the rows with low < id < high (low None: no lower bound) in batches, into `stats`."""
    with conn.cursor() as cur:
        while True:
            # A plain read, no locks. Scans start above the last batch: the rows deleted there stay
            # as delete marks until a purge (InnoDB) or a compaction (OceanBase), and stepping over
            # millions of them again each batch made every batch slower than the one before.
            where, args = ("id < %s", [high]) if low is None else ("id > %s AND id < %s", [low, high])
            bound = _scalar(cur, "SELECT id FROM %s WHERE %s ORDER BY id LIMIT 1 OFFSET %%s" % (q, where),
                            tuple(args + [size - 1]))
            started = clock()
            if bound is None:
                cur.execute("DELETE FROM %s WHERE %s" % (q, where), tuple(args))
            else:
                cur.execute("DELETE FROM %s WHERE %s AND id <= %%s" % (q, where), tuple(args + [bound]))
                low = bound
            rows = cur.rowcount
            conn.commit()
            held = clock() - started
            stats["deleted"] += rows
            stats["batches"] += 1
            stats["batch_size_last"] = size
            stats["batch_size_max"] = max(stats["batch_size_max"], size)
            if held > stats["longest_batch_seconds"]:
                stats["longest_batch_seconds"] = held
                stats["longest_batch_rows"] = rows
            if bound is None:
                return stats
            size = next_batch_size(size, held, batch_seconds)


def split_ranges(low, first, high, workers):
    """[(low, high)] ranges (exclusive bounds) that together hold every id in (low, high): one
    per worker of equal id width from `first` (the lowest id left), the first range keeping `low`."""
    if workers < 2 or first is None or high - first < workers:
        return [(low, high)]
    width = (high - first) // workers
    cuts = [first + width * i for i in range(1, workers)]
    lows = [low] + [cut - 1 for cut in cuts]   # id > cut - 1: the range starts at the cut
    highs = cuts + [high]
    return list(zip(lows, highs))


def _merge(parts, batch_size):
    stats = _new_stats(batch_size)
    for part in parts:
        stats["deleted"] += part["deleted"]
        stats["batches"] += part["batches"]
        stats["batch_size_max"] = max(stats["batch_size_max"], part["batch_size_max"])
        if part["longest_batch_seconds"] >= stats["longest_batch_seconds"]:
            stats["longest_batch_seconds"] = part["longest_batch_seconds"]
            stats["longest_batch_rows"] = part["longest_batch_rows"]
    stats["batch_size_last"] = parts[-1]["batch_size_last"]
    return stats


def prune_heartbeats(conn, batch_size=10000, table=HEARTBEAT_TABLE, max_id=None, batch_seconds=0.0,
                     clock=time.monotonic, from_id=None, workers=1, connect=None):
    """Delete every row with id < max(id) in batches; return what it did.

    `max_id` is read here when not given; rows written after that (OMS still running) are kept.
    `from_id`: every row below it is gone already (an earlier prune's max_id); scans start there.
    `batch_size` is the first batch's size; with `batch_seconds` > 0 each later batch is sized to
    take about that long (see next_batch_size). With `workers` > 1 and `connect` (a function that
    returns a new connection to the same database), SPLIT_MIN_ROWS rows or more are cut into that
    many id ranges, each pruned by its own session side by side. Returns {deleted, batches, batch_size_first,
    batch_size_last, batch_size_max, longest_batch_seconds, longest_batch_rows, workers}.
    """
    if batch_size < 1:
        raise OmsError("batch_size must be at least 1, got %s" % batch_size,
                       "Give a positive oms_upgrade_prune_batch_size (batch_size)")
    q = metadb.quote_identifier(table)
    with conn.cursor() as cur:
        if max_id is None:
            max_id = _scalar(cur, "SELECT MAX(id) FROM %s" % q)
            conn.rollback()
        if max_id is None:
            return dict(_new_stats(batch_size), workers=0)
        low = from_id - 1 if from_id else None  # every row at or below it is gone: scans start above it
        # The lowest row left, read once (a read, no locks): every DELETE then has a lower bound.
        # Without one, the first DELETE stepped over the delete marks an earlier prune left below
        # (kept until a compaction on OceanBase) while holding its locks: 8.8 s for 10,000 rows.
        where, args = ("id < %s", [max_id]) if low is None else ("id > %s AND id < %s", [low, max_id])
        first = _scalar(cur, "SELECT id FROM %s WHERE %s ORDER BY id LIMIT 1" % (q, where), tuple(args))
        conn.rollback()
        if first is None:
            return dict(_new_stats(batch_size), workers=0)
        low = first - 1
        if workers > 1 and connect is not None:
            # SPLIT_MIN_ROWS rows or more? One bounded read of the index, stopping at the range's end
            many = _scalar(cur, "SELECT id FROM %s WHERE id > %%s AND id < %%s ORDER BY id LIMIT 1 OFFSET %%s" % q,
                           (low, max_id, SPLIT_MIN_ROWS - 1))
            conn.rollback()
            if many is None:
                workers = 1
    ranges = split_ranges(low, first, max_id, workers if connect is not None else 1)
    if len(ranges) == 1:
        stats = _prune_range(conn, q, low, max_id, int(batch_size), batch_seconds, clock,
                             _new_stats(batch_size))
        stats["workers"] = 1
    else:
        stats = _merge(_side_by_side(ranges, conn, connect, q, batch_size, batch_seconds, clock),
                       batch_size)
        stats["workers"] = len(ranges)
    stats["longest_batch_seconds"] = round(stats["longest_batch_seconds"], 3)
    return stats


def _side_by_side(ranges, conn, connect, q, batch_size, batch_seconds, clock):
    """Each range pruned in a thread with a session of its own (the first one on `conn`); the
    first error of any is raised once all ended (the others' deletes are committed: a prune run
    again goes on from what is left)."""
    parts = [_new_stats(batch_size) for _range in ranges]
    errors = []

    def work(index, low, high):
        own = conn if index == 0 else None
        try:
            if own is None:
                own = connect()
            _prune_range(own, q, low, high, int(batch_size), batch_seconds, clock, parts[index])
        except Exception as e:  # pylint: disable=broad-except  # raised below, in the caller's thread
            errors.append(e)
        finally:
            if own is not None and own is not conn:
                own.close()

    threads = [threading.Thread(target=work, args=(i, lo, hi)) for i, (lo, hi) in enumerate(ranges)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return parts


def _rows_from(cur, q, max_id):
    """Rows at or above max_id: a primary-key range of the few rows OMS wrote last (cheap)."""
    return int(_scalar(cur, "SELECT COUNT(*) FROM %s WHERE id >= %%s" % q, (max_id,)))


def prune(settings, batch_size=10000, check_mode=False, batch_seconds=0.0, clock=time.monotonic,
          from_id=None):
    """Connect to the heartbeat database and prune; the result dict the module returns.

    Only check mode counts the rows below max(id) (a scan of millions of rows: over a minute on
    a loaded OceanBase); a real prune adds up what its batches deleted instead.
    """
    settings.require("cm_hb_db")
    started = clock()
    q = metadb.quote_identifier(HEARTBEAT_TABLE)
    conn = metadb.connect(settings, settings.cm_hb_db)
    try:
        try:
            workers = OCEANBASE_WORKERS if allow_long_reads(conn) else 1
            with conn.cursor() as cur:
                max_id = _scalar(cur, "SELECT MAX(id) FROM %s" % q)
                above = _rows_from(cur, q, max_id) if max_id is not None else 0
                # from_id: the prune ahead's max_id, below which only delete marks are left
                where, args = ("id >= %s AND id < %s", (from_id, max_id)) if from_id else ("id < %s", (max_id,))
                if max_id is None:
                    below = 0
                elif check_mode:
                    below = int(_scalar(cur, "SELECT COUNT(*) FROM %s WHERE %s" % (q, where), args))
                else:
                    below = 1 if _scalar(cur, "SELECT id FROM %s WHERE %s LIMIT 1" % (q, where), args) else 0
            conn.rollback()
            result = {"database": settings.cm_hb_db, "table": HEARTBEAT_TABLE,
                      "max_id": int(max_id) if max_id is not None else None}
            if check_mode or below == 0:
                result.update(rows_before=below + above, rows_to_delete=below, rows_deleted=0,
                              rows_after=below + above, changed=below > 0, batches=0,
                              batch_size_first=batch_size, batch_size_last=batch_size,
                              longest_batch_seconds=0.0, longest_batch_rows=0, workers=0,
                              seconds=round(clock() - started, 3))
                return result
            stats = prune_heartbeats(conn, batch_size, max_id=max_id, batch_seconds=batch_seconds,
                                     clock=clock, from_id=from_id, workers=workers,
                                     connect=lambda: metadb.connect(settings, settings.cm_hb_db))
            with conn.cursor() as cur:
                after = _rows_from(cur, q, max_id)  # nothing below max_id is left
            conn.rollback()
            result.update(rows_before=stats["deleted"] + above, rows_to_delete=stats["deleted"],
                          rows_deleted=stats["deleted"], rows_after=after,
                          changed=stats["deleted"] > 0,
                          batches=stats["batches"], batch_size_first=stats["batch_size_first"],
                          batch_size_last=stats["batch_size_last"],
                          longest_batch_seconds=stats["longest_batch_seconds"],
                          longest_batch_rows=stats["longest_batch_rows"], workers=stats["workers"],
                          seconds=round(clock() - started, 3))
            return result
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, settings.cm_hb_db,
                                         doing="prune %s.%s" % (settings.cm_hb_db, HEARTBEAT_TABLE))
    finally:
        conn.close()
