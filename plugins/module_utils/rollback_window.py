# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback, steps 9.1 to 9.6, as one transaction on the OMS host.

oms_rollback_window runs it in one process (the oms_rollback role starts it as one async job):
HA off right before the stop of 4.2.0 (9.1), steps 9.2 to 9.5 with the code of the upgrade
window's own rollback (rollback_steps.py), and ha.config as the upgrade's step 1 found it (9.6,
the code of the upgrade's step 8). The controller's loss stops nothing: the window goes on to
4.1.1 serving with HA as it was, and the role's next run attaches to it or finishes what it left.

It owns the journal's window record (kind "rollback") like the upgrade's window, so that neither
starts beside the other. It refuses without an upgrade journal that stopped the old container,
and to throw away what a committed upgrade's 4.2.0 wrote unless accept_data_loss (and a
safety_dump_dir to dump it into first).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Dict, Optional

from ansible_collections.obtools.oms.plugins.module_utils import ha_config
from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils import ha_restore
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import upgrade_window
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.rollback_steps import STEPS

ROLLED_BACK = upgrade_window.ROLLED_BACK
FAILED_DOWN = upgrade_window.FAILED_DOWN
# Nothing was changed (an OmsError out of run(): the checks before the first step, or its record).
REFUSED = "refused"
# Step 9.1 failed: nothing was stopped, 4.2.0 still serves.
FAILED_BEFORE_STOP = upgrade_window.FAILED_BEFORE_STOP
# Step 9.6 failed: 4.1.1 serves on the restored databases, ha.config is not as it was.
FAILED_SERVING = "failed_serving"
# What runs before the stop, 4.2.0 serving: the dumps checked, then loaded beside the tables.
AHEAD_STEPS = ("rollback_verify", "rollback_stage")
# Every step of the window, in the order they run.
WINDOW_STEPS = AHEAD_STEPS + ("rollback_ha_off",) + tuple(s for s in STEPS if s not in AHEAD_STEPS) + ("rollback_ha_on",)
# An hour for each of the load ahead of the stop, the safety dump and the restore (none has a
# timeout of its own).
UNTIMED_SECONDS = 10800


