"""The summary (ratios, targets) and the printed table."""

import statistics

from .measure import stats

TARGETS = {
    "module_over_manual": 1.0,        # module dump no slower than the manual sequential dump (issue 12)
    "window_over_floor": 1.15,        # window <= 1.15 x (largest dump + start + docker_init)
    "overhead_seconds": 2.0,          # Ansible + polling + journal inside the window <= 2 s (issue 12)
    "prune_in_window_seconds": 1.0,   # step 2.2 inside the window < 1 s at 5M heartbeat rows (issue 12)
    "prune_longest_batch_seconds": 1.0,  # no prune batch holds its locks 1 s or more (issue 12)
    "memory_growth": 0.10,            # module peak memory at 4x the data: within 10 % (flat)
}

# --quick (CI) fails when one of these regresses past its threshold. Each compares two things
# measured side by side in the same run, so the machine's load cancels out; the thresholds sit
# well beyond the spread seen on a shared 2-core machine at load 3-18 (see benchmarks/README.md)
# and well inside what the regression each one guards against would produce.
REGRESSION = {
    # module dump / manual mysqldump sequence (medians of the rounds), same data, alternating
    # order. Seen 1.27 at load 27 on the quick 64 MB data (single rounds 0.83-1.74), with the
    # CHECKSUM proof still in the dump; a serialised dump or a second proof pass gives 2 or more.
    "module_over_manual": 1.8,
    # in-window prune / prune ahead (prune time itself, same run). Seen below 0.05: the window
    # deletes seconds of rows, the ahead prune hundreds of thousands (seen 0.001-0.003). Without the prune ahead the
    # window deletes everything: ratio about 1 or more.
    "prune_in_window_over_ahead": 0.3,
    # overhead / window of the median upgrade. With the window's steps run back to back (each
    # job starts within 0.05 s of the one before it) it was 0.03 at 1 GB (0.61 of 20.7 s) and
    # 0.35 at 64 MB with the old 3 s settle; one Ansible task per step, as before, gave 0.62 on a
    # quiet machine, so a return to Ansible between the steps trips it.
    "overhead_over_window": 0.4,
}


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def summarise(results):
    s = {"contenders": {}, "ratios": {}, "targets": {}}
    dumps = results.get("dumps") or {}
    manual_bytes = (results.get("dump_sizes") and sum(results["dump_sizes"].values())) or None
    for name, runs in dumps.items():
        st = stats([r["seconds"] for r in runs])
        b = _median([r["bytes"] for r in runs])
        logical = b if name in ("largest_single",) else manual_bytes
        s["contenders"][name] = {
            "seconds": st, "bytes": b,
            "mb_per_s": round(logical / 1e6 / st["median"], 1) if logical and st else None,
            "own_peak_mb": _mb(_median([r.get("own_peak_kb") for r in runs])),
            "tree_peak_mb": _mb(_median([r.get("peak_kb") for r in runs])),
        }
        if name == "ansible_module":
            s["contenders"][name]["module_seconds"] = stats([r["module_seconds"] for r in runs])
        if name.startswith("module_"):
            s["contenders"][name]["profile"] = _profile(runs, results)
    med = {n: c["seconds"]["median"] for n, c in s["contenders"].items() if c["seconds"]}
    mod = med.get("module_none")
    s["ratios"] = {
        "module_over_manual": _ratio(mod, med.get("manual")),
        "module_over_largest_single": _ratio(mod, med.get("largest_single")),
        "module_over_mydumper": _ratio(mod, med.get("mydumper")),
        "ansible_module_over_manual": _ratio(med.get("ansible_module"), med.get("manual")),
        "largest_single_over_manual": _ratio(med.get("largest_single"), med.get("manual")),
    }
    # memory at two sizes
    ms = results.get("memory_small")
    if ms and "module_none" in dumps:
        small = ms["module_utils_own_peak_kb"]["median"]
        big = _median([r["own_peak_kb"] for r in dumps["module_none"]])
        a_small = ms.get("ansible_module_own_peak_kb")
        a_big = _median([r["own_peak_kb"] for r in dumps.get("ansible_module", [])])
        s["memory"] = {
            "small_data_mb": round(ms["bytes"]["median"] / 1e6, 1),
            "full_data_mb": round(_median([r["bytes"] for r in dumps["module_none"]]) / 1e6, 1),
            "module_utils_peak_mb": [_mb(small), _mb(big)],
            "ansible_module_peak_mb": [_mb(a_small), _mb(a_big)],
            "mysqldump_tree_peak_mb": [_mb(ms["module_utils_tree_peak_kb"]["median"]),
                                       _mb(_median([r["peak_kb"] for r in dumps["module_none"]]))],
            "growth": round(big / small - 1, 3) if small and big else None,
        }
    up = results.get("upgrade") or {}
    if up.get("runs"):
        s["upgrade"] = _upgrade_summary(up, med, results)
    s["compression"] = _compression(s, med)
    s["prune"] = _prune_summary(up.get("runs") or [], up.get("heartbeat_rows"))
    s["targets"] = _targets(s)
    return s


