# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Steps 9.2 to 9.5 of the procedure, the rollback's downtime, in one process on the OMS host.

Two windows run them: the upgrade's (upgrade_window.py), when a step fails before the commit
point, and the rollback's (rollback_window.py), which the oms_rollback role starts. Each step is
recorded in the journal under the same name in both, "started" before it changes anything and
"done" with what it did, and is skipped when the journal says it is done: a rollback cut off
half-way (a reboot, a kill) is finished by the next one.

- rollback_stop_new: restart policy "no" first (a daemon restart must never start 4.2.0 beside
  4.1.1 on the same host ports and directories), then docker stop; T3.
- rollback_safety_dump: only for a committed upgrade (4.2.0 served and wrote): the three
  databases dumped and verified as 4.2.0 left them, before anything is dropped.
- rollback_verify: every dump of the upgrade checked against its manifest, before anything is
  dropped (the rollback's window runs it before the stop, with rollback_stage: loading the dumps
  beside the tables while 4.2.0 serves, restore_ahead.py); rollback_restore: the staged tables
  swapped in, the others dropped, created and loaded, every database proven equal to its file.
  All only when the new container may have touched the databases (the journal records run_new).
- rollback_start_old: docker start with the restart policy the old container had before the
  upgrade; rollback_health: every server Online, by heartbeats written after that start.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import metadb_restore
from ansible_collections.obtools.oms.plugins.module_utils import restore_ahead
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock

STEPS = ("rollback_stop_new", "rollback_safety_dump", "rollback_verify", "rollback_restore",
         "rollback_start_old", "rollback_health")