class RollbackWindow(upgrade_window.Window):
    KIND = "rollback"

    def upgrade_committed(self) -> bool:
        return self.status(upgrade_window.COMMIT_STEP) == "done"

    def refuse_unless_ready(self) -> None:
        if "old_container" not in self.facts() or "stop_old" not in self.steps():
            raise OmsError("The journal %s records no upgrade that stopped the old container: nothing to "
                           "roll back" % self.path,
                           "If OMS was upgraded by hand, follow step 9 of the procedure by hand; nothing "
                           "was changed")
        if self.upgrade_committed() and self.status("rollback_restore") != "done" and "run_new" in self.steps():
            if not self.p["accept_data_loss"]:
                raise OmsError("The upgrade recorded in %s is committed (4.2.0 passed step 7 and has served "
                               "since): a rollback throws away what it wrote" % self.path,
                               "Set accept_data_loss (the databases are dumped into safety_dump_dir "
                               "first); nothing was changed")
            if not self.p["safety_dump_dir"]:
                raise OmsError("A committed upgrade is rolled back only after a dump of what 4.2.0 wrote",
                               "Give safety_dump_dir; nothing was changed")

    def _run_steps(self) -> Dict[str, Any]:
        try:
            self.ahead_of_stop()
            if self.status("rollback_ha_off") != "done":
                self.rollback_step = "rollback_ha_off"
                self.rollback_ha_off()
            self.roll_back(self.p["safety_dump_dir"] if self.upgrade_committed() else None)
            if self.status("rollback_ha_on") != "done":
                self.rollback_step = "rollback_ha_on"
                self.rollback_ha_on()
        except Exception as exc:  # pylint: disable=broad-except
            # whatever failed (OmsError, the SDK, a bug): recorded against its step, which the
            # next run repeats
            error = str(exc) if isinstance(exc, OmsError) else "%s: %s" % (type(exc).__name__, exc)
            step = self.rollback_step or "rollback_ha_off"
            self.record(step, "failed", error=error)
            outcome = {"rollback_ha_off": FAILED_BEFORE_STOP, "rollback_ha_on": FAILED_SERVING}.get(step, FAILED_DOWN)
            if step in AHEAD_STEPS and self.status("rollback_stop_new") is None:
                outcome = FAILED_BEFORE_STOP
            return self.end(outcome, "%s failed: %s" % (step, error))
        return self.end(ROLLED_BACK)

    def ahead_of_stop(self) -> None:
        """While 4.2.0 serves (its stop not begun), when the databases will be restored: every dump
        checked against its manifest (a bad file refuses here, before any downtime), then, with
        restore_ahead, loaded beside the tables, so that the window only swaps them in."""
        if "run_new" not in self.steps() or self.status("rollback_stop_new") is not None \
                or self.status("rollback_restore") == "done":
            return
        if self.status("rollback_verify") != "done":
            self.rollback_step = "rollback_verify"
            self.rollback_verify()
        if self.p.get("restore_ahead") and self.status("rollback_stage") != "done":
            self.rollback_step = "rollback_stage"
            self.rollback_stage()
        self.rollback_step = None

    def rollback_ha_off(self) -> None:
        """Step 9.1, right before the stop: HA must not act on the heartbeats the stop makes stale."""
        reason = self.p.get("reason")
        self.record("rollback_ha_off", "started", data={"rollback_reason": reason} if reason else None)
        result = ha_config.write_ha_config(self.settings, {"enable": False})
        self.record("rollback_ha_off", "done", data={"rollback_ha_off_changed": bool(result.get("changed"))})

    def rollback_ha_on(self) -> None:
        """Step 9.6: ha.config as the upgrade's step 1 found it; with HA on, refetchStoreIntervalMin
        greater than the minutes since T1 (or, when the stop failed before recording T1, since the
        stop began: only ever larger)."""
        self.record("rollback_ha_on", "started")
        since = self.facts().get("t1") or (self.steps().get("stop_old") or {}).get("started_at") \
            or journal_file.iso(journal_file.utc_now())
        result, data = self.restore_ha("rollback_ha_on", ha_restore.ROLLBACK, self.p["old_container"], since)
        self.results["rollback_ha_on"] = result
        recorded = dict(("rollback_" + key, value) for key, value in data.items() if key != "t2")
        recorded["rollback_ha_on_at"] = data["t2"]
        self.record("rollback_ha_on", "done", data=recorded)

    def longest_window(self) -> int:
        p = self.p
        step_96 = 2 * int(p.get("ha_reload_wait") or 0)
        if p.get("ha_reload") == ha_reload.RESTART:
            step_96 += int(p.get("health_timeout") or 0) + ha_reload.RESTART_TIMEOUT
        return int(sum(int(p.get(name) or 0) for name in ("stop_timeout", "health_timeout"))
                   + UNTIMED_SECONDS + step_96)

    def outcome(self, outcome: str, error: Optional[str], attached: bool = False) -> Dict[str, Any]:
        facts = self.facts()
        done_now = [step for step in WINDOW_STEPS if step in self.done_now]
        return dict(outcome=outcome, error=error, attached=attached, failed=outcome != ROLLED_BACK,
                    changed=bool(self.done_now) or attached, steps_done=done_now,
                    journal_errors=self.journal_errors, t1=facts.get("t1"), t3=facts.get("t3"),
                    dump_dir=facts.get("dump_dir"), safety_dump_dir=facts.get("rollback_safety_dump_dir"),
                    restored=facts.get("rollback_restored") or [], unchanged=facts.get("rollback_unchanged") or [],
                    servers=facts.get("rollback_servers") or [], results=self.results,
                    new_container=self.p["new_container"], old_container=self.p["old_container"])

    def record(self, step: str, status: str, data: Optional[Dict[str, Any]] = None, error: Optional[str] = None,
               before: Optional[Dict[str, Any]] = None) -> None:
        super(RollbackWindow, self).record(step, status, data=data, error=error, before=before)
        if status == "done" and step not in self.done_now:
            self.done_now.append(step)
