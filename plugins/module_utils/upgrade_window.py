# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The downtime window, steps 2.1 to 8, as one transaction on the OMS host.

oms_upgrade_window runs it in one process (the role starts it as one async job, so it goes on
when the controller or its SSH connection is lost): stop the old container (T1), prune the
heartbeat rows written since the prune ahead, dump rm, cm and cm_hb, run the 4.2.0 container,
docker_init.sh, wait for every server Online (the commit point), HA on (T2). Each step calls the
module_utils the step modules use, and records itself in the journal: "started" before it changes
anything, "done" with what it did, or "failed" with its error.

Once the old container has begun to stop, the window ends in one of two states:
- committed: 4.2.0 passed step 7; a later failure (step 8) is reported, never rolled back;
- rolled back: a failure (or a stop asked by hand) before step 7 stops the new container
  (restart policy no), restores the verified dumps when 4.2.0 may have touched the databases,
  and starts the old container again with its own restart policy (steps 9.2-9.5 of
  rollback_steps.py, the code and step names of the oms_rollback role's own window, so that role
  finishes with HA and the report).
With auto_rollback false, or when the rollback itself fails, OMS is down and the result says so.

Who owns the window is one record, journal["window"]: its process (process_owner) and how it
ended. A second start while that process runs attaches to it: it waits for the end and reports it.

Stopping by hand: create the file `<journal_path>.stop`. SIGHUP and SIGTERM are ignored: a lost
SSH session or controller may send them, and the window must go on. Before the commit point the window then rolls back at the next step boundary; after it, the
window finishes step 8. A stop file present before the window starts is refused, so a stale one
never stops a new run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.obtools.oms.plugins.module_utils import container_upgrade
from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils import ha_restore
from ansible_collections.obtools.oms.plugins.module_utils import heartbeat
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import process_owner
from ansible_collections.obtools.oms.plugins.module_utils.rollback_steps import RollbackSteps
from ansible_collections.obtools.oms.plugins.module_utils import server_health
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock

STEPS = ("stop_old", "heartbeat_prune", "backup", "run_new", "init", "health", "ha_on")
COMMIT_STEP = "health"
# The steps a window records before its preconditions count as met (the preflight and step 1 of
# this attempt): a tag or --start-at-task that skips them must not reach the stop.
PRECONDITIONS = ("preflight", "ha_off")
STOP_SUFFIX = ".stop"
ATTACH_EVERY = 0.5

# How a window ended (journal["window"]["outcome"] and the module's RV(outcome)).
COMMITTED = "committed"
STOPPED_AFTER = "stopped_after"
ROLLED_BACK = "rolled_back"
FAILED_BEFORE_STOP = "failed_before_stop"
FAILED_COMMITTED = "failed_committed"
FAILED_DOWN = "failed_down"


def stop_path(journal_path: str) -> str:
    return journal_path + STOP_SUFFIX


class StepHost(object):
    """What ContainerUpgrade needs of a module, for one step of the window."""

    def __init__(self, params: Dict[str, Any], warn: Callable[[str], None]) -> None:
        self.params = params
        self.check_mode = False
        self.warn = warn


class JournalStep(object):
    """One step's records; start(before) fills only keys the journal does not hold yet."""

    def __init__(self, window: "Window", name: str) -> None:
        self.window, self.name, self.started = window, name, False

    def start(self, before: Optional[Dict[str, Any]] = None) -> None:
        if not self.started:
            self.window.record(self.name, "started", before=before or {})
            self.started = True