class RollbackSteps(object):
    """Mixed into a window (upgrade_window.Window): it gives p, steps(), status(), facts(),
    record(), container(), servers(), settings, clients and warn."""

    # the rollback step running now (what a failure is recorded against)
    rollback_step: Optional[str] = None
    # (manifest, content scans) of rollback_verify in this process: the restore reads no file twice
    verified: Optional[Tuple[Dict[str, Any], Dict[str, Any]]] = None
    # what the window gives
    p: Dict[str, Any]
    settings: Any
    docker: Any
    clients: Dict[str, str]
    warn: Callable[[str], None]

    def steps(self) -> Dict[str, Any]:
        raise NotImplementedError

    def status(self, step: str) -> Optional[str]:
        raise NotImplementedError

    def facts(self) -> Dict[str, Any]:
        raise NotImplementedError

    def record(self, step: str, status: str, data: Optional[Dict[str, Any]] = None, error: Optional[str] = None,
               before: Optional[Dict[str, Any]] = None) -> None:
        raise NotImplementedError

    def journal_step(self, name: str) -> Any:
        raise NotImplementedError

    def container(self, journal_step: Any, **params: Any) -> Any:
        raise NotImplementedError

    def servers(self, started_after: Optional[str]) -> Dict[str, Any]:
        raise NotImplementedError

    def roll_back(self, safety_dump_dir: Optional[str] = None) -> None:
        """Every rollback step the journal does not record done, in order. With safety_dump_dir
        (a committed upgrade), the databases are dumped there first."""
        needs_restore = "run_new" in self.steps()
        for step in STEPS:
            if self.status(step) == "done":
                continue
            if step in ("rollback_safety_dump", "rollback_verify", "rollback_restore") and not needs_restore:
                continue
            self.rollback_step = step
            if step != "rollback_safety_dump":
                getattr(self, step)()
            elif safety_dump_dir:
                self.rollback_safety_dump(safety_dump_dir)
        self.rollback_step = None

    def rollback_stop_new(self) -> None:
        step = self.journal_step("rollback_stop_new")
        step.start()
        name = self.p["new_container"]
        existed = self.docker.inspect_container(name) is not None
        stopped: Dict[str, Any] = {}
        if existed:
            stopped = self.container(step, name=name, restart_policy="no").stopped()
        self.record("rollback_stop_new", "done",
                    data={"t3": stopped.get("stopped_at") or journal_file.iso(journal_file.utc_now()),
                          "new_container_existed": existed})

    def rollback_safety_dump(self, dump_dir: str) -> None:
        # the directory is recorded first: a run cut off during the dump leaves files the next
        # run finds (and replaces) there
        self.record("rollback_safety_dump", "started", data={"rollback_safety_dump_dir": dump_dir})
        with JobLock(dump_dir, "the dump of %s" % dump_dir, self.warn):
            # what 4.2.0 wrote, not the tables rollback_stage loaded beside it
            result = metadb_dump.dump(self.settings, dump_dir, compress="none", triggers=False,
                                      parallel=self.p["dump_parallel"], mysqldump=self.clients["mysqldump"],
                                      paths=self.clients, skip_prefix=restore_ahead.STAGED_PREFIX)
        self.record("rollback_safety_dump", "done", data={"rollback_safety_manifest": result.get("manifest") or {}})

    def upgrade_dump_dir(self) -> str:
        dump_dir = self.facts().get("dump_dir")
        if not dump_dir or self.status("backup") != "done":
            raise OmsError("The new container ran but the journal records no finished backup: there "
                           "is nothing safe to restore from. Nothing was dropped",
                           "Restore rm, cm and cm_hb from your own backup (steps 9.3-9.4 by hand)")
        return dump_dir

    def verified_dumps(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """(manifest, content scans) of the upgrade's dumps, read and checked once per process."""
        if self.verified is None:
            # the content digests in the same pass: the restore compares each database with them
            scans: Dict[str, Any] = {}
            manifest = metadb_dump.verify(self.upgrade_dump_dir(), zstd_path=self.clients.get("zstd") or "zstd",
                                          scans=scans)
            self.verified = (manifest, scans)
        return self.verified

    def rollback_verify(self) -> None:
        self.upgrade_dump_dir()
        self.record("rollback_verify", "started")
        manifest = self.verified_dumps()[0]
        self.record("rollback_verify", "done", data={"rollback_verified_files": [
            entry.get("file") for entry in manifest.get("databases") or []]})

    def rollback_restore(self) -> None:
        dump_dir = self.upgrade_dump_dir()
        self.record("rollback_restore", "started")
        with JobLock(dump_dir, "the restore of %s" % dump_dir, self.warn):
            swapped, swap_seconds = self.swap_staged()
            restored = metadb_restore.restore(self.settings, dump_dir, parallel=self.p["dump_parallel"],
                                              mysql=self.clients["mysql"], paths=self.clients,
                                              mysqldump=self.clients["mysqldump"], verified=self.verified)
        self.record("rollback_restore", "done", data={
            # a swapped database is proven by the restore (dumped again: "unchanged")
            "rollback_restored": swapped + [d for d in restored.get("restored") or [] if d not in swapped],
            "rollback_unchanged": [d for d in restored.get("unchanged") or [] if d not in swapped],
            "rollback_swapped": swapped,
            "rollback_swap_seconds": round(swap_seconds, 2),
            "rollback_restore_durations": restored.get("durations") or {},
            "rollback_content_digests": restored.get("content_digests") or {},
            "rollback_metadb_engine": restored.get("engine") or {}})

    def rollback_stage(self) -> None:
        """Before the stop, 4.2.0 serving: the dumps loaded beside the tables (restore_ahead.py).
        A dump that cannot be staged, or a load that fails, is only warned about: the window then
        loads that database itself. Refusals (a manifest or header for another MetaDB) raise."""
        dump_dir = self.upgrade_dump_dir()
        self.record("rollback_stage", "started")
        # a refusal raises here, before the stop; a load that fails is only warned about below
        entries = restore_ahead.check(self.settings, dump_dir, self.verified_dumps())
        data: Dict[str, Any] = {"rollback_staged": []}
        with JobLock(dump_dir, "the restore of %s" % dump_dir, self.warn):
            try:
                staged = restore_ahead.stage(self.settings, dump_dir, entries, mysql=self.clients["mysql"],
                                             paths=self.clients, parallel=self.p["dump_parallel"])
            except OmsError as exc:
                self.warn("The dumps could not be loaded ahead of the stop (%s): the window loads "
                          "them itself, after the stop" % exc)
                data["rollback_stage_error"] = str(exc)
            else:
                data.update(rollback_staged=staged["staged"], rollback_stage_seconds=staged["seconds"])
                for database, why in sorted(staged["not_staged"].items()):
                    self.warn("%s is not loaded ahead of the stop (%s): the window loads it itself" % (database, why))
                data["rollback_not_staged"] = staged["not_staged"]
        self.record("rollback_stage", "done", data=data)

    def swap_staged(self) -> Tuple[list, float]:
        """The databases rollback_stage loaded, swapped in (restore_ahead.swap)."""
        staged = self.facts().get("rollback_staged") or []
        if not staged:
            return [], 0.0
        # after a cut, a window run again reads the files once more
        manifest, scans = self.verified_dumps()
        return restore_ahead.swap(self.settings, staged, manifest, scans)

    def rollback_start_old(self) -> None:
        step = self.journal_step("rollback_start_old")
        step.start()
        started = self.container(step, name=self.p["old_container"],
                                 restart_policy=self.facts().get("old_restart_policy")).started()
        self.record("rollback_start_old", "done", data={"old_started_at": started.get("started_at")})

    def rollback_health(self) -> None:
        self.record("rollback_health", "started")
        # heartbeats restored from the dump (or left by 4.2.0) must not pass for the restarted
        # old container: only those written after it started count
        health = self.servers(self.facts().get("old_started_at"))
        self.record("rollback_health", "done", data={"rollback_servers": health["servers"]})
