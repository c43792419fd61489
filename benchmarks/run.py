"""Benchmark: the MetaDB dump and the upgrade's downtime window, against the manual procedure.

    source scripts/env.sh && python benchmarks/run.py --quick      # a few minutes (CI)
    source scripts/env.sh && python benchmarks/run.py              # about 1 GB of metadata

See benchmarks/README.md. Exits non-zero when anything it measures fails (an empty dump, a failed
upgrade or rollback, a contender's output far from the others' size), never because a target is
missed: targets are shown, not asserted.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from obbench import contenders, prune, prune_ahead, report, seed as seeding, testbed, upgrade  # noqa: E402
from obbench.db import BenchFailure, MetaDB  # noqa: E402
from obbench.measure import machine_load, stats  # noqa: E402

REPO = os.path.dirname(HERE)
QUICK_SIZE = "64M"
DEFAULT_SIZE = "1G"
COMPRESSIONS = ("none", "gzip", "zstd")
HEARTBEAT_ROWS = 5000000        # a deployment that ran for weeks (issue 12)
QUICK_HEARTBEAT_ROWS = 500000


def parse_size(text):
    text = str(text).strip().upper().rstrip("B")
    mult = {"K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1)
    num = text[:-1] if text[-1:] in "KMG" else text
    return int(float(num) * mult)


def log(msg=""):
    print(msg, flush=True)


def collections_env():
    """An environment where Python and Ansible find this checkout as obtools.oms."""
    env = dict(os.environ)
    path = env.get("ANSIBLE_COLLECTIONS_PATH", "").split(":")[0]
    link = os.path.join(path, "ansible_collections", "obtools", "oms") if path else ""
    if not path or not os.path.exists(os.path.join(link, "galaxy.yml")):
        path = tempfile.mkdtemp(prefix="obbench-collections-")
        os.makedirs(os.path.join(path, "ansible_collections", "obtools"))
        os.symlink(REPO, os.path.join(path, "ansible_collections", "obtools", "oms"))
        env["ANSIBLE_COLLECTIONS_PATH"] = path
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
    env.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    return env, path


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    p.add_argument("--quick", action="store_true",
                   help="small data (%s), for CI: a few minutes" % QUICK_SIZE)
    p.add_argument("--size", help="total size of the generated rows, e.g. 256M, 1G (default %s, "
                                  "%s with --quick)" % (DEFAULT_SIZE, QUICK_SIZE))
    p.add_argument("--repeat", type=int, default=3, help="runs of each contender (>= 3)")
    p.add_argument("--seed", type=int, default=4110, help="seed of the generated data")
    p.add_argument("--out", help="JSON results path (default benchmarks/results/<size>.json)")
    p.add_argument("--instance", default="bench",
                   help="the benchmark's own test-bed instance (MariaDB; OceanBase: this name + 'ob')")
    p.add_argument("--engines", default=None,
                   help="MetaDB engines to measure, e.g. mariadb,oceanbase (default: what the test "
                        "bed offers: %s)" % ",".join(testbed.engines_offered()))
    p.add_argument("--heartbeat-rows", type=int, default=None,
                   help="rows in heatbeat_sequence before each upgrade, pruned ahead of the stop and "
                        "in the window (default %d; %d with --quick)" % (HEARTBEAT_ROWS, QUICK_HEARTBEAT_ROWS))
    p.add_argument("--compress", default=",".join(COMPRESSIONS),
                   help="compressions of the module's dump to measure (default all)")
    p.add_argument("--upgrade-compress", default=None,
                   help="compressions to run the whole upgrade with (default: none,zstd,gzip; "
                        "with --quick: none, the others' windows are then predicted from their "
                        "dump times)")
    p.add_argument("--skip-upgrade", action="store_true", help="dump contenders only")
    p.add_argument("--reset-instance", action="store_true",
                   help="`testbed reset` the instance first (after the simulator's schema changed; "
                        "the data is then seeded again)")
    p.add_argument("--describe", help="JSON file shaped like `testbed describe` for another "
                                      "MetaDB (no test bed; implies --skip-upgrade)")
    p.add_argument("--mydumper-threads", type=int, default=4)
    p.add_argument("--prune-only", action="store_true",
                   help="only the prune ahead of --heartbeat-rows rows (OMS writing) and the "
                        "in-window prune, --repeat rounds (>= 1) on each engine; results "
                        "benchmarks/results/prune-<rows>.json")
    p.add_argument("--upgrade-var", action="append", default=[], metavar="NAME=VALUE",
                   help="extra inventory variable for the upgrade runs (YAML value), e.g. "
                        "oms_upgrade_progress_interval=1; repeatable")
    return p


def check_sizes(name, result, reference, tolerance):
    """An uncompressed dump far from the manual one's size means a contender lost data."""
    got, want = result["bytes"], reference
    if want and abs(got - want) > tolerance * want:
        raise BenchFailure("%s wrote %d bytes, the manual dump %d (more than %d %% apart)"
                           % (name, got, want, tolerance * 100))


