# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade's downtime window, steps 2.1 to 8, as a plan of the transaction engine.

oms_upgrade_window runs it in one process on the OMS host (the role starts it as one async job,
so it goes on when the controller or its SSH connection is lost): stop the old container (T1),
prune the heartbeat rows written since the prune ahead, dump rm, cm and cm_hb, run the 4.2.0
container, docker_init.sh, wait for every server Online (the commit point), HA on (T2).

Right before the stop, the engine checks this plan's preconditions: the preflight of this very
run (its run id) and not older than preflight_max_age, step 1 (HA off) done, the last rehearsal's
verdict when one is required, and no session of another user on rm, cm or cm_hb. No tag reaches
the stop without them.

Once the old container has begun to stop, the window ends in one of two states:
- committed: 4.2.0 passed step 7; a later failure (step 8) is reported, never rolled back;
- rolled back: a failure (or a stop asked by hand) before step 7 runs the undo of every step that
  began, newest first: the new container stopped (restart policy no), the verified dumps restored
  when 4.2.0 may have touched the databases, the old container started with its own restart
  policy and every server Online, and ha.config put back as step 1 found it, checked taken by OMS
  (the rollback window's own steps 9.2 to 9.6, window_steps.py).
With auto_rollback false, or when the rollback itself fails, OMS is down and the result says so.
A window whose own process died is rolled back (or, once committed, finished) by the next start.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Dict, Optional

from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_verdict as rehearsals
from ansible_collections.obtools.oms.plugins.module_utils import transaction
from ansible_collections.obtools.oms.plugins.module_utils import window_steps
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.transaction import Refused, Step

STEPS = ("stop_old", "heartbeat_prune", "backup", "run_new", "init", "health", "ha_on")
COMMIT_STEP = "health"
# The steps a window records before its preconditions count as met (the preflight and step 1 of
# this attempt): a tag or --start-at-task that skips them must not reach the stop.
PRECONDITIONS = ("preflight", "ha_off")
# The steps that undo what began, run newest first after a failure before the commit point.
UNDO_OF = {"run_new": ("rollback_stop_new", "rollback_verify", "rollback_restore"),
           "stop_old": ("rollback_start_old", "rollback_health"),
           "ha_off": ("rollback_ha_on",),
           "before": ("ha_off",)}
UNDO_STEPS = ("rollback_stop_new", "rollback_verify", "rollback_restore", "rollback_start_old",
              "rollback_health", "rollback_ha_on")
# Seconds for the steps with no timeout of their own (the prune after the stop deletes what was
# written since the prune ahead: minutes at most).
UNTIMED_SECONDS = 600
stop_path = transaction.stop_path

# How a window ended (journal["window"]["outcome"] and the module's RV(outcome)).
COMMITTED = "committed"
ROLLED_BACK = "rolled_back"
FAILED_BEFORE_STOP = "failed_before_stop"
FAILED_COMMITTED = "failed_committed"
FAILED_DOWN = "failed_down"
STOPPED_AFTER = transaction.STOPPED_AFTER


def step_8_seconds(p: Dict[str, Any]) -> int:
    seconds = 2 * int(p.get("ha_reload_wait") or 0)
    if p.get("ha_reload") == ha_reload.RESTART:
        seconds += int(p.get("health_timeout") or 0) + ha_reload.RESTART_TIMEOUT
    return seconds


def limit(p: Dict[str, Any]) -> int:
    """Seconds this window may run by its steps' timeouts, a rollback after a failure included:
    the async limit of the role's job and an attached follower's deadline."""
    forward = sum(int(p.get(name) or 0) for name in (
        "stop_timeout", "dump_timeout", "load_timeout", "init_ready_timeout", "init_timeout", "health_timeout"))
    undo = sum(int(p.get(name) or 0) for name in ("stop_timeout", "restore_timeout", "health_timeout"))
    return int(forward + undo + 2 * step_8_seconds(p) + 2 * UNTIMED_SECONDS)


# preconditions, right before the stop ------------------------------------------------------------
def recorded_steps(tx: Any) -> None:
    missing = [name for name in PRECONDITIONS if tx.status(name) != "done"]
    if missing:
        raise Refused("The window refuses to stop the old container: %s of this attempt %s not recorded "
                      "done in %s" % (" and ".join(missing), "is" if len(missing) == 1 else "are", tx.path),
                      "Run the upgrade without --tags/--skip-tags/--start-at-task (or with --tags "
                      "preflight,ha_off first); nothing was changed")


def fresh_preflight(tx: Any) -> None:
    """The preflight of this very run, not older than preflight_max_age."""
    run_id = tx.p.get("run_id")
    if not run_id:
        return
    data = tx.step_data("preflight")
    if data.get("preflight_run") != run_id:
        raise Refused("The window refuses to stop the old container: the preflight in %s is of another run "
                      "(%s), not of this one (%s)" % (tx.path, data.get("preflight_run") or "none recorded", run_id),
                      "Run the upgrade without --skip-tags preflight, so that its checks run again right "
                      "before the stop; nothing was changed")
    checked = journal_file.parse_iso(data.get("preflight_checked_at"))
    age = journal_file.seconds(checked, journal_file.utc_now()) if checked else None
    max_age = int(tx.p.get("preflight_max_age") or 0)
    if max_age and (age is None or age > max_age):
        raise Refused("The window refuses to stop the old container: this run's preflight is %s s old, more "
                      "than oms_upgrade_preflight_max_age (%d s)" % ("?" if age is None else int(age), max_age),
                      "Run the upgrade again (its preflight runs again), or raise oms_upgrade_preflight_max_age; "
                      "nothing was changed")


def rehearsal_verdict(tx: Any) -> None:
    """The last rehearsal passed and is recent enough, when oms_upgrade_rehearsal_required."""
    path = tx.p.get("rehearsal_journal_path")
    if not tx.p.get("rehearsal_required") or not path:
        return
    record = ((journal_file.load(path) or {}).get("steps") or {}).get(rehearsals.STEP) or {}
    if not record.get("status"):
        return  # never rehearsed: the preflight recommends it, the window does not require it
    ok, why = rehearsals.verdict(record, journal_file.utc_now(), tx.p.get("rehearsal_max_age_hours")
                                 or rehearsals.DEFAULT_MAX_AGE_HOURS)
    if not ok:
        raise Refused("The window refuses to stop the old container: %s" % why,
                      "Fix what it found and rehearse again (ansible-playbook obtools.oms.rehearse, or "
                      "oms_upgrade_rehearse=true), or set oms_upgrade_rehearsal_required=false to stop "
                      "OMS anyway; nothing was stopped")


def quiet_metadb(tx: Any) -> None:
    """No session of another user on rm, cm or cm_hb (OMS's own, under its login, stop with it):
    the dump inside the window would refuse them, after the stop."""
    settings = tx.settings
    databases = [settings.rm_db, settings.cm_db, settings.cm_hb_db]
    own = (settings.user or "").split("@")[0]
    conn = metadb.connect(settings)
    try:
        try:
            found = metadb_dump.other_sessions(conn, databases)
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, doing="read information_schema.PROCESSLIST")
    finally:
        conn.close()
    others = [row for row in found if (row[1] or "").split("@")[0] != own]
    if others:
        raise Refused("The window refuses to stop the old container: other sessions use %s, and the dump "
                      "inside the window would refuse them after the stop: %s"
                      % (", ".join(databases), "; ".join("id %s %s@%s db %s %s %ss %s" % r for r in others)),
                      "End those sessions (or KILL them on the MetaDB), then run the upgrade again; nothing "
                      "was stopped")


