"""Snapshot and compare the three OMS MetaDB databases of a test-bed instance.

  metadb_snapshot.py take INSTANCE OUTFILE      write the snapshot (JSON, 0600)
  metadb_snapshot.py compare INSTANCE SNAPFILE  exit 1 and list what differs

Every table is read row by row, ORDER BY its primary key, and hashed here (obtestbed.rowdigest):
row counts, a digest per table and one per row, so that a difference names the rows. That is
plain SELECT, which every MetaDB engine answers (OceanBase has no CHECKSUM TABLE), and it is not
the collection's own proof, so it can check that proof. A running OMS keeps writing some tables
(heartbeats every second, host/process status and gmt_modified, ha.config when HA goes back on),
so after a rollback the old container has already changed them: those tables are skipped, or read
without the columns and rows OMS rewrites while it runs (LIVE below), and the diff says so.
"""
import json
import os
import sys

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "testbed"))
from obtestbed.access import connect, describe  # noqa: E402  pylint: disable=wrong-import-position
from obtestbed.rowdigest import base_tables, describe_difference, table_digest  # noqa: E402  pylint: disable=wrong-import-position

# table -> (skip the table entirely, columns ignored, rows ignored as (column, value))
LIVE = {
    "heatbeat_sequence": (True, (), ()),
    "heart_beat": (True, (), ()),
    "host": (False, ("gmt_modified", "host_status"), ()),
    "host_process": (False, ("gmt_modified", "status"), ()),
    "oms_normal_config": (False, ("gmt_modified",), (("cfg_name", "ha.config"),)),
}


def snapshot(instance):
    d = describe(instance)
    out = {"engine": d["metadb"].get("engine", "mariadb"), "tables": {}}
    conn = connect(d)
    try:
        with conn.cursor() as cur:
            for role in ("rm_db", "cm_db", "cm_hb_db"):
                db = d["metadb"][role]
                out["tables"][db] = {}
                for t in base_tables(cur, db):
                    skip, columns, rows = LIVE.get(t, (False, (), ()))
                    out["tables"][db][t] = None if skip else table_digest(cur, db, t, columns, rows)
    finally:
        conn.close()
    return out


def compare(before, after):
    diffs = []
    for db, tables in before["tables"].items():
        now = after["tables"].get(db, {})
        if set(tables) != set(now):
            diffs.append("%s: tables %s -> %s" % (db, sorted(tables), sorted(now)))
        for t, digest in sorted(tables.items()):
            if digest is None or now.get(t) is None:
                continue  # written by the running OMS every second: not comparable
            lines = describe_difference("%s.%s" % (db, t), digest, now[t])
            if lines and t in LIVE:
                lines = [line + " (ignoring %s)" % (", ".join(LIVE[t][1]) or "nothing") for line in lines]
            diffs.extend(lines)
    return diffs


def main():
    cmd, instance, path = sys.argv[1:4]
    if cmd == "take":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(snapshot(instance), handle, indent=1, sort_keys=True)
        return 0
    with open(path) as handle:
        before = json.load(handle)
    if "tables" not in before:
        print("%s is a snapshot of an older format: take it again" % path)
        return 1
    diffs = compare(before, snapshot(instance))
    for line in diffs:
        print(line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
