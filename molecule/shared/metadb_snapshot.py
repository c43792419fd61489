"""Snapshot and compare the three OMS MetaDB databases of a test-bed instance.

  metadb_snapshot.py take INSTANCE OUTFILE      write the snapshot (JSON, 0600)
  metadb_snapshot.py compare INSTANCE SNAPFILE  exit 1 and list what differs

Every table gets CHECKSUM TABLE. A running OMS keeps writing some tables (heartbeats every second,
host/process gmt_modified, ha.config when HA goes back on), so after a rollback the old container
has already changed them: for those the comparison uses a digest of the rows without the columns
and rows OMS rewrites while it runs (listed in LIVE below), and says so.
"""
import hashlib
import json
import os
import sys

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "testbed"))
from obtestbed.access import connect, describe  # noqa: E402  pylint: disable=wrong-import-position
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
    out = {"checksums": {}, "live": {}}
    conn = connect(d)
    with conn.cursor() as cur:
        for role in ("rm_db", "cm_db", "cm_hb_db"):
            db = d["metadb"][role]
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s ORDER BY 1", (db,))
            tables = [r[0] for r in cur.fetchall()]
            out["checksums"][db] = {}
            for t in tables:
                cur.execute("CHECKSUM TABLE `%s`.`%s`" % (db, t))
                out["checksums"][db][t] = cur.fetchone()[1]
                if t in LIVE and not LIVE[t][0]:
                    cur.execute("SELECT * FROM `%s`.`%s`" % (db, t))
                    cols = [c[0] for c in cur.description]
                    rows = []
                    for r in cur.fetchall():
                        row = dict(zip(cols, r))
                        if any(str(row.get(c)) == v for c, v in LIVE[t][2]):
                            continue
                        rows.append(json.dumps({k: str(v) for k, v in row.items() if k not in LIVE[t][1]}, sort_keys=True))
                    out["live"]["%s.%s" % (db, t)] = hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()
    conn.close()
    return out


def compare(before, after):
    diffs = []
    for db, tables in before["checksums"].items():
        now = after["checksums"].get(db, {})
        if set(tables) != set(now):
            diffs.append("%s: tables %s -> %s" % (db, sorted(tables), sorted(now)))
        for t, value in tables.items():
            if t in LIVE:
                if LIVE[t][0]:
                    continue
                key = "%s.%s" % (db, t)
                if before["live"].get(key) != after["live"].get(key):
                    diffs.append("%s: rows differ (ignoring %s)" % (key, ", ".join(LIVE[t][1]) or "nothing"))
            elif now.get(t) != value:
                diffs.append("%s.%s: CHECKSUM TABLE %s -> %s" % (db, t, value, now.get(t)))
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
    diffs = compare(before, snapshot(instance))
    for line in diffs:
        print(line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