def refuse(tx: Any) -> None:
    steps = tx.steps()
    if any(name.startswith("rollback_") for name in steps) and tx.status("rollback_report") != "done" \
            and not (tx.died and tx.stopped()):
        raise OmsError("The journal %s shows a rollback that did not finish" % tx.path,
                       "Finish it first (ansible-playbook obtools.oms.rollback -l <this host>)")


def outcome(tx: Any, step: Optional[str], message: str, compensated: Optional[bool]) -> str:
    if tx.committed():
        return FAILED_COMMITTED
    if not tx.stopped():
        return FAILED_BEFORE_STOP
    if compensated or (compensated is False and tx.status("rollback_health") == "done"):
        # with 4.1.1 serving again, a failure to put ha.config back is the rollback role's to retry
        return ROLLED_BACK
    return FAILED_DOWN


def plan(p: Dict[str, Any], actions: Any = window_steps) -> transaction.Plan:
    """The upgrade's window; `actions` gives each step's action by its name (tests give recorders)."""
    def act(name: str) -> Any:
        return getattr(actions, name)

    steps = [
        Step("stop_old", act("stop_old"), own_start=True, stop=True, timeout=None),
        Step("heartbeat_prune", act("heartbeat_prune")),
        Step("backup", act("backup"), timeout="dump_timeout"),
        Step("run_new", act("run_new")),
        Step("init", act("init")),
        Step("health", act("health"), commit=True),
        Step("ha_on", act("ha_on")),
    ]
    undo_steps = [
        Step("rollback_stop_new", act("rollback_stop_new"), own_start=True),
        Step("rollback_verify", act("rollback_verify")),
        Step("rollback_restore", act("rollback_restore"), timeout="restore_timeout"),
        Step("rollback_start_old", act("rollback_start_old")),
        Step("rollback_health", act("rollback_health")),
        # only when step 1 turned HA off (it recorded what it found)
        Step("rollback_ha_on", act("rollback_ha_on"), when=lambda tx: tx.status("ha_off") == "done"),
    ]
    return transaction.Plan("upgrade", steps, COMMITTED, outcome, undo_steps=undo_steps, undo_of=UNDO_OF,
                            preconditions=[recorded_steps, fresh_preflight, rehearsal_verdict, quiet_metadb],
                            refuse=refuse, on_death=transaction.COMPENSATE, limit=limit,
                            auto_rollback=p.get("auto_rollback", True))


def result(tx: Any, ended: Dict[str, Any]) -> Dict[str, Any]:
    facts = tx.facts()
    ended = dict(ended)
    ended.update(committed=ended["outcome"] in (COMMITTED, FAILED_COMMITTED) or tx.committed(),
                 failed=ended["outcome"] not in (COMMITTED, STOPPED_AFTER),
                 t1=facts.get("t1"), t2=facts.get("t2"), dump_dir=facts.get("dump_dir"),
                 ha_restored=tx.status("rollback_ha_on") == "done",
                 new_container=tx.p["new_container"], old_container=tx.p["old_container"])
    return ended
