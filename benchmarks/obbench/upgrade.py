"""Contender 5: the whole upgrade on the test bed (playbooks/upgrade.yml), then a rollback.

The downtime window is read from the role's journal: T1 (old container stopped) -> servers online
(step health done) -> HA on (T2, the ha_on step's data.t2: the write of ha.config; the step then
waits up to oms_ha_reload_wait for a sign that OMS took it, which a real OMS may never log, while
HA is on and OMS serves: that wait is not downtime). Each step's share of the window, and the Ansible and
polling overhead (window minus the work the steps report doing), come from the same journal.
"""

import datetime
import glob
import json
import os
import shutil
import tempfile
import time

import yaml

from . import prune
from .db import BenchFailure
from .measure import run_measured
from .testbed import REPO

UPGRADE = os.path.join(REPO, "playbooks", "upgrade.yml")
ROLLBACK = os.path.join(REPO, "playbooks", "rollback.yml")
# Steps that are inside the window, and where their "work" figure is found in the journal data.
WINDOW_END_STEPS = ("ha_on",)
HEALTH_STEPS = ("health",)
INIT_STEPS = ("docker_init", "init", "initialize")
RUN_NEW_STEPS = ("new_container", "start_new", "container", "run_new")
BOOT_SOURCE = "OMS boot until supervisorctl answers (init data.ready_at)"


class ImageRemovedMeanwhile(BenchFailure):
    """The 4.2.0 tag vanished between `docker load` and `docker run`: another instance's
    `testbed reset` removes the shared target tag. The role rolled back by itself; worth a retry."""


def available():
    return os.path.exists(UPGRADE) and os.path.exists(ROLLBACK)


def parse_time(text):
    if not text:
        return None
    value = text.replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


class Runner(object):
    """Inventory and secrets for instance `bench`, generated from `testbed describe`."""

    def __init__(self, desc, env, python):
        self.desc = desc
        self.env = dict(env)
        self.dir = tempfile.mkdtemp(prefix="obbench-upgrade-")
        os.chmod(self.dir, 0o700)
        self.secrets = os.path.join(self.dir, "secrets.yml")
        fd = os.open(self.secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            # the MetaDB settings come from the config.yaml the old container mounts, as on a
            # real host; the console password is the only secret the playbooks need
            yaml.safe_dump({"oms_console_password": desc["console_password"]}, f)
        self.python = python

    def inventory(self, backup_dir, compress, extra=None):
        d = self.desc
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": self.python,
            "oms_old_container": d["old_container"],
            "oms_new_container": d["new_container"],
            "oms_target_image": d["target_image"],
            "oms_image_archive": d["image_archive"],
            "oms_backup_dir": backup_dir,
            "oms_config_file": d["config_file"],
            "oms_mounts": d["mounts"],
            "oms_host_ip": d["oms_host_ip"],
            "oms_console_url": d["console_url"],
            "oms_console_user": d["console_user"],
            "oms_console_validate_certs": False,
            "oms_upgrade_dump_compress": compress,
        }
        host.update(extra or {})
        if d.get("ssl_certificate"):
            host["oms_ssl_certificate"] = d["ssl_certificate"]
            host["oms_ssl_key"] = d["ssl_key"]
        path = os.path.join(self.dir, "inventory.yml")
        with open(path, "w") as f:
            yaml.safe_dump({"oms": {"hosts": {"oms_bench": host}}}, f)
        return path

    def playbook(self, playbook, inventory, log_name, args=()):
        m = run_measured(["ansible-playbook", "-i", inventory, "-e", "@" + self.secrets,
                          playbook] + list(args), env=self.env, cwd=REPO)
        log = os.path.join(self.dir, log_name)
        with open(log, "wb") as f:
            f.write(m.stdout + m.stderr)
        return m, log

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def find_journal(backup_dir):
    paths = [p for p in glob.glob(os.path.join(backup_dir, "*journal*.json"))
             if not p.endswith(".tmp")]
    if not paths:
        paths = glob.glob(os.path.join(backup_dir, "**", "*journal*.json"), recursive=True)
    if not paths:
        raise BenchFailure("no journal found in %s after the upgrade" % backup_dir)
    return max(paths, key=os.path.getmtime)


def engine_start_seconds(attrs):
    """Seconds from `docker create` to the process running, from the container's inspect data."""
    def ts(text):
        if not text or text.startswith("0001-"):
            return None
        head, _sep, frac = text.rstrip("Z").partition(".")
        return datetime.datetime.fromisoformat(head + "." + (frac + "000000")[:6] + "+00:00")
    created, started = ts(attrs.get("Created")), ts(attrs.get("State", {}).get("StartedAt"))
    if created is None or started is None:
        return None
    return round((started - created).total_seconds(), 3)