def prepare_instance(name, reset=False, engine=None):
    """Instance `name` up, at 4.1.1, no leftover upgraded container; returns describe()."""
    testbed.check_instance_name(name)
    if reset:
        log("testbed: resetting instance %s (--reset-instance)" % name)
        return testbed.reset(name)
    try:
        desc = testbed.describe(name)
    except BenchFailure:
        log("testbed: bringing instance %s up" % name)
        return testbed.up(name)
    if engine and desc.get("metadb", {}).get("engine") not in (None, engine):
        # an instance remembers its engine: measuring "mariadb" on it would measure OceanBase
        log("testbed: instance %s runs on %s, not %s; resetting it" % (name, desc["metadb"]["engine"], engine))
        return testbed.reset(name)
    cont = testbed.Containers(desc)
    if cont.status(desc["new_container"]) is not None:
        log("testbed: removing the leftover %s of an earlier run" % desc["new_container"])
        cont.remove(desc["new_container"])
    ok = cont.status(desc["old_container"]) is not None
    if ok:
        md = MetaDB.from_describe(desc)
        try:
            for role in md.ROLES:
                rows = md.query("SELECT version FROM oms_meta_version", db=md.dbs[role])
                ok = ok and rows and rows[0][0] == "4.1.1-CE"
        except Exception:  # pylint: disable=broad-except
            ok = False
        finally:
            md.close()
    if not ok:
        log("testbed: instance %s is not a clean 4.1.1 deployment; resetting it" % name)
        return testbed.reset(name)
    return desc


