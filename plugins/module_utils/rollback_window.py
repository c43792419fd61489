# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback, steps 9.1 to 9.6, as a plan of the transaction engine.

oms_rollback_window runs it in one process on the OMS host (the oms_rollback role starts it as one
async job): while 4.2.0 still serves, the dumps checked and loaded beside the tables (when the
MetaDB has room for them); HA off right before the stop of 4.2.0 (9.1); the stop (9.2), a safety
dump of what a committed 4.2.0 wrote, the restore (9.3-9.4), 4.1.1 started and Online (9.5); and
ha.config as the upgrade's step 1 found it (9.6). They are the same steps the upgrade's window
runs to undo a failure before its commit point (window_steps.py), under the same journal names,
so either finishes what the other began. The controller's loss stops nothing; a rollback whose
own process died is finished by the next start.

It refuses without an upgrade journal that stopped the old container, and to throw away what a
committed upgrade's 4.2.0 wrote unless accept_data_loss (and a safety_dump_dir to dump it into
first).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Dict, Optional

from ansible_collections.obtools.oms.plugins.module_utils import transaction
from ansible_collections.obtools.oms.plugins.module_utils import upgrade_window
from ansible_collections.obtools.oms.plugins.module_utils import window_steps
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.transaction import Step

ROLLED_BACK = upgrade_window.ROLLED_BACK
FAILED_DOWN = upgrade_window.FAILED_DOWN
# Nothing was changed (an OmsError out of run(): the checks before the first step, or its record).
REFUSED = "refused"
# A step before the stop failed: nothing was stopped, 4.2.0 still serves.
FAILED_BEFORE_STOP = upgrade_window.FAILED_BEFORE_STOP
# Step 9.6 failed: 4.1.1 serves on the restored databases, ha.config is not as it was.
FAILED_SERVING = "failed_serving"
# What runs before the stop, 4.2.0 serving: the dumps checked, then loaded beside the tables.
AHEAD_STEPS = ("rollback_verify", "rollback_stage")
WINDOW_STEPS = ("rollback_verify", "rollback_stage", "rollback_ha_off", "rollback_stop_new", "rollback_safety_dump",
                "rollback_restore", "rollback_start_old", "rollback_health", "rollback_ha_on")
# Seconds for the steps with no timeout of their own (HA off, the checks of the dumps).
UNTIMED_SECONDS = 600


def upgrade_committed(tx: Any) -> bool:
    return tx.status(upgrade_window.COMMIT_STEP) == "done"


def restores(tx: Any) -> bool:
    """The new container ran, so the databases are restored (unless that is done)."""
    return tx.begun("run_new") and tx.status("rollback_restore") != "done"


def before_stop(tx: Any) -> bool:
    return not tx.begun("rollback_stop_new")


def ha_still_as_the_upgrade_left_it(tx: Any) -> bool:
    """Step 9.1 applies while nothing of a rollback has run: once the upgrade window's own undo
    started 4.1.1 again (or put ha.config back), turning HA off would undo that undo."""
    return before_stop(tx) and not tx.begun("rollback_start_old") and tx.status("rollback_ha_on") != "done"


def refuse(tx: Any) -> None:
    if "old_container" not in tx.facts() or "stop_old" not in tx.steps():
        raise OmsError("The journal %s records no upgrade that stopped the old container: nothing to "
                       "roll back" % tx.path,
                       "If OMS was upgraded by hand, follow step 9 of the procedure by hand; nothing "
                       "was changed")
    if upgrade_committed(tx) and restores(tx):
        if not tx.p["accept_data_loss"]:
            raise OmsError("The upgrade recorded in %s is committed (4.2.0 passed step 7 and has served "
                           "since): a rollback throws away what it wrote" % tx.path,
                           "Set oms_rollback_accept_data_loss=true (the databases are dumped into "
                           "oms_rollback_safety_dump_dir first); nothing was changed")
        if not tx.p["safety_dump_dir"]:
            raise OmsError("A committed upgrade is rolled back only after a dump of what 4.2.0 wrote",
                           "Give safety_dump_dir; nothing was changed")


def outcome(tx: Any, step: Optional[str], message: str, compensated: Optional[bool]) -> str:
    if step == "rollback_ha_on":
        return FAILED_SERVING
    if before_stop(tx):
        return FAILED_BEFORE_STOP
    return FAILED_DOWN


def limit(p: Dict[str, Any]) -> int:
    step_96 = upgrade_window.step_8_seconds(p)
    timed = sum(int(p.get(name) or 0) for name in ("stop_timeout", "dump_timeout", "health_timeout"))
    # the load ahead of the stop and the restore in the window
    return int(timed + 2 * int(p.get("restore_timeout") or 0) + step_96 + UNTIMED_SECONDS)


def plan(p: Dict[str, Any], actions: Any = window_steps) -> transaction.Plan:
    def act(name: str) -> Any:
        return getattr(actions, name)

    steps = [
        # while 4.2.0 serves: a bad dump, or too little room in the MetaDB, refuses here
        Step("rollback_verify", act("rollback_verify"), when=restores),
        Step("rollback_stage", act("rollback_stage"), timeout="restore_timeout",
             when=lambda tx: bool(tx.p.get("restore_ahead")) and restores(tx) and before_stop(tx)),
        # HA off right before the stop (a window that already stopped 4.2.0 had HA off then)
        Step("rollback_ha_off", act("rollback_ha_off"), own_start=True, when=ha_still_as_the_upgrade_left_it),
        Step("rollback_stop_new", act("rollback_stop_new"), own_start=True, stop=True),
        Step("rollback_safety_dump", act("rollback_safety_dump"), own_start=True, timeout="dump_timeout",
             when=lambda tx: upgrade_committed(tx) and restores(tx) and bool(tx.p.get("safety_dump_dir"))),
        Step("rollback_restore", act("rollback_restore"), timeout="restore_timeout", when=restores),
        Step("rollback_start_old", act("rollback_start_old")),
        Step("rollback_health", act("rollback_health")),
        Step("rollback_ha_on", act("rollback_ha_on")),
    ]
    return transaction.Plan("rollback", steps, ROLLED_BACK, outcome, refuse=refuse, on_death=transaction.RESUME,
                            limit=limit)


def result(tx: Any, ended: Dict[str, Any]) -> Dict[str, Any]:
    facts = tx.facts()
    ended = dict(ended)
    ended["steps_done"] = [step for step in WINDOW_STEPS if step in ended["steps_done"]]
    ended.update(failed=ended["outcome"] != ROLLED_BACK, t1=facts.get("t1"), t3=facts.get("t3"),
                 dump_dir=facts.get("dump_dir"), safety_dump_dir=facts.get("rollback_safety_dump_dir"),
                 restored=facts.get("rollback_restored") or [], unchanged=facts.get("rollback_unchanged") or [],
                 servers=facts.get("rollback_servers") or [],
                 new_container=tx.p["new_container"], old_container=tx.p["old_container"])
    return ended