def _prune_summary(runs, rows):
    """Prune ahead (outside the window) and in the window, from the upgrade runs' journals."""
    ahead = [r["prune"]["ahead"] for r in runs if (r.get("prune") or {}).get("ahead")]
    inwin = [r["prune"]["in_window"] for r in runs if (r.get("prune") or {}).get("in_window")]
    if not ahead and not inwin:
        return None

    def col(items, key):
        return stats([i.get(key) for i in items])
    longest = [i.get("longest_batch_seconds") for i in ahead + inwin
               if i.get("longest_batch_seconds") is not None]
    out = {"heartbeat_rows": rows,
           "ahead_seconds": col(ahead, "prune_seconds"), "ahead_rows": col(ahead, "rows_deleted"),
           "ahead_batches": col(ahead, "batches"),
           "batch_size_first": col(ahead, "batch_size_first"),
           "batch_size_last": col(ahead, "batch_size_last"),
           "longest_batch_seconds": max(longest) if longest else None,
           "in_window_step_seconds": col(inwin, "step_seconds"),
           "in_window_prune_seconds": col(inwin, "prune_seconds"),
           "in_window_rows": col(inwin, "rows_deleted")}
    a, w = out["ahead_seconds"], out["in_window_prune_seconds"]
    out["in_window_over_ahead"] = _ratio(w["median"] if w else None, a["median"] if a else None)
    return out


def _mb(kb):
    return round(kb / 1024.0, 1) if kb else None


def _profile(runs, results):
    """Median seconds of each part of the module's dump, per database (critical path first)."""
    dbs = (results.get("metadb") or {}).get("databases") or {}
    parts = {}
    for r in runs:
        per = {}
        for sp in r.get("spans", []):
            key = sp["key"]
            role = next((ro for ro, db in sorted(dbs.items(), key=lambda kv: -len(kv[1]))
                         if db in key), key)
            per.setdefault(role, {}).setdefault(sp["part"], 0.0)
            per[role][sp["part"]] += sp["seconds"]
        for role, d in per.items():
            for part, secs in d.items():
                parts.setdefault(role, {}).setdefault(part, []).append(secs)
    return {role: {p: round(_median(v), 2) for p, v in d.items()} for role, d in parts.items()}