def main(argv=None):
    a = args_parser().parse_args(argv)
    if a.prune_only:
        return prune_main(a, argv)
    if a.repeat < 3:
        raise SystemExit("--repeat must be at least 3")
    size = parse_size(a.size or (QUICK_SIZE if a.quick else DEFAULT_SIZE))
    compressions = [c.strip() for c in a.compress.split(",") if c.strip()]
    for c in compressions:
        if c not in COMPRESSIONS:
            raise SystemExit("unknown compression %r" % c)
    offered = testbed.engines_offered()
    engines = [e.strip() for e in (a.engines or ",".join(offered)).split(",") if e.strip()]
    for e in engines:
        if e not in testbed.ENGINE_INSTANCE_SUFFIX:
            raise SystemExit("unknown engine %r (mariadb, oceanbase)" % e)
    if a.describe:
        engines = engines[:1]
    hb_rows = a.heartbeat_rows if a.heartbeat_rows is not None else (
        QUICK_HEARTBEAT_ROWS if a.quick else HEARTBEAT_ROWS)
    label = a.size or (QUICK_SIZE if a.quick else DEFAULT_SIZE)
    out_path = a.out or os.path.join(HERE, "results",
                                     "%s%s.json" % ("quick-" if a.quick else "", label))
    env, coll_path = collections_env()
    results = {"command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:])),
               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "size_bytes": size, "small_size_bytes": size // 4, "seed": a.seed,
               "repeat": a.repeat, "quick": bool(a.quick), "heartbeat_rows": hb_rows,
               "machine": dict(machine_load(), node=platform.node()),
               "tools": tool_versions(), "engines_offered": offered, "engines": {}}
    t_start = time.monotonic()
    failures = []
    for engine in engines:
        log("\n######## MetaDB engine: %s" % engine)
        if engine not in offered and not a.describe:
            msg = ("%s: this test bed cannot deploy it (it offers %s; OMS_TESTBED_METADB)"
                   % (engine, ", ".join(offered)))
            results["engines"][engine] = {"failures": [msg], "skipped": msg}
            failures.append(msg)
            continue
        testbed.use_engine(engine)
        res = bench_engine(a, engine, testbed.instance_for(a.instance, engine), size, hb_rows,
                           compressions, env, coll_path)
        results["engines"][engine] = res
        failures.extend("%s: %s" % (engine, f) for f in res["failures"])
    results["wall_seconds"] = round(time.monotonic() - t_start, 1)
    results["machine_after"] = machine_load()
    try:
        for engine, res in results["engines"].items():
            if "skipped" in res:
                continue
            res["summary"] = report.summarise(res)
            log(report.render(res, res["summary"], engine))
        results.update(report.headline(results))
        log(report.render_engines(results))
        regressions = report.regressions(results) if a.quick else []
        results["regressions"] = regressions
        failures.extend("regression: %s" % r for r in regressions)
    except Exception as e:  # pylint: disable=broad-except
        failures.append("report: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
    results["failures"] = failures
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
    log("results: %s" % out_path)
    if failures:
        for msg in failures:
            log("FAILED: %s" % msg)
        return 1
    return 0


def prune_main(a, argv):
    """--prune-only: the prune ahead and the in-window prune on each engine, side by side."""
    if a.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    rows = a.heartbeat_rows if a.heartbeat_rows is not None else (
        QUICK_HEARTBEAT_ROWS if a.quick else HEARTBEAT_ROWS)
    offered = testbed.engines_offered()
    engines = [e.strip() for e in (a.engines or ",".join(offered)).split(",") if e.strip()]
    _env, coll_path = collections_env()
    results = {"command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:])),
               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows,
               "repeat": a.repeat, "machine": dict(machine_load(), node=platform.node()),
               "engines": {}}
    out_path = a.out or os.path.join(HERE, "results", "prune-%d.json" % rows)
    failures = []
    for engine in engines:
        log("\n######## MetaDB engine: %s" % engine)
        res = results["engines"][engine] = {"failures": []}
        if engine not in offered:
            res["failures"].append("this test bed cannot deploy it (it offers %s)" % ", ".join(offered))
        else:
            testbed.use_engine(engine)
            desc = prepare_instance(testbed.instance_for(a.instance, engine), a.reset_instance, engine)
            metadb = MetaDB.from_describe(desc)
            try:
                res["prune"] = prune_ahead.measure(desc, metadb, testbed.Containers(desc), rows,
                                                   a.repeat, coll_path, log=log)
            except BenchFailure as e:
                res["failures"].append(str(e))
            finally:
                metadb.close()
        failures.extend("%s: %s" % (engine, f) for f in res["failures"])
    results["machine_after"] = machine_load()
    log(prune_ahead.render(results))
    results["failures"] = failures
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
    log("results: %s" % out_path)
    for msg in failures:
        log("FAILED: %s" % msg)
    return 1 if failures else 0


def bench_engine(a, engine, instance, size, hb_rows, compressions, env, coll_path):
    """Every measurement on one MetaDB engine; the results dict of that engine."""
    small = size // 4
    workdir = tempfile.mkdtemp(prefix="obbench-work-", dir="/var/tmp")
    results = {"engine": engine, "instance": instance, "size_bytes": size, "small_size_bytes": small,
               "seed": a.seed, "repeat": a.repeat, "heartbeat_rows": hb_rows,
               "machine": dict(machine_load(), node=platform.node())}
    failures = []
    t_start = time.monotonic()
    desc = containers = metadb = loader = old_timeout = None
    try:
        if a.describe:
            with open(a.describe) as f:
                desc = json.load(f)
            a.skip_upgrade = True
        else:
            if not testbed.available():
                raise BenchFailure("tests/testbed/testbed is missing")
            desc = prepare_instance(instance, a.reset_instance, engine)
            containers = testbed.Containers(desc)
        metadb = MetaDB.from_describe(desc)
        # OceanBase wants the FILE privilege for LOAD DATA LOCAL too (error 1227), which OMS's user
        # has not: the generated rows are loaded as the MetaDB's root when the test bed gives it
        if engine == "oceanbase" and desc.get("metadb_root"):
            loader = MetaDB.from_root(desc, metadb.dbs)
            # one LOAD DATA of a table is minutes: past the default 10 s ob_query_timeout
            loader.session_sql = "SET SESSION ob_query_timeout = 3600000000, ob_trx_timeout = 3600000000; "
            # the manual procedure's mysqldump (and mydumper) run under the tenant's global
            # timeout: raised for the run, as the manual procedure needs, set back at the end
            old_timeout = loader.query("SELECT @@global.ob_query_timeout")[0][0]
            loader.query("SET GLOBAL ob_query_timeout = 1800000000")
            results["ob_query_timeout_global"] = {"before": int(old_timeout), "during_run": 1800000000}
        results["metadb"] = {"host": metadb.host, "port": metadb.port, "user": metadb.user,
                             "databases": metadb.dbs, "version": metadb.query("SELECT VERSION()")[0][0]}
        if containers:
            log("stopping %s (the dump happens after step 2.1)" % desc["old_container"])
            containers.stop(desc["old_container"])

        # -- memory at the small size ------------------------------------------------------
        log("\n== seed %.0f MB (small size, for the memory probe)" % (small / 1e6))
        results["seed_small"] = seeding.seed(metadb, a.seed, small, log=log, loader=loader)
        seeding.prune_heartbeat_sequence(metadb)
        mem_small = []
        for _i in range(a.repeat):
            r = contenders.module_utils_dump(metadb, workdir, coll_path, profile=False)
            mem_small.append(r)
            shutil.rmtree(r["dir"], ignore_errors=True)
        ans_small = contenders.ansible_module_dump(metadb, workdir, env)
        shutil.rmtree(ans_small["dir"], ignore_errors=True)
        results["memory_small"] = {
            "bytes": stats([r["bytes"] for r in mem_small]),
            "module_utils_own_peak_kb": stats([r["own_peak_kb"] for r in mem_small]),
            "module_utils_tree_peak_kb": stats([r["peak_kb"] for r in mem_small]),
            "ansible_module_own_peak_kb": ans_small["own_peak_kb"],
            "ansible_module_tree_peak_kb": ans_small["peak_kb"],
            "seconds": stats([r["seconds"] for r in mem_small])}

        # -- full size ---------------------------------------------------------------------
        log("\n== seed %.0f MB (full size)" % (size / 1e6))
        t0 = time.monotonic()
        results["seeding"] = seeding.seed(metadb, a.seed, size, log=log, loader=loader)
        results["seeding"]["wall_seconds"] = round(time.monotonic() - t0, 2)
        results["heartbeat_rows_pruned"] = seeding.prune_heartbeat_sequence(metadb)
        log("warm-up: one untimed manual dump")
        warm = contenders.manual_sequence(metadb, workdir)
        shutil.rmtree(warm["dir"], ignore_errors=True)
        largest_db = max(warm["files"], key=warm["files"].get)
        largest_role = next(r for r in metadb.ROLES if metadb.dbs[r] == largest_db)
        results["largest_database"] = largest_db
        results["dump_sizes"] = warm["files"]

        runs = {}
        plan = [("manual", lambda: contenders.manual_sequence(metadb, workdir)),
                ("largest_single", lambda: contenders.largest_single(metadb, workdir, largest_role)),
                ("mydumper", lambda: contenders.mydumper(metadb, workdir, a.mydumper_threads)),
                ("ansible_module", lambda: contenders.ansible_module_dump(metadb, workdir, env))]
        for c in compressions:
            plan.append(("module_" + c, lambda c=c: contenders.module_utils_dump(
                metadb, workdir, coll_path, compress=c, profile=True)))
        unusable = {}
        for rnd in range(a.repeat):
            order = plan[rnd % len(plan):] + plan[:rnd % len(plan)]
            log("\n== round %d/%d: %s" % (rnd + 1, a.repeat, ", ".join(entry[0] for entry in order)))
            for name, fn in order:
                if name in unusable:
                    continue
                try:
                    r = fn()
                except BenchFailure as e:
                    if name != "mydumper":
                        raise
                    # a third-party tool that does not work against this engine is a finding,
                    # not a failure of what we measure
                    unusable[name] = str(e)[-500:]
                    log("  %-16s does not work against %s: %s" % (name, engine, str(e)[-200:]))
                    continue
                shutil.rmtree(r.pop("dir"), ignore_errors=True)
                if name in ("manual", "ansible_module", "module_none"):
                    check_sizes(name, r, warm["bytes"], 0.02)
                elif name == "largest_single":
                    check_sizes(name, r, warm["files"][largest_db], 0.02)
                elif name == "mydumper":
                    check_sizes(name, r, warm["bytes"], 0.30)
                runs.setdefault(name, []).append(r)
                log("  %-16s %7.2f s  %8.1f MB  peak %6.1f MB"
                    % (name, r["seconds"], r["bytes"] / 1e6, (r.get("peak_kb") or 0) / 1024.0))
        results["dumps"] = runs
        results["unusable"] = unusable

        # -- the whole upgrade -------------------------------------------------------------
        if a.skip_upgrade:
            results["upgrade"] = {"skipped": "--skip-upgrade" if not a.describe else "--describe"}
        elif not upgrade.available():
            results["upgrade"] = {"skipped": "playbooks/upgrade.yml or rollback.yml not there yet"}
            log("\n== upgrade: skipped (%s)" % results["upgrade"]["skipped"])
        else:
            results["upgrade"] = {"runs": []}
            run_upgrades(a, desc, containers, metadb, env, size, hb_rows, results["upgrade"])
            containers.stop(desc["old_container"])
    except BenchFailure as e:
        failures.append(str(e))
    except Exception as e:  # pylint: disable=broad-except
        failures.append("%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
    finally:
        if containers is not None and desc is not None:
            try:  # leave no simulator running (2 cores); the data stays for the next run
                containers.stop(desc["old_container"])
            except Exception:  # pylint: disable=broad-except
                pass
        if old_timeout is not None:
            try:
                loader.query("SET GLOBAL ob_query_timeout = %d" % int(old_timeout))
            except Exception as e:  # pylint: disable=broad-except
                failures.append("could not set ob_query_timeout back to %s: %s" % (old_timeout, e))
        for login in (metadb, loader):
            if login is not None:
                login.close()
        shutil.rmtree(workdir, ignore_errors=True)
    results["wall_seconds"] = round(time.monotonic() - t_start, 1)
    results["machine_after"] = machine_load()
    results["failures"] = failures
    return results


def run_upgrades(a, desc, containers, metadb, env, size, hb_rows, holder):
    if a.upgrade_compress:
        comps = [c.strip() for c in a.upgrade_compress.split(",") if c.strip()]
    else:
        comps = ["none"] if a.quick else ["none", "zstd", "gzip"]
    extra = {}
    for item in a.upgrade_var:
        name, _eq, value = item.partition("=")
        extra[name] = yaml.safe_load(value)
    runner = upgrade.Runner(desc, env, sys.executable)
    backup_root = desc["backup_dir"]
    runs = holder["runs"]
    holder.update({"compressions": comps, "extra_vars": extra, "heartbeat_rows": hb_rows})

    def after_rollback():
        # the rollback restarts the old container; the next upgrade creates the new one again
        containers.remove(desc["new_container"])

    try:
        for rnd in range(a.repeat):
            order = comps[rnd % len(comps):] + comps[:rnd % len(comps)]
            for comp in order:
                containers.start_old()
                # weeks of heartbeats, written while OMS runs: pruned ahead, then in the window
                holder.setdefault("fill_seconds", []).append(prune.fill(metadb, hb_rows, log=log)[1])
                log("\n== upgrade round %d/%d, compress=%s" % (rnd + 1, a.repeat, comp))
                for attempt in range(3):
                    try:
                        r = upgrade.run_once(runner, containers, metadb, desc, backup_root, comp,
                                             after_rollback, runs, log=log, extra=extra)
                        break
                    except upgrade.ImageRemovedMeanwhile as e:
                        if attempt == 2:
                            raise
                        log("  retrying: %s" % e)
                        holder.setdefault("retries", []).append(str(e))
                        after_rollback()
                        containers.start_old()
                log("  window %.1f s (online after %s s), dump %s s, overhead %.1f s, "
                    "playbook %.1f s, rollback %s s"
                    % (r["window"], r["online_after"], r["dump_seconds"], r["overhead"],
                       r["playbook_seconds"], r["rollback_seconds"]))
                pa, pw = (r["prune"].get("ahead") or {}), (r["prune"].get("in_window") or {})
                log("  prune ahead %s rows in %s s (%s batches, %s -> %s rows, longest %s s); "
                    "in the window %s rows, step %s s (prune itself %s s)"
                    % (pa.get("rows_deleted"), pa.get("prune_seconds"), pa.get("batches"),
                       pa.get("batch_size_first"), pa.get("batch_size_last"),
                       pa.get("longest_batch_seconds"), pw.get("rows_deleted"),
                       pw.get("step_seconds"), pw.get("prune_seconds")))
                # the rollback must have put the seeded data back
                rows = metadb.table_rows(seeding.TABLES[-1][0], seeding.TABLES[-1][1])
                want = seeding.plan(a.seed, size)[seeding.TABLES[-1][1]]
                if rows != want:
                    raise BenchFailure("after the rollback %s has %d rows, not %d"
                                       % (seeding.TABLES[-1][1], rows, want))
    finally:
        runner.close()


def tool_versions():
    out = {"python": platform.python_version()}
    for name, cmd in (("mysqldump", ["mysqldump", "--version"]),
                      ("mydumper", ["mydumper", "--version"]),
                      ("zstd", ["zstd", "--version"]), ("gzip", ["gzip", "--version"])):
        try:
            out[name] = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       timeout=10, check=False).stdout.decode().splitlines()[0].strip()
        except (OSError, subprocess.SubprocessError, IndexError):
            out[name] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
