"""The prune ahead of the stop, alone: heatbeat_sequence filled to N rows while OMS writes, pruned
by the collection's code as the role runs it (first batch 10,000 rows, later ones sized to hold
their locks 0.2 s), then, after the stop, the in-window prune of the rows written since.

`python benchmarks/run.py --prune-only` runs it on each engine (issue 19: the prune ahead of
5,000,000 rows on OceanBase must finish, no batch near ob_query_timeout).
"""

import json
import time

from obbench import contenders, prune
from obbench.db import BenchFailure
from obbench.measure import machine_load, stats

# the role's defaults (roles/oms_upgrade/defaults/main.yml)
BATCH_SIZE = 10000
BATCH_SECONDS = 0.2
# seconds OMS writes between the prune ahead and the stop (the role's image checks, the rehearsal)
GAP_SECONDS = 5


def run_prune(metadb, collections_path, from_id=None):
    req = {"collections_path": collections_path, "batch_size": BATCH_SIZE,
           "batch_seconds": BATCH_SECONDS, "from_id": from_id,
           "settings": contenders.child_settings(metadb)}
    m = contenders.run_child("obbench.prune_child", req)
    if m.rc != 0:
        raise BenchFailure("the prune failed: %s" % m.stderr.decode(errors="replace")[-800:])
    res = json.loads(m.stdout.decode())
    res["wall_seconds"] = round(m.seconds, 3)
    return res


def _keep(res):
    keys = ("seconds", "wall_seconds", "rows_deleted", "rows_after", "batches", "batch_size_first",
            "batch_size_last", "longest_batch_seconds", "longest_batch_rows", "max_id", "workers")
    return {k: res.get(k) for k in keys}


def measure(desc, metadb, containers, rows, rounds, collections_path, log=print):
    """Each round: OMS running, fill to `rows`, prune ahead, GAP_SECONDS, stop, in-window prune."""
    out = {"rows": rows, "batch_size": BATCH_SIZE, "batch_seconds": BATCH_SECONDS,
           "gap_seconds": GAP_SECONDS, "rounds": []}
    version = metadb.query("SELECT VERSION()")[0][0]
    if "oceanbase" in str(version).lower():
        out["ob_query_timeout_global_us"] = int(metadb.query("SELECT @@global.ob_query_timeout")[0][0])
    for rnd in range(rounds):
        log("\n== prune round %d/%d (%s)" % (rnd + 1, rounds, desc["old_container"]))
        containers.start_old(timeout=900)
        fill_rows, fill_seconds = prune.fill(metadb, rows, log=log)
        load = machine_load()
        ahead = run_prune(metadb, collections_path)
        log("  prune ahead: %s rows in %.2f s, %s batches, longest %.3f s (%s rows)"
            % (ahead["rows_deleted"], ahead["seconds"], ahead["batches"],
               ahead["longest_batch_seconds"], ahead["longest_batch_rows"]))
        time.sleep(GAP_SECONDS)
        containers.stop(desc["old_container"])
        window = run_prune(metadb, collections_path, from_id=ahead["max_id"])
        log("  in the window (after the stop): %s rows in %.3f s"
            % (window["rows_deleted"], window["seconds"]))
        out["rounds"].append({"fill_rows": fill_rows, "fill_seconds": fill_seconds,
                              "load_before": load, "ahead": _keep(ahead), "in_window": _keep(window)})
    containers.start_old(timeout=900)
    out["ahead_seconds"] = stats([r["ahead"]["seconds"] for r in out["rounds"]])
    out["ahead_longest_batch_seconds"] = max(r["ahead"]["longest_batch_seconds"] for r in out["rounds"])
    out["in_window_seconds"] = stats([r["in_window"]["seconds"] for r in out["rounds"]])
    return out


def render(results):
    """The engines side by side: the prune ahead (median), its longest batch, the in-window prune."""
    title = "== prune ahead of {:,} heartbeat rows (OMS writing), then in the window".format(results["rows"])
    lines = ["", title,
             "| engine | prune ahead, median (min-max) | batches | longest batch | in the window | ob_query_timeout |",
             "|---|---|---|---|---|---|"]
    for engine, res in results["engines"].items():
        if "prune" not in res:
            lines.append("| %s | failed: %s |  |  |  |  |" % (engine, "; ".join(res.get("failures", []))[:200]))
            continue
        p = res["prune"]
        a = p["ahead_seconds"]
        batches = [r["ahead"]["batches"] for r in p["rounds"]]
        timeout = p.get("ob_query_timeout_global_us")
        lines.append("| %s | %.2f s (%.2f-%.2f) | %s | %.3f s | %.3f s median | %s |"
                     % (engine, a["median"], a["min"], a["max"], "/".join(str(b) for b in batches),
                        p["ahead_longest_batch_seconds"], p["in_window_seconds"]["median"],
                        "%.0f s" % (timeout / 1e6) if timeout else "-"))
    engines = results["engines"]
    if all("prune" in engines.get(e, {}) for e in ("mariadb", "oceanbase")):
        ratio = engines["oceanbase"]["prune"]["ahead_seconds"]["median"] / \
            max(engines["mariadb"]["prune"]["ahead_seconds"]["median"], 1e-9)
        results["oceanbase_over_mariadb"] = round(ratio, 2)
        lines.append("OceanBase / MariaDB, prune ahead: %.2f x (target: at most 2 x)" % ratio)
    return "\n".join(lines)
