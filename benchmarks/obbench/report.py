"""The summary (ratios, targets) and the printed table."""

import statistics

from .measure import stats

TARGETS = {
    "module_over_manual": 0.5,        # module dump <= 0.5 x manual sequential dump
    "window_over_floor": 1.15,        # window <= 1.15 x (largest dump + start + docker_init)
    "overhead_seconds": 10.0,         # Ansible + polling inside the window <= 10 s
    "memory_growth": 0.10,            # module peak memory at 4x the data: within 10 % (flat)
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
    s["targets"] = _targets(s)
    return s


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
            "median_run_steps": mid["steps"],
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
                   v["target"].split("<=")[1].split()[0].rstrip("%"))
    if "%" in v["target"]:
        target /= 100.0
    return "%.0f %% over" % ((v["value"] / target - 1) * 100) if target else None


def render(results, s):
    L = []
    size = results.get("size_bytes", 0) / 1e6
    mach = results.get("machine", {})
    L.append("")
    L.append("=" * 100)
    L.append("obtools.oms benchmark: %.0f MB of generated rows (seed %s), %d repeats, "
             "%s cores, load %s -> %s" % (size, results.get("seed"), results.get("repeat"),
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
        f = up["floor"]
        L.append("floor = largest single dump %s + container start %s + docker_init.sh %s = %s s"
                 % (f["largest_single"], f["container_start"], f["docker_init"], f["sum"]))
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
        L.append("  %-20s %-8s target %-28s %s" % (k, v["value"], v["target"], verdict))
    L.append("wall time of the benchmark: %s s" % results.get("wall_seconds"))
    L.append("=" * 100)
    return "\n".join(L)


def _m(st):
    return "%.2f" % st["median"] if st else "-"


def _pair(p):
    return " -> ".join("%s" % x for x in p)


def _load(m):
    return "%.2f" % m["loadavg_1m"] if m.get("loadavg_1m") is not None else "?"