def _upgrade_summary(up, med, results):
    by_comp = {}
    for r in up["runs"]:
        by_comp.setdefault(r["compress"], []).append(r)
    out = {"by_compress": {}}
    for comp, runs in by_comp.items():
        mid = sorted(runs, key=lambda r: r["window"])[len(runs) // 2]
        out["by_compress"][comp] = {
            "window": stats([r["window"] for r in runs]),
            "online_after": stats([r["online_after"] for r in runs]),
            "overhead": stats([r["overhead"] for r in runs]),
            "gaps": stats([r["gaps"] for r in runs]),
            "dump_seconds": stats([r["dump_seconds"] for r in runs]),
            "init_seconds": stats([r["init_seconds"] for r in runs]),
            "start_seconds": stats([r["start_seconds"] for r in runs]),
            "playbook_seconds": stats([r["playbook_seconds"] for r in runs]),
            "rollback_seconds": stats([r.get("rollback_seconds") for r in runs]),
            "rollback_window": stats([r.get("rollback_window") for r in runs]),
            "median_run_steps": mid["steps"],
            "median_rollback_steps": sorted(runs, key=lambda r: r.get("rollback_window") or 0)[
                len(runs) // 2].get("rollback_steps") or [],
        }
    base = out["by_compress"].get("none") or next(iter(out["by_compress"].values()))
    largest = med.get("largest_single")
    start = base["start_seconds"]["median"] if base["start_seconds"] else None
    init = base["init_seconds"]["median"] if base["init_seconds"] else None
    floor = (largest + (start or 0) + (init or 0)) if largest is not None else None
    out["floor"] = {"largest_single": largest, "container_start": start, "docker_init": init,
                    "sum": round(floor, 2) if floor else None}
    out["window_over_floor"] = _ratio(base["window"]["median"], floor)
    out["overhead"] = base["overhead"]["median"]
    return out


def _compression(s, med):
    out = {"dump": {}, "window": {}}
    base = med.get("module_none")
    for comp in ("none", "gzip", "zstd"):
        c = s["contenders"].get("module_" + comp)
        if c:
            out["dump"][comp] = {"seconds": c["seconds"]["median"], "bytes": c["bytes"]}
    up = (s.get("upgrade") or {}).get("by_compress") or {}
    for comp, d in out["dump"].items():
        measured = up.get(comp, {}).get("window", {}) or {}
        predicted = None
        if "none" in up and base:
            predicted = round(up["none"]["window"]["median"] - base + d["seconds"], 2)
        out["window"][comp] = {"measured": measured.get("median"), "predicted": predicted}

    def key(comp):
        w = out["window"][comp]
        return w["measured"] if w["measured"] is not None else (
            w["predicted"] if w["predicted"] is not None else out["dump"][comp]["seconds"])
    if out["dump"]:
        out["fastest_for_window"] = min(out["dump"], key=key)
        out["basis"] = ("measured windows" if all(out["window"][c]["measured"] is not None
                                                  for c in out["dump"]) else
                        "predicted windows (window(none) - dump(none) + dump(c))" if up else
                        "dump times only (no upgrade run)")
    return out


def _targets(s):
    t = {}
    r = s["ratios"].get("module_over_manual")
    if r is not None:
        t["module_over_manual"] = {"value": r, "target": "<= %.2f" % TARGETS["module_over_manual"],
                                   "met": r <= TARGETS["module_over_manual"]}
    up = s.get("upgrade")
    if up:
        w = up.get("window_over_floor")
        if w is not None:
            t["window_over_floor"] = {"value": w, "target": "<= %.2f" % TARGETS["window_over_floor"],
                                      "met": w <= TARGETS["window_over_floor"]}
        o = up.get("overhead")
        if o is not None:
            t["overhead_seconds"] = {"value": o, "target": "<= %.0f s" % TARGETS["overhead_seconds"],
                                     "met": o <= TARGETS["overhead_seconds"]}
    p = s.get("prune")
    if p and p.get("in_window_step_seconds"):
        v = p["in_window_step_seconds"]["median"]
        t["prune_in_window_seconds"] = {"value": v, "target": "< %.0f s" % TARGETS["prune_in_window_seconds"],
                                        "met": v < TARGETS["prune_in_window_seconds"]}
    if p and p.get("longest_batch_seconds") is not None:
        v = p["longest_batch_seconds"]
        t["prune_longest_batch"] = {"value": v, "target": "< %.0f s" % TARGETS["prune_longest_batch_seconds"],
                                    "met": v < TARGETS["prune_longest_batch_seconds"]}
    m = s.get("memory")
    if m and m.get("growth") is not None:
        t["memory_flat"] = {"value": m["growth"], "target": "growth <= %.0f %% at %.0fx data"
                            % (TARGETS["memory_growth"] * 100,
                               m["full_data_mb"] / m["small_data_mb"] if m["small_data_mb"] else 0),
                            "met": m["growth"] <= TARGETS["memory_growth"]}
    for v in t.values():
        if not v["met"]:
            v["missed_by"] = _missed(v)
    return t


def _missed(v):
    target = float(v["target"].split()[-2] if v["target"].endswith("s") else
                   v["target"].split("=")[1].split()[0].rstrip("%"))
    if "%" in v["target"]:
        target /= 100.0
    return "%.0f %% over" % ((v["value"] / target - 1) * 100) if target else None


def render(results, s, engine=None):
    L = []
    size = results.get("size_bytes", 0) / 1e6
    mach = results.get("machine", {})
    L.append("")
    L.append("=" * 100)
    L.append("obtools.oms benchmark%s: %.0f MB of generated rows (seed %s), %d repeats, "
             "%s cores, load %s -> %s" % (" on %s (%s)" % (engine, (results.get("metadb") or {}).get("version"))
                                          if engine else "", size, results.get("seed"), results.get("repeat"),
                                          mach.get("cores"), _load(mach),
                                          _load(results.get("machine_after", {}))))
    if results.get("dump_sizes"):
        L.append("dump sizes (manual): %s; largest: %s"
                 % (", ".join("%s %.1f MB" % (k, v / 1e6) for k, v in results["dump_sizes"].items()),
                    results.get("largest_database")))
    L.append("")
    L.append("%-18s %9s %9s %9s %7s %9s %10s %10s" % (
        "contender", "median s", "min s", "max s", "spread", "MB/s", "own peak", "tree peak"))
    order = ["manual", "largest_single", "module_none", "ansible_module", "mydumper",
             "module_gzip", "module_zstd"]
    for name in order + [n for n in s["contenders"] if n not in order]:
        c = s["contenders"].get(name)
        if not c or not c["seconds"]:
            continue
        st = c["seconds"]
        L.append("%-18s %9.2f %9.2f %9.2f %6.0f%% %9s %10s %10s" % (
            name, st["median"], st["min"], st["max"], st["spread"] * 100,
            c["mb_per_s"] if c["mb_per_s"] is not None else "-",
            "%.1f MB" % c["own_peak_mb"] if c["own_peak_mb"] else "-",
            "%.1f MB" % c["tree_peak_mb"] if c["tree_peak_mb"] else "-"))
    am = s["contenders"].get("ansible_module")
    if am and am.get("module_seconds"):
        L.append("  (ansible_module: the module's own process %.2f s of the playbook's %.2f s)"
                 % (am["module_seconds"]["median"], am["seconds"]["median"]))
    L.append("")
    L.append("ratios: " + ", ".join("%s %s" % (k, v) for k, v in s["ratios"].items()))
    prof = (s["contenders"].get("module_none") or {}).get("profile")
    if prof:
        L.append("module dump, where the time goes (median seconds per database, parallel):")
        for role, parts in sorted(prof.items(), key=lambda kv: -sum(kv[1].values())):
            L.append("  %-6s %s" % (role, ", ".join("%s %.2f" % kv for kv in parts.items())))
    m = s.get("memory")
    if m:
        L.append("peak memory at %.0f MB -> %.0f MB of dump: module_utils process %s MB, "
                 "ansible module process %s MB, largest process incl. mysqldump %s MB (growth %s)"
                 % (m["small_data_mb"], m["full_data_mb"], _pair(m["module_utils_peak_mb"]),
                    _pair(m["ansible_module_peak_mb"]), _pair(m["mysqldump_tree_peak_mb"]),
                    "%+.1f %%" % (m["growth"] * 100) if m["growth"] is not None else "?"))
    up = s.get("upgrade")
    if up:
        L.append("")
        L.append("upgrade (playbooks/upgrade.yml on the test bed), window = T1 -> servers online "
                 "-> HA on:")
        L.append("%-8s %9s %7s %9s %9s %9s %9s %9s %9s" % (
            "compress", "window s", "spread", "online s", "dump s", "init s", "overhead",
            "playbook", "rollback"))
        for comp, d in up["by_compress"].items():
            L.append("%-8s %9.2f %6.0f%% %9s %9s %9s %9s %9s %9s" % (
                comp, d["window"]["median"], d["window"]["spread"] * 100, _m(d["online_after"]),
                _m(d["dump_seconds"]), _m(d["init_seconds"]), _m(d["overhead"]),
                _m(d["playbook_seconds"]), _m(d["rollback_seconds"])))
        base = up["by_compress"].get("none") or next(iter(up["by_compress"].values()))
        L.append("steps of the median window (seconds, share, work the step reports, gap "
                 "before it):")
        for st in base["median_run_steps"]:
            L.append("  %-22s +%7.2f %7.2f s %5.1f%%  work %6.2f (%s)  gap %.2f" % (
                st["step"], st["start_offset"], st["seconds"], (st["share"] or 0) * 100,
                st["work"], st["work_source"], st["gap_before"]))
        if base.get("rollback_window"):
            L.append("rollback window = T3 (4.2.0 stopped) -> 4.1.1 Online: %s s, %s x the upgrade's "
                     "window; its steps (median run):" % (
                         _m(base["rollback_window"]),
                         _ratio(base["rollback_window"]["median"], base["window"]["median"])))
            for st in base.get("median_rollback_steps") or []:
                L.append("  %-22s %7.2f s%s" % (st["step"], st["seconds"],
                                                "  (before T3, 4.2.0 serving)" if st.get("before_t3") else ""))
        f = up["floor"]
        L.append("floor = largest single dump %s + container start %s + docker_init.sh %s = %s s"
                 % (f["largest_single"], f["container_start"], f["docker_init"], f["sum"]))
    p = s.get("prune")
    if p:
        L.append("heartbeat prune at %s rows of heatbeat_sequence (medians of the upgrade runs):"
                 % p["heartbeat_rows"])
        L.append("  ahead of the stop (OMS running): %s rows in %s s, %s batches, batch size %s -> %s "
                 "(sized to 0.2 s each), longest batch %s s"
                 % (_m0(p["ahead_rows"]), _m(p["ahead_seconds"]), _m0(p["ahead_batches"]),
                    _m0(p["batch_size_first"]), _m0(p["batch_size_last"]), p["longest_batch_seconds"]))
        L.append("  in the window (step 2.2): %s rows, step %s s (spread %s), the prune itself %s s"
                 % (_m0(p["in_window_rows"]), _m(p["in_window_step_seconds"]),
                    _sp(p["in_window_step_seconds"]), _m(p["in_window_prune_seconds"])))
    elif (results.get("upgrade") or {}).get("skipped"):
        L.append("")
        L.append("upgrade: skipped (%s)" % results["upgrade"]["skipped"])
    comp = s.get("compression")
    if comp and comp.get("dump"):
        L.append("")
        L.append("compression: %s" % "; ".join(
            "%s dump %.2f s %.1f MB, window %s" % (
                c, d["seconds"], d["bytes"] / 1e6,
                "%s s measured" % comp["window"][c]["measured"]
                if comp["window"][c]["measured"] is not None else
                ("%s s predicted" % comp["window"][c]["predicted"]
                 if comp["window"][c]["predicted"] is not None else "-"))
            for c, d in comp["dump"].items()))
        L.append("fastest for the window: %s (by %s)" % (comp["fastest_for_window"], comp["basis"]))
    L.append("")
    L.append("targets (shown, not asserted):")
    for k, v in s["targets"].items():
        verdict = "MET" if v["met"] else "NOT MET (%s)" % v.get("missed_by")
        L.append("  %-28s %-8s target %-28s %s" % (k, v["value"], v["target"], verdict))
    L.append("wall time of the benchmark: %s s" % results.get("wall_seconds"))
    L.append("=" * 100)
    return "\n".join(L)


def _m(st):
    return "%.2f" % st["median"] if st else "-"


def _m0(st):
    return "%d" % st["median"] if st else "-"


def _sp(st):
    return "%.0f%%" % (st["spread"] * 100) if st else "-"


def _engine_row(res):
    """The figures of one engine for the cross-engine table and the headline keys."""
    s = res.get("summary") or {}
    c = s.get("contenders") or {}
    up = s.get("upgrade") or {}
    base = (up.get("by_compress") or {}).get("none") or next(iter((up.get("by_compress") or {}).values()), {})
    p = s.get("prune") or {}
    mem = s.get("memory") or {}

    def med(name):
        st = (c.get(name) or {}).get("seconds")
        return st["median"] if st else None

    def spread(name):
        st = (c.get(name) or {}).get("seconds")
        return st["spread"] if st else None
    window = base.get("window")
    overhead = base.get("overhead")
    pw = p.get("in_window_step_seconds")
    return {
        "manual_seconds": med("manual"), "manual_spread": spread("manual"),
        "module_seconds": med("module_none"), "module_spread": spread("module_none"),
        "mydumper_seconds": med("mydumper"),
        "mydumper_unusable": (res.get("unusable") or {}).get("mydumper"),
        "module_over_manual": (s.get("ratios") or {}).get("module_over_manual"),
        "heartbeat_rows": p.get("heartbeat_rows"),
        "prune_in_window_seconds": pw["median"] if pw else None,
        "prune_in_window_spread": pw["spread"] if pw else None,
        "prune_in_window_work_seconds": (p.get("in_window_prune_seconds") or {}).get("median"),
        "prune_ahead_seconds": (p.get("ahead_seconds") or {}).get("median"),
        "prune_longest_batch_seconds": p.get("longest_batch_seconds"),
        "prune_batch_size_last": (p.get("batch_size_last") or {}).get("median"),
        "prune_in_window_over_ahead": p.get("in_window_over_ahead"),
        "window_seconds": window["median"] if window else None,
        "window_spread": window["spread"] if window else None,
        "overhead_seconds": overhead["median"] if overhead else None,
        "overhead_spread": overhead["spread"] if overhead else None,
        "overhead_over_window": _ratio(overhead["median"], window["median"]) if overhead and window else None,
        "peak_memory_mb": (mem.get("ansible_module_peak_mb") or [None, None])[-1],
        "peak_memory_mb_small_full": mem.get("ansible_module_peak_mb"),
        "memory_growth": mem.get("growth"),
    }


def headline(results):
    """The results' top-level keys: per engine, and the worst engine's value at the top."""
    by_engine = {e: _engine_row(r) for e, r in results["engines"].items() if "skipped" not in r}
    out = {"by_engine": by_engine}
    for key in ("module_over_manual", "overhead_seconds", "prune_in_window_seconds",
                "prune_longest_batch_seconds", "window_seconds"):
        vals = [row[key] for row in by_engine.values() if row.get(key) is not None]
        out[key] = max(vals) if vals else None
    return out


def regressions(results):
    """What --quick fails on: a ratio past its REGRESSION threshold on any engine."""
    found = []
    for engine, row in results.get("by_engine", {}).items():
        for key, limit in REGRESSION.items():
            v = row.get(key)
            if v is not None and v > limit:
                found.append("%s %s = %s, past the threshold %s" % (engine, key, v, limit))
    return found


def render_engines(results):
    L = ["", "=" * 100,
         "per MetaDB engine (medians; spread in brackets; window and overhead from the journal of "
         "the upgrade with no compression)"]
    L.append("%-10s %13s %13s %10s %8s %17s %13s %13s %9s" % (
        "engine", "manual s", "module s", "mydumper", "mod/man", "prune in window",
        "window s", "overhead s", "peak MB"))
    for engine, res in results["engines"].items():
        if "skipped" in res:
            L.append("%-10s %s" % (engine, res["skipped"]))
            continue
        r = results["by_engine"][engine]
        L.append("%-10s %13s %13s %10s %8s %17s %13s %13s %9s" % (
            engine, _ws(r["manual_seconds"], r["manual_spread"]),
            _ws(r["module_seconds"], r["module_spread"]),
            "n/a" if r["mydumper_unusable"] else _f(r["mydumper_seconds"]),
            _f(r["module_over_manual"], "%.2f"),
            "%s @%s" % (_ws(r["prune_in_window_seconds"], r["prune_in_window_spread"]),
                        _rows(r["heartbeat_rows"])),
            _ws(r["window_seconds"], r["window_spread"]),
            _ws(r["overhead_seconds"], r["overhead_spread"]), _f(r["peak_memory_mb"], "%.1f")))
        if r["mydumper_unusable"]:
            L.append("           mydumper against %s: %s" % (engine, r["mydumper_unusable"][-160:]))
    L.append("headline (worst engine): module_over_manual %s, overhead_seconds %s, "
             "prune_in_window_seconds %s, longest prune batch %s s"
             % (results.get("module_over_manual"), results.get("overhead_seconds"),
                results.get("prune_in_window_seconds"), results.get("prune_longest_batch_seconds")))
    if results.get("quick"):
        L.append("--quick regression thresholds: %s"
                 % ", ".join("%s <= %s" % kv for kv in REGRESSION.items()))
    L.append("=" * 100)
    return "\n".join(L)


def _f(v, fmt="%.2f"):
    return fmt % v if v is not None else "-"


def _ws(v, spread):
    if v is None:
        return "-"
    return "%.2f (%.0f%%)" % (v, spread * 100) if spread is not None else "%.2f" % v


def _rows(n):
    if not n:
        return "?"
    return "%gM" % (n / 1e6) if n >= 1e6 else "%gk" % (n / 1e3)


def _pair(p):
    return " -> ".join("%s" % x for x in p)


def _load(m):
    return "%.2f" % m["loadavg_1m"] if m.get("loadavg_1m") is not None else "?"
