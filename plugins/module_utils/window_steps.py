# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps the downtime windows are made of, each an action over a transaction (transaction.py).

The upgrade's window (upgrade_window.py: steps 2.1 to 8) and the rollback's (rollback_window.py:
steps 9.1 to 9.6) are plans built from these; the upgrade's compensation after a failure before
its commit point is the rollback's own steps. Each action returns (its result, the data to record
in the journal) and reads what earlier steps recorded from tx.facts().

- stop_old: the old container's restart policy set to "no" first (recorded as it was), then
  docker stop (T1).
- heartbeat_prune, backup: steps 2.2 and 2.3 (the dump bounded by dump_timeout).
- run_new: the 4.2.0 container created from the old one with restart policy "no": a reboot or a
  daemon restart before the commit point must not start a half-migrated container; health gives
  it the old container's policy once every server is Online (the commit point).
- init, health, ha_on: docker_init.sh, every server Online, ha.config as step 1 found it (T2).
- rollback_*: steps 9.1 to 9.6 (see rollback_window.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Dict, Optional, Tuple

from ansible_collections.obtools.oms.plugins.module_utils import container_create
from ansible_collections.obtools.oms.plugins.module_utils import container_stop_start as lifecycle
from ansible_collections.obtools.oms.plugins.module_utils import docker_init_runner
from ansible_collections.obtools.oms.plugins.module_utils import ha_config
from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils import ha_restore
from ansible_collections.obtools.oms.plugins.module_utils import heartbeat
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import metadb_restore
from ansible_collections.obtools.oms.plugins.module_utils import restore_ahead
from ansible_collections.obtools.oms.plugins.module_utils import server_health
from ansible_collections.obtools.oms.plugins.module_utils.container_journal import journal_data
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock

Result = Tuple[Any, Dict[str, Any]]


def servers(tx: Any, started_after: Optional[str]) -> Dict[str, Any]:
    return server_health.check_servers(
        tx.settings, metadb.connect, metadb.translate_error, tx.console, wait=True,
        timeout=tx.p["health_timeout"], interval=tx.p["health_interval"],
        heartbeat_max_age=tx.p["heartbeat_max_age"], started_after=started_after)


# the upgrade, steps 2.1 to 8 ---------------------------------------------------------------------
def stop_old(tx: Any) -> Result:
    result = lifecycle.stopped(tx.docker, tx.p["old_container"], tx.p["stop_timeout"], "no",
                               tx.journal_step("stop_old"))
    return result, journal_data("stopped", result)


def heartbeat_prune(tx: Any) -> Result:
    from_id = tx.p.get("prune_from_id") or tx.step_data("heartbeat_prune_ahead").get("heartbeat_max_id")
    result = heartbeat.prune(tx.settings, tx.p["prune_batch_size"], batch_seconds=tx.p["prune_batch_seconds"],
                             from_id=from_id)
    return result, metadb_dump.journal_data("pruned", None, result)


def backup(tx: Any) -> Result:
    dump_dir = tx.p["dump_dir"]
    # step 2.2 left no heartbeat row below its max(id): the dump's plan reads from there
    pruned_below = tx.step_data("heartbeat_prune").get("heartbeat_max_id")
    floors = {tx.settings.cm_hb_db: {heartbeat.HEARTBEAT_TABLE: pruned_below}} if pruned_below else None
    with JobLock(dump_dir, "the dump of %s" % dump_dir, tx.warn):
        result = metadb_dump.dump(tx.settings, dump_dir, compress=tx.p["compress"], triggers=False,
                                  parallel=tx.p["dump_parallel"], mysqldump=tx.clients["mysqldump"],
                                  paths=tx.clients, key_floors=floors)
    return result, metadb_dump.journal_data("dumped", dump_dir, result)


def run_new(tx: Any) -> Result:
    p = tx.p
    result = container_create.upgraded(
        tx.docker, p["new_container"], p["old_container"], p["image"], tx.warn,
        image_archive=p["image_archive"], image_id=p["image_id"], load_timeout=p["load_timeout"],
        mounts=p["mounts"], ssl_certificate=p["ssl_certificate"], ssl_key=p["ssl_key"],
        oms_host_ip=p["oms_host_ip"], restart_policy="no", settle_seconds=p["settle_seconds"])
    return result, journal_data("upgraded", result)


def init(tx: Any) -> Result:
    p = tx.p
    result = docker_init_runner.initialized(tx.docker, p["new_container"], p["init_timeout"],
                                            p["init_ready_timeout"], p["init_retry_interval"], tx.warn)
    return result, journal_data("initialized", result)


def health(tx: Any) -> Result:
    """Step 7, the commit point: every server Online, then the new container gets the old one's
    restart policy (it had none while a restart could have found it half migrated)."""
    result = servers(tx, tx.facts().get("new_started_at"))
    policy = tx.facts().get("old_restart_policy")
    if policy:
        lifecycle.started(tx.docker, tx.p["new_container"], tx.p["settle_seconds"], policy)
    return result, {"servers_after": result["servers"], "health_signals": result["signals"],
                    "new_restart_policy": policy}


def ha_on(tx: Any) -> Result:
    """Step 8: ha.config as it was before step 1, with only the procedure's changes."""
    return restore_ha(tx, "ha_on", ha_restore.UPGRADE, tx.p["new_container"], tx.facts().get("t1"))


def restore_ha(tx: Any, step: str, purpose: str, name: str, since: Optional[str]) -> Result:
    """Steps 8 and 9.6: ha.config as it was before step 1, with only the procedure's changes
    for `purpose` (ha_restore.py), refetchStoreIntervalMin from `since` (T1); then whether the
    OMS of container `name` took it (ha_reload.py). The result and the data to record."""
    p, facts = tx.p, tx.facts()
    # step 1 (ha_off) records the value it found: the preflight's read may be older than it
    before = facts.get("ha_config_before")
    if not isinstance(before, dict):
        raise OmsError("The journal %s does not say what ha.config was before step 1" % tx.path,
                       "Set ha.config by hand (System Parameters in the console) as it was before "
                       "the upgrade, HA on or off, then run again to finish the report")
    # this step ran before and did not end (a kill between the write and its record)
    resumed = int((tx.steps().get(step) or {}).get("attempts") or 1) > 1
    watch = None
    if p["ha_reload"] != ha_reload.NONE:
        watch = ha_reload.LogWatch(tx.docker, name, p["ha_reload_logs"])
        watch.mark()  # only what OMS logs after the write counts
    written_at = journal_file.iso(journal_file.utc_now())
    result = ha_restore.write(tx.settings, before, purpose, p["ha_enable_after"],
                              p.get("perceive_checkpoint", True), since, p["refetch_margin_min"])
    if watch is None:
        reload = ha_reload.ensure(tx.docker, name, result["config"], None, ha_reload.NONE, 0)
    elif result["changed"] or resumed:
        reload = ha_reload.ensure(tx.docker, name, result["config"], watch, p["ha_reload"],
                                  p["ha_reload_wait"], healthy=lambda after: servers(tx, after))
    else:
        reload = dict(mode=p["ha_reload"], outcome=ha_reload.UNCHANGED, sign=None, restarted_at=None,
                      command=ha_reload.restart_command(name),
                      message="ha.config is as the container found it when it started: nothing new "
                              "for OMS to take")
    if reload["outcome"] == ha_reload.NOT_TAKEN:
        tx.warn(reload["message"])
    result["reload"] = reload
    data = {"ha_was_enabled": (result.get("previous") or {}).get("enable", False),
            "ha_config_after": result["config"], "t2": written_at, "ha_notes": result["notes"],
            "ha_changes": result["changes_from_restore"], "ha_reload": reload}
    for key in ("downtime_minutes", "refetch_store_interval_min"):
        if key in result:
            data[key] = result[key]
    return result, data


# the rollback, steps 9.1 to 9.6 ------------------------------------------------------------------
def rollback_ha_off(tx: Any) -> Result:
    """Step 9.1, right before the stop: HA must not act on the heartbeats the stop makes stale."""
    reason = tx.p.get("reason")
    tx.record("rollback_ha_off", "started", data={"rollback_reason": reason} if reason else None)
    result = ha_config.write_ha_config(tx.settings, {"enable": False})
    return result, {"rollback_ha_off_changed": bool(result.get("changed"))}


def rollback_stop_new(tx: Any) -> Result:
    name = tx.p["new_container"]
    existed = tx.docker.inspect_container(name) is not None
    stopped: Dict[str, Any] = {}
    if existed:
        stopped = lifecycle.stopped(tx.docker, name, tx.p["stop_timeout"], "no", tx.journal_step("rollback_stop_new"))
    return stopped, {"t3": stopped.get("stopped_at") or journal_file.iso(journal_file.utc_now()),
                     "new_container_existed": existed}


def rollback_safety_dump(tx: Any) -> Result:
    dump_dir = tx.p["safety_dump_dir"]
    # the directory is recorded first: a run cut off during the dump leaves files the next run
    # finds (and replaces) there
    tx.record("rollback_safety_dump", "started", data={"rollback_safety_dump_dir": dump_dir})
    with JobLock(dump_dir, "the dump of %s" % dump_dir, tx.warn):
        # what 4.2.0 wrote, not the tables rollback_stage loaded beside it
        result = metadb_dump.dump(tx.settings, dump_dir, compress="none", triggers=False,
                                  parallel=tx.p["dump_parallel"], mysqldump=tx.clients["mysqldump"],
                                  paths=tx.clients, skip_prefix=restore_ahead.STAGED_PREFIX)
    return result, {"rollback_safety_manifest": result.get("manifest") or {}}


def upgrade_dump_dir(tx: Any) -> str:
    dump_dir = tx.facts().get("dump_dir")
    if not dump_dir or tx.status("backup") != "done":
        raise OmsError("The new container ran but the journal records no finished backup: there "
                       "is nothing safe to restore from. Nothing was dropped",
                       "Restore rm, cm and cm_hb from your own backup (steps 9.3-9.4 by hand)")
    return dump_dir


def verified_dumps(tx: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(manifest, content scans) of the upgrade's dumps, read and checked once per process."""
    if "verified" not in tx.cache:
        # the content digests in the same pass: the restore compares each database with them
        scans: Dict[str, Any] = {}
        manifest = metadb_dump.verify(upgrade_dump_dir(tx), zstd_path=tx.clients.get("zstd") or "zstd", scans=scans)
        tx.cache["verified"] = (manifest, scans)
    return tx.cache["verified"]


def rollback_verify(tx: Any) -> Result:
    manifest = verified_dumps(tx)[0]
    return None, {"rollback_verified_files": [entry.get("file") for entry in manifest.get("databases") or []]}


def rollback_stage(tx: Any) -> Result:
    """Before the stop, 4.2.0 serving: the dumps loaded beside the tables (restore_ahead.py).
    A dump that cannot be staged, or a load that fails, is only warned about: the window then
    loads that database itself. Refusals (a manifest or header for another MetaDB, too little
    room in the MetaDB) raise, before the stop."""
    dump_dir = upgrade_dump_dir(tx)
    entries = restore_ahead.check(tx.settings, dump_dir, verified_dumps(tx))
    needed, free, source = restore_ahead.require_room(tx.settings, entries, tx.p.get("metadb_free_bytes"))
    if free is None:
        tx.warn("The MetaDB's free space cannot be read by its OMS user: loading the dumps beside the "
                "serving tables needs about %d bytes there. Set oms_rollback_metadb_free_bytes to have it "
                "checked, or oms_rollback_restore_ahead=false" % needed)
    data: Dict[str, Any] = {"rollback_staged": [], "rollback_stage_room": {
        "needed_bytes": needed, "free_bytes": free, "free_source": source}}
    with JobLock(dump_dir, "the restore of %s" % dump_dir, tx.warn):
        try:
            staged = restore_ahead.stage(tx.settings, dump_dir, entries, mysql=tx.clients["mysql"],
                                         paths=tx.clients, parallel=tx.p["dump_parallel"])
        except OmsError as exc:
            tx.warn("The dumps could not be loaded ahead of the stop (%s): the window loads "
                    "them itself, after the stop" % exc)
            data["rollback_stage_error"] = str(exc)
        else:
            data.update(rollback_staged=staged["staged"], rollback_stage_seconds=staged["seconds"])
            for database, why in sorted(staged["not_staged"].items()):
                tx.warn("%s is not loaded ahead of the stop (%s): the window loads it itself" % (database, why))
            data["rollback_not_staged"] = staged["not_staged"]
    return None, data


def rollback_restore(tx: Any) -> Result:
    dump_dir = upgrade_dump_dir(tx)
    with JobLock(dump_dir, "the restore of %s" % dump_dir, tx.warn):
        swapped, swap_seconds = swap_staged(tx)
        restored = metadb_restore.restore(tx.settings, dump_dir, parallel=tx.p["dump_parallel"],
                                          mysql=tx.clients["mysql"], paths=tx.clients,
                                          mysqldump=tx.clients["mysqldump"], verified=tx.cache.get("verified"))
    return restored, {
        # a swapped database is proven by the restore (dumped again: "unchanged")
        "rollback_restored": swapped + [d for d in restored.get("restored") or [] if d not in swapped],
        "rollback_unchanged": [d for d in restored.get("unchanged") or [] if d not in swapped],
        "rollback_swapped": swapped,
        "rollback_swap_seconds": round(swap_seconds, 2),
        "rollback_restore_durations": restored.get("durations") or {},
        "rollback_content_digests": restored.get("content_digests") or {},
        "rollback_metadb_engine": restored.get("engine") or {}}


def swap_staged(tx: Any) -> Tuple[list, float]:
    """The databases rollback_stage loaded, swapped in (restore_ahead.swap)."""
    staged = tx.facts().get("rollback_staged") or []
    if not staged:
        return [], 0.0
    # after a cut, a window run again reads the files once more
    manifest, scans = verified_dumps(tx)
    return restore_ahead.swap(tx.settings, staged, manifest, scans)


def rollback_start_old(tx: Any) -> Result:
    started = lifecycle.started(tx.docker, tx.p["old_container"], tx.p["settle_seconds"],
                                tx.facts().get("old_restart_policy"))
    return started, {"old_started_at": started.get("started_at")}


def rollback_health(tx: Any) -> Result:
    # heartbeats restored from the dump (or left by 4.2.0) must not pass for the restarted old
    # container: only those written after it started count
    health_result = servers(tx, tx.facts().get("old_started_at"))
    return health_result, {"rollback_servers": health_result["servers"]}


def rollback_ha_on(tx: Any) -> Result:
    """Step 9.6: ha.config as the upgrade's step 1 found it; with HA on, refetchStoreIntervalMin
    greater than the minutes since T1 (or, when the stop failed before recording T1, since the
    stop began: only ever larger)."""
    since = tx.facts().get("t1") or (tx.steps().get("stop_old") or {}).get("started_at") \
        or journal_file.iso(journal_file.utc_now())
    result, data = restore_ha(tx, "rollback_ha_on", ha_restore.ROLLBACK, tx.p["old_container"], since)
    recorded = dict(("rollback_" + key, value) for key, value in data.items() if key != "t2")
    recorded["rollback_ha_on_at"] = data["t2"]
    return result, recorded
