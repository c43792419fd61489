"""The heartbeat table of a deployment that ran for weeks: `heatbeat_sequence` filled to N rows.

The upgrade rounds fill it (5,000,000 rows by default) while the old container runs; the role
prunes it ahead of the stop in timed batches (journal step `heartbeat_prune_ahead`) and then, in
the window, only the rows written since (step `heartbeat_prune`). Both are read from the journal.
The fill is plain SQL that MariaDB, MySQL and OceanBase all run (no sequence engine): the table
doubles from itself in statements of at most CHUNK rows, each well under OceanBase's
ob_query_timeout.
"""

import datetime
import time

TABLE = "heatbeat_sequence"
CHUNK = 200000


def _is_oceanbase(cur):
    cur.execute("SELECT VERSION()")
    return "oceanbase" in str(cur.fetchone()[0]).lower()


def fill(metadb, rows, log=print):
    """heatbeat_sequence to at least `rows` rows; returns (rows now, seconds)."""
    t0 = time.monotonic()
    conn = metadb.connect(metadb.dbs["cm_hb"])
    try:
        with conn.cursor() as cur:
            if _is_oceanbase(cur):  # this session only: a count of 5M rows took over 60 s
                cur.execute("SET SESSION ob_query_timeout = 600000000, ob_trx_timeout = 600000000")
            cur.execute("SELECT COUNT(*) FROM `%s`" % TABLE)
            have = int(cur.fetchone()[0])
            if have == 0:
                cur.execute("INSERT INTO `%s` (gmt_created, gmt_modified) VALUES (NOW(), NOW())" % TABLE)
                have = 1
            while have < rows:
                n = min(CHUNK, have, rows - have)
                cur.execute("INSERT INTO `%s` (gmt_created, gmt_modified) SELECT gmt_created, "
                            "gmt_modified FROM `%s` LIMIT %d" % (TABLE, TABLE, n))
                have += cur.rowcount
    finally:
        conn.close()
    seconds = round(time.monotonic() - t0, 1)
    log("  heatbeat_sequence filled to %d rows in %.1f s" % (have, seconds))
    return have, seconds


def from_journal(journal):
    """{ahead: {...}, in_window: {...}} from the journal's two prune steps (None when absent)."""
    steps = journal.get("steps", {})
    out = {}
    for key, name in (("ahead", "heartbeat_prune_ahead"), ("in_window", "heartbeat_prune")):
        st = steps.get(name)
        if not st:
            out[key] = None
            continue
        data = st.get("data") or {}
        out[key] = {
            "step_seconds": _seconds(st.get("started_at"), st.get("finished_at")),
            "prune_seconds": _num(data.get("seconds")),
            "rows_deleted": _num(data.get("heartbeat_rows_deleted")),
            "batches": _num(data.get("batches")),
            "batch_size_first": _num(data.get("batch_size_first")),
            "batch_size_last": _num(data.get("batch_size_last")),
            "longest_batch_seconds": _num(data.get("longest_batch_seconds")),
            "longest_batch_rows": _num(data.get("longest_batch_rows")),
        }
    return out


def _seconds(start, end):
    """Seconds between two journal times (milliseconds kept; the journal's duration has one decimal)."""
    try:
        a, b = (datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
    except (AttributeError, TypeError, ValueError):
        return None
    return round((b - a).total_seconds(), 3)


def _num(v):
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else f
