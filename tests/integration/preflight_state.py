"""What a refused run must leave exactly as it found it, read by the test's own means.

snapshot() gathers the deployment's containers (and the target image's presence), the rows of its
three MetaDB databases, and the listing of the backup directories involved. It does not use the
collection's code: a test that compared the collection's answers with themselves could not fail.

A running OMS (the simulator too) keeps writing a few things while nothing else happens: new
heartbeat rows, the supervisor's heart_beat row and every gmt_modified. Those are read in a form
that stays still unless someone else changes them: heartbeat rows up to the highest id seen first
(a prune deletes them), every other row without its gmt_modified.
"""

import hashlib
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))

from obtestbed.access import connect  # noqa: E402  pylint: disable=wrong-import-position

HEARTBEAT_TABLE = "heatbeat_sequence"
MOVING_COLUMNS = ("gmt_modified",)
# The supervisor's liveness row is rewritten every second (gmt_modified, and its counters)
MOVING_TABLES = ("heart_beat",)


def containers(info):
    """Name, id, image, state of every container of the instance, and the target image's id."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--filter", "name=oms_%s_" % info["instance"],
         "--format", "{{.Names}} {{.ID}} {{.Image}} {{.State}}"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    image = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", info["target_image"]],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True, check=False).stdout.strip()
    return {"containers": sorted(out.splitlines()), "target_image": image or None}


def _digest(rows):
    return hashlib.sha256("\n".join(sorted(rows)).encode("utf-8")).hexdigest()


def metadb_rows(info, heartbeat_upto=None):
    """{database.table: digest of its rows} for the three databases, plus the heartbeat bound."""
    out = {}
    conn = connect(info)
    try:
        with conn.cursor() as cur:
            for role in ("rm_db", "cm_db", "cm_hb_db"):
                db = info["metadb"][role]
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s",
                            (db,))
                for (table,) in sorted(cur.fetchall()):
                    key = "%s.%s" % (db, table)
                    if table in MOVING_TABLES:
                        cur.execute("SELECT COUNT(*) FROM `%s`.`%s`" % (db, table))
                        out[key] = cur.fetchone()[0]
                        continue
                    if table == HEARTBEAT_TABLE:
                        if heartbeat_upto is None:
                            cur.execute("SELECT MAX(id) FROM `%s`.`%s`" % (db, table))
                            heartbeat_upto = cur.fetchone()[0] or 0
                        cur.execute("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM `%s`.`%s` WHERE id <= %%s"
                                    % (db, table), (heartbeat_upto,))
                        out[key] = [int(v) for v in cur.fetchone()]
                        continue
                    cur.execute("SELECT * FROM `%s`.`%s`" % (db, table))
                    names = [c[0] for c in cur.description]
                    rows = [dict((n, str(v)) for n, v in zip(names, row) if n not in MOVING_COLUMNS)
                            for row in cur.fetchall()]
                    out[key] = _digest(json.dumps(row, sort_keys=True) for row in rows)
    finally:
        conn.close()
    return out, heartbeat_upto


def listing(path):
    """Every entry under `path` with its type, size, mode and mtime; None when it is absent."""
    if not os.path.lexists(path):
        return None
    entries = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            st = os.lstat(full)
            entries[os.path.relpath(full, path)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    # The directory itself: its type and mode (and a file's size and time). A directory's own
    # mtime is left out: it moves when a file is made and removed again (the dump's rehearsal
    # keeps its client defaults file there for a moment); what the entries are is compared above.
    st = os.lstat(path)
    if os.path.isdir(path):
        entries["."] = (st.st_mode,)
    else:
        entries["."] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return entries


class Snapshot(object):
    def __init__(self, info, paths):
        self.info = info
        self.paths = sorted(set(paths))
        self.containers = containers(info)
        self.rows, self.heartbeat_upto = metadb_rows(info)
        self.listings = dict((p, listing(p)) for p in self.paths)

    def differences(self):
        """What changed since this snapshot, as sentences (empty when nothing did)."""
        found = []
        now = containers(self.info)
        if now != self.containers:
            found.append("containers: %s -> %s" % (self.containers, now))
        rows = metadb_rows(self.info, self.heartbeat_upto)[0]
        for key in sorted(set(rows) | set(self.rows)):
            if rows.get(key) != self.rows.get(key):
                found.append("MetaDB %s: %s -> %s" % (key, self.rows.get(key), rows.get(key)))
        for path in self.paths:
            after = listing(path)
            if after != self.listings[path]:
                found.append("%s: %s -> %s" % (path, self.listings[path], after))
        return found