class Window(RollbackSteps):
    # journal["window"]["kind"]: which window a running record is (rollback_window.py is the other)
    KIND = "upgrade"

    def __init__(self, params: Dict[str, Any], settings: Callable[[], Any], docker: Any, console: Any,
                 clients: Dict[str, str], warn: Callable[[str], None],
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.p = params
        # the MetaDB settings, read once the window knows it will run (config.yaml may be unreadable
        # while a tag skipped the preflight: the refusal comes first)
        self.settings_from = settings
        self.settings: Any = None
        self.docker = docker
        self.console = console
        self.clients = clients
        self.warn = warn
        self.clock, self.sleep = clock, sleep
        self.path: str = params["journal_path"]
        self.journal: Dict[str, Any] = {}
        self.committed = False
        self.done_now: List[str] = []
        self.results: Dict[str, Any] = {}
        self.journal_errors: List[str] = []

    # journal -------------------------------------------------------------------------------------
    def load(self) -> Dict[str, Any]:
        self.journal = journal_file.load(self.path) or {}
        return self.journal

    def steps(self) -> Dict[str, Any]:
        return self.journal.get("steps") or {}

    def status(self, step: str) -> Optional[str]:
        return (self.steps().get(step) or {}).get("status")

    def facts(self) -> Dict[str, Any]:
        return self.journal.get("facts") or {}

    def record(self, step: str, status: str, data: Optional[Dict[str, Any]] = None, error: Optional[str] = None,
               before: Optional[Dict[str, Any]] = None) -> None:
        """One atomic journal write. A "started" that cannot be written raises (nothing was done);
        a "done" or "failed" that cannot be written is kept in journal_errors: the work happened."""
        try:
            current = journal_file.load(self.path) or {}
            if before:
                held = dict(current.get("facts") or {})
                held.update(((current.get("steps") or {}).get(step) or {}).get("data") or {})
                data = dict((k, v) for k, v in before.items() if k not in held)
            new, changed, _note = journal_file.apply_step(current, step, status, data=data, error=error)
            if changed:
                journal_file.write(self.path, new)
            self.journal = new
        except (OmsError, OSError, IOError, ValueError) as exc:
            if status == "started":
                raise OmsError("The journal %s cannot record that %s starts: %s" % (self.path, step, exc),
                               "Free space there or fix its permissions, then run again")
            self.journal_errors.append("%s %s: %s" % (step, status, exc))
            self.warn("%s was %s but the journal %s could not say so: %s" % (step, status, self.path, exc))

    def journal_step(self, name: str) -> JournalStep:
        return JournalStep(self, name)

    def set_window(self, **fields: Any) -> None:
        """Update journal["window"], the owner record (best effort once the window runs)."""
        current = journal_file.load(self.path) or journal_file.empty(journal_file.utc_now())
        window = dict(current.get("window") or {})
        window.update(fields)
        current["window"] = window
        current["updated_at"] = journal_file.iso(journal_file.utc_now())
        journal_file.write(self.path, current)
        self.journal = current

    # the run -------------------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        self.load()
        window = self.journal.get("window") or {}
        if window.get("status") == "running" and process_owner.owner_alive(window.get("owner")):
            return self.attach(window)
        self.refuse_unless_ready()
        self.settings = self.settings_from()
        self.set_window(status="running", kind=self.KIND, owner=process_owner.owner_of_self(),
                        started_at=journal_file.iso(journal_file.utc_now()), outcome=None, error=None,
                        ended_at=None)
        # A lost SSH session or controller may send its processes SIGHUP or SIGTERM (sudo relays
        # them): the window goes on; stopping it is the stop file's job.
        previous = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGHUP, signal.SIGTERM)]
        try:
            return self._run_steps()
        finally:
            for sig, handler in previous:
                signal.signal(sig, handler)

    def refuse_unless_ready(self) -> None:
        steps = self.steps()
        if any(name.startswith("rollback_") for name in steps) and self.status("rollback_report") != "done":
            raise OmsError("The journal %s shows a rollback that did not finish" % self.path,
                           "Finish it first (ansible-playbook obtools.oms.rollback -l <this host>)")
        if "stop_old" not in steps:
            missing = [name for name in PRECONDITIONS if self.status(name) != "done"]
            if missing:
                raise OmsError("The window refuses to stop the old container: %s of this attempt %s not "
                               "recorded done in %s" % (" and ".join(missing),
                                                        "is" if len(missing) == 1 else "are", self.path),
                               "Run the upgrade without --tags/--skip-tags/--start-at-task (or with "
                               "--tags preflight,ha_off first); nothing was changed")
            if os.path.exists(stop_path(self.path)):
                raise OmsError("The stop file %s exists, so the window was not started" % stop_path(self.path),
                               "Remove it if nobody wants this upgrade stopped, then run again; nothing "
                               "was changed")

    def attach(self, window: Dict[str, Any]) -> Dict[str, Any]:
        if (window.get("kind") or "upgrade") != self.KIND:
            raise OmsError("The %s window started at %s by process %s still runs on this deployment"
                           % (window.get("kind"), window.get("started_at"), (window.get("owner") or {}).get("pid")),
                           "Wait for it to end (the journal %s says how it ended), then run again; nothing "
                           "was changed" % self.path)
        self.warn("The window started at %s by process %s still runs: waiting for it instead of "
                  "starting another" % (window.get("started_at"), (window.get("owner") or {}).get("pid")))
        # Its own deadline, not only async_wrapper's: the longest the other window may run by its
        # step timeouts, after which this job says so instead of being killed in silence.
        limit = self.longest_window()
        deadline = self.clock() + limit
        while True:
            self.sleep(ATTACH_EVERY)
            window = self.load().get("window") or {}
            if window.get("status") != "running" or not process_owner.owner_alive(window.get("owner")):
                break
            if self.clock() > deadline:
                raise OmsError("The window started at %s by process %s still runs after %d s, longer than "
                               "its step timeouts allow" % (window.get("started_at"),
                                                            (window.get("owner") or {}).get("pid"), limit),
                               "It ends by itself, committed or rolled back, unless it hangs: look at "
                               "that process on the OMS host and at the journal %s, and run again "
                               "once it has ended" % self.path)
        return self.outcome(window.get("outcome") or FAILED_DOWN, window.get("error"), attached=True)

    def longest_window(self) -> int:
        """Seconds a window may run by its step timeouts (the dump has none: an hour for it), step
        8's waits for the sign of ha_reload included, and with ha_reload=restart its health wait."""
        p = self.p
        step_8 = 2 * int(p.get("ha_reload_wait") or 0)
        if p.get("ha_reload") == ha_reload.RESTART:
            step_8 += int(p.get("health_timeout") or 0) + ha_reload.RESTART_TIMEOUT
        return int(sum(int(p.get(name) or 0) for name in (
            "stop_timeout", "load_timeout", "init_ready_timeout", "init_timeout", "health_timeout")) + 3600 + step_8)

    def _run_steps(self) -> Dict[str, Any]:
        step = None
        old_touched = "stop_old" in self.steps()
        try:
            for step in STEPS:
                if self.status(step) == "done":
                    if step == COMMIT_STEP:
                        self.committed = True
                    continue
                if not self.committed and os.path.exists(stop_path(self.path)):
                    raise OmsError("Stopped by hand before %s (%s)" % (step, stop_path(self.path)),
                                   "The window rolls back; remove %s before the next run" % stop_path(self.path))
                old_touched = True  # from here the old container may be stopping
                self.run_step(step)
                if step == self.p.get("stop_after"):
                    return self.end(STOPPED_AFTER)
            return self.end(COMMITTED)
        except Exception as exc:  # pylint: disable=broad-except
            # whatever failed (OmsError, the SDK, a bug): the window must still end in one state
            error = str(exc) if isinstance(exc, OmsError) else "%s: %s" % (type(exc).__name__, exc)
            self.record(step or "stop_old", "failed", error=error)
            return self.after_failure(step, error, old_touched)

    def end(self, outcome: str, error: Optional[str] = None) -> Dict[str, Any]:
        try:
            self.set_window(status="ended", outcome=outcome, error=error,
                            ended_at=journal_file.iso(journal_file.utc_now()))
        except (OmsError, OSError, IOError, ValueError) as exc:
            self.journal_errors.append("window end: %s" % exc)
        return self.outcome(outcome, error)

    def outcome(self, outcome: str, error: Optional[str], attached: bool = False) -> Dict[str, Any]:
        facts = self.facts()
        return dict(outcome=outcome, error=error, attached=attached,
                    committed=outcome in (COMMITTED, FAILED_COMMITTED) or self.committed,
                    failed=outcome not in (COMMITTED, STOPPED_AFTER),
                    changed=bool(self.done_now) or attached,
                    steps_done=self.done_now, results=self.results, journal_errors=self.journal_errors,
                    t1=facts.get("t1"), t2=facts.get("t2"), dump_dir=facts.get("dump_dir"),
                    new_container=self.p["new_container"], old_container=self.p["old_container"])

    def after_failure(self, step: Optional[str], error: str, old_touched: bool) -> Dict[str, Any]:
        if self.committed:
            return self.end(FAILED_COMMITTED, "%s failed after the commit point: %s" % (step, error))
        if not old_touched:
            return self.end(FAILED_BEFORE_STOP, "%s failed: %s" % (step, error))
        if not self.p["auto_rollback"]:
            return self.end(FAILED_DOWN, "%s failed: %s (auto_rollback is false: not rolled back, OMS "
                                         "is down)" % (step, error))
        try:
            self.roll_back()
        except Exception as rollback_exc:  # pylint: disable=broad-except
            self.record(self.rollback_step or "rollback_stop_new", "failed", error=str(rollback_exc))
            return self.end(FAILED_DOWN, "%s failed: %s; the rollback failed too: %s" % (step, error, rollback_exc))
        return self.end(ROLLED_BACK, "%s failed: %s" % (step, error))

    # the steps ----------------------------------------------------------------------------------
    def run_step(self, step: str) -> None:
        journal_step = JournalStep(self, step)
        if step != "stop_old":  # stop_old starts its record itself, with the policy it read
            journal_step.start()
        result, data = getattr(self, "step_" + step)(journal_step)
        self.record(step, "done", data=data)
        self.results[step] = result
        self.done_now.append(step)
        if step == COMMIT_STEP:
            self.committed = True

    def container(self, journal_step: Any, **params: Any) -> container_upgrade.ContainerUpgrade:
        defaults = dict(restart_policy=None, stop_timeout=self.p["stop_timeout"],
                        settle_seconds=self.p["settle_seconds"], force=False)
        defaults.update(params)
        return container_upgrade.ContainerUpgrade(StepHost(defaults, self.warn), self.docker, journal_step)

    def step_stop_old(self, journal_step: JournalStep) -> Any:
        result = self.container(journal_step, name=self.p["old_container"], restart_policy="no").stopped()
        return result, container_upgrade.journal_data("stopped", result)

    def step_heartbeat_prune(self, journal_step: JournalStep) -> Any:
        result = heartbeat.prune(self.settings, self.p["prune_batch_size"], batch_seconds=self.p["prune_batch_seconds"],
                                 from_id=self.p["prune_from_id"] or ((self.steps().get("heartbeat_prune_ahead") or {}).get(
                                     "data") or {}).get("heartbeat_max_id"))
        return result, metadb_dump.journal_data("pruned", None, result)

    def step_backup(self, journal_step: JournalStep) -> Any:
        dump_dir = self.p["dump_dir"]
        # step 2.2 left no heartbeat row below its max(id): the dump's plan reads from there
        pruned_below = ((self.steps().get("heartbeat_prune") or {}).get("data") or {}).get("heartbeat_max_id")
        floors = {self.settings.cm_hb_db: {heartbeat.HEARTBEAT_TABLE: pruned_below}} if pruned_below else None
        with JobLock(dump_dir, "the dump of %s" % dump_dir, self.warn):
            result = metadb_dump.dump(self.settings, dump_dir, compress=self.p["compress"], triggers=False,
                                      parallel=self.p["dump_parallel"], mysqldump=self.clients["mysqldump"],
                                      paths=self.clients, key_floors=floors)
        return result, metadb_dump.journal_data("dumped", dump_dir, result)

    def step_run_new(self, journal_step: JournalStep) -> Any:
        p = self.p
        result = self.container(
            journal_step, name=p["new_container"], source_container=p["old_container"], image=p["image"],
            image_archive=p["image_archive"], image_id=p["image_id"], load_timeout=p["load_timeout"],
            mounts=p["mounts"], ssl_certificate=p["ssl_certificate"], ssl_key=p["ssl_key"],
            oms_host_ip=p["oms_host_ip"], restart_policy=self.facts().get("old_restart_policy")).upgraded()
        return result, container_upgrade.journal_data("upgraded", result)

    def step_init(self, journal_step: JournalStep) -> Any:
        p = self.p
        result = self.container(journal_step, name=p["new_container"], init_timeout=p["init_timeout"],
                                init_ready_timeout=p["init_ready_timeout"],
                                init_retry_interval=p["init_retry_interval"]).initialized()
        return result, container_upgrade.journal_data("initialized", result)

    def servers(self, started_after: Optional[str]) -> Dict[str, Any]:
        return server_health.check_servers(
            self.settings, metadb.connect, metadb.translate_error, self.console, wait=True,
            timeout=self.p["health_timeout"], interval=self.p["health_interval"],
            heartbeat_max_age=self.p["heartbeat_max_age"], started_after=started_after)

    def step_health(self, journal_step: JournalStep) -> Any:
        result = self.servers(self.facts().get("new_started_at"))
        return result, {"servers_after": result["servers"], "health_signals": result["signals"]}

    def step_ha_on(self, journal_step: JournalStep) -> Any:
        """Step 8: ha.config as it was before step 1, with only the procedure's changes."""
        return self.restore_ha("ha_on", ha_restore.UPGRADE, self.p["new_container"], self.facts().get("t1"))

    def restore_ha(self, step: str, purpose: str, container: str, since: Optional[str]) -> Any:
        """Steps 8 and 9.6: ha.config as it was before step 1, with only the procedure's changes
        for `purpose` (ha_restore.py), refetchStoreIntervalMin from `since` (T1); then whether the
        OMS of `container` took it (ha_reload.py). The result and the data to record."""
        p, facts = self.p, self.facts()
        # ha_off records the value it found; a journal of an older run has the preflight's read
        before = facts.get("ha_config_before", facts.get("ha_config_preflight"))
        if not isinstance(before, dict):
            raise OmsError("The journal %s does not say what ha.config was before step 1" % self.path,
                           "Set ha.config by hand (System Parameters in the console) as it was before "
                           "the upgrade, HA on or off, then run again to finish the report")
        # this step ran before and did not end (a kill between the write and its record)
        resumed = int((self.steps().get(step) or {}).get("attempts") or 1) > 1
        watch = None
        if p["ha_reload"] != ha_reload.NONE:
            watch = ha_reload.LogWatch(self.docker, container, p["ha_reload_logs"])
            watch.mark()  # only what OMS logs after the write counts
        written_at = journal_file.iso(journal_file.utc_now())
        result = ha_restore.write(self.settings, before, purpose, p["ha_enable_after"],
                                  p.get("perceive_checkpoint", True), since, p["refetch_margin_min"])
        if watch is None:
            reload = ha_reload.ensure(self.docker, container, result["config"], None, ha_reload.NONE, 0)
        elif result["changed"] or resumed:
            reload = ha_reload.ensure(self.docker, container, result["config"], watch, p["ha_reload"],
                                      p["ha_reload_wait"], healthy=self.servers)
        else:
            reload = dict(mode=p["ha_reload"], outcome=ha_reload.UNCHANGED, sign=None, restarted_at=None,
                          command=ha_reload.restart_command(container),
                          message="ha.config is as the container found it when it started: nothing new "
                                  "for OMS to take")
        if reload["outcome"] == ha_reload.NOT_TAKEN:
            self.warn(reload["message"])
        result["reload"] = reload
        data = {"ha_was_enabled": (result.get("previous") or {}).get("enable", False),
                "ha_config_after": result["config"], "t2": written_at, "ha_notes": result["notes"],
                "ha_changes": result["changes_from_restore"], "ha_reload": reload}
        for key in ("downtime_minutes", "refetch_store_interval_min"):
            if key in result:
                data[key] = result[key]
        return result, data