def analyse(journal, engine_start=None):
    """The window and each step's share, from the journal.

    Returns {window, t1, online_at, ha_on_at, steps: [{step, start_offset, seconds, work,
    work_source}], gaps, work_total, overhead, dump_seconds, init_seconds, start_seconds,
    boot_seconds}.

    The new container's boot, from the start of step run_new until `supervisorctl status` first
    answered (the init step's data.ready_at), is OMS's own time: run_new's work is that span in
    the window (it covers the engine's create -> running, and may be longer than the step: the
    boot goes on through the gap after it and the init step's wait for supervisorctl, whose own
    work, init_duration, starts after ready_at). Without ready_at, run_new's work is the
    engine's create -> running, and the rest (the settle) is overhead.
    """
    steps = journal.get("steps", {})
    facts = journal.get("facts", {})
    t1 = parse_time(facts.get("t1") or steps.get("stop_old", {}).get("data", {}).get("t1"))
    if t1 is None and "stop_old" in steps:
        t1 = parse_time(steps["stop_old"].get("finished_at"))
    end_step = next((s for s in WINDOW_END_STEPS if s in steps), None)
    health_step = next((s for s in HEALTH_STEPS if s in steps), None)
    if t1 is None or end_step is None or steps[end_step].get("status") != "done":
        raise BenchFailure("the journal has no complete window (T1 %s, steps %s)"
                           % (t1, ", ".join("%s=%s" % (k, v.get("status")) for k, v in steps.items())))
    t_end = parse_time(steps[end_step]["finished_at"])
    t2 = parse_time((steps[end_step].get("data") or {}).get("t2"))
    if t2 is not None and t1 < t2 < t_end:
        t_end = t2
    online = parse_time(steps[health_step]["finished_at"]) if health_step else None
    window = (t_end - t1).total_seconds()
    ready_at = None
    for name in INIT_STEPS:
        if name in steps:
            ready_at = parse_time((steps[name].get("data") or {}).get("ready_at"))
            break
    out_steps = []
    prev_end = t1
    gaps = 0.0
    work_total = 0.0
    dump_s = init_s = start_s = boot_s = None
    for name, st in steps.items():
        s0, s1 = parse_time(st.get("started_at")), parse_time(st.get("finished_at"))
        if s0 is None or s1 is None or s1 <= t1 or s0 > t_end:
            continue
        s0c = max(s0, t1)
        s1 = min(s1, t_end)  # the end step goes on after T2 (the reload check)
        secs = (s1 - s0c).total_seconds()
        data = st.get("data", {}) or {}
        work, source = secs, "step"
        manifest = data.get("manifest") or {}
        if name == "backup" and manifest.get("duration") is not None:
            work, source = float(manifest["duration"]), "manifest.duration (dump itself)"
            dump_s = work
        for key in ("init_duration", "duration"):
            if name in INIT_STEPS and data.get(key) is not None:
                work, source = float(data[key]), "data.%s (docker_init.sh)" % key
        if name in INIT_STEPS:
            init_s = work
        boot_work = None
        if name in RUN_NEW_STEPS:
            if engine_start is not None:
                work, source = engine_start, "docker create -> running (engine)"
            start_s = engine_start if engine_start is not None else secs
            if ready_at is not None and ready_at > s0c:
                # the boot starts with the step, so it contains the engine's part: the longer one
                boot_s = (min(ready_at, t_end) - s0c).total_seconds()
                if boot_s > min(work, secs):
                    work, source, boot_work = boot_s, BOOT_SOURCE, boot_s
        if name == "stop_old":
            # the stop itself ended at T1: what is left of the step in the window is the module's
            # return and the next journal write
            work, source = 0.0, "none (the stop ended at T1)"
        if name == "heartbeat_prune" and data.get("seconds") not in (None, ""):
            work, source = float(data["seconds"]), "data.seconds (the prune itself)"
        if name in HEALTH_STEPS:
            # waiting for the server to come Online is the simulator's (OMS's) own time after
            # docker_init.sh, but the probe interval adds up to one interval to it
            work, source = secs, "step (includes probe interval)"
        gap = max(0.0, (s0c - prev_end).total_seconds())
        gaps += gap
        prev_end = max(prev_end, s1)
        # a step's work lies within the step, but for the boot, which goes on after run_new
        counted = boot_work if boot_work is not None else min(work, secs)
        work_total += counted
        out_steps.append({"step": name, "start_offset": round((s0c - t1).total_seconds(), 2),
                          "seconds": round(secs, 2), "share": round(secs / window, 3) if window else None,
                          "work": round(counted, 2), "work_source": source,
                          "gap_before": round(gap, 2)})
    return {"window": round(window, 2), "t1": t1.isoformat(),
            "online_after": round((online - t1).total_seconds(), 2) if online else None,
            "steps": out_steps, "gaps": round(gaps, 2), "work_total": round(work_total, 2),
            "overhead": round(window - work_total, 2), "dump_seconds": dump_s,
            "init_seconds": init_s, "start_seconds": start_s,
            "boot_seconds": round(boot_s, 2) if boot_s is not None else None}


# In the order they run: the first two (the dumps checked, and loaded beside the tables) and HA
# off run while 4.2.0 still serves, before T3.
ROLLBACK_STEPS = ("rollback_verify", "rollback_stage", "rollback_ha_off", "rollback_stop_new", "rollback_safety_dump",
                  "rollback_restore", "rollback_start_old", "rollback_health", "rollback_ha_on")


def analyse_rollback(journal):
    """The rollback's own downtime from its journal: T3 (4.2.0 stopped) -> every server of 4.1.1
    Online (rollback_health done), and each rollback step's seconds (oms_rollback_window runs them
    back to back). None when the journal holds no complete rollback."""
    steps = journal.get("steps") or {}
    t3 = parse_time((journal.get("facts") or {}).get("t3"))
    online = parse_time((steps.get("rollback_health") or {}).get("finished_at"))
    if t3 is None or online is None:
        return None
    out = []
    for name in ROLLBACK_STEPS:
        st = steps.get(name) or {}
        s0, s1 = parse_time(st.get("started_at")), parse_time(st.get("finished_at"))
        if s0 is not None and s1 is not None:
            out.append({"step": name, "seconds": round((s1 - s0).total_seconds(), 2), "before_t3": s1 <= t3})
    return {"rollback_window": round((online - t3).total_seconds(), 2), "rollback_steps": out}


def run_once(runner, containers, metadb, desc, backup_root, compress, reset_cb, runs,
             log=print, extra=None):
    """One upgrade + rollback, appended to `runs` as soon as the window is known (so that a failed
    rollback still leaves the window in the results)."""
    backup_dir = os.path.join(backup_root, "bench-%s-%d" % (compress, int(time.time() * 1000)))
    os.makedirs(backup_dir, 0o700)
    inv = runner.inventory(backup_dir, compress, extra)
    m, _log_path = runner.playbook(UPGRADE, inv, "upgrade.log")
    if m.rc != 0 and b"is not present in the engine" in m.stdout + m.stderr:
        shutil.rmtree(backup_dir, ignore_errors=True)
        raise ImageRemovedMeanwhile("the target image was removed between load and run "
                                    "(a concurrent testbed reset)")
    if m.rc != 0:
        raise BenchFailure("playbooks/upgrade.yml failed (rc %d); log tail:\n%s"
                           % (m.rc, (m.stdout + m.stderr).decode(errors="replace")[-3000:]))
    with open(find_journal(backup_dir)) as f:
        journal = json.load(f)
    new = containers.get(desc["new_container"])
    res = analyse(journal, engine_start_seconds(new.attrs) if new is not None else None)
    res["playbook_seconds"] = round(m.seconds, 2)
    res["compress"] = compress
    res["prune"] = prune.from_journal(journal)
    res["journal_steps"] = journal.get("steps", {})  # to analyse again later
    runs.append(res)
    # A completed upgrade is rolled back only on a named host and when data loss is accepted
    # (what 4.2.0 wrote is dumped first, then lost).
    r, _rlog = runner.playbook(ROLLBACK, inv, "rollback.log",
                               ["-l", "oms_bench", "-e", "oms_rollback_accept_data_loss=true"])
    if r.rc != 0:
        raise BenchFailure("playbooks/rollback.yml failed (rc %d); log tail:\n%s"
                           % (r.rc, (r.stdout + r.stderr).decode(errors="replace")[-3000:]))
    res["rollback_seconds"] = round(r.seconds, 2)
    with open(find_journal(backup_dir)) as f:
        rolled = analyse_rollback(json.load(f))
    if rolled is None:
        raise BenchFailure("the rollback's journal has no complete rollback window (T3 -> rollback_health)")
    res.update(rolled)
    reset_cb()
    shutil.rmtree(backup_dir, ignore_errors=True)
    return res
