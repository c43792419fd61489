# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rehearsal's record in the journal and what it decides: the window it predicts, the sentence
the plan shows, and whether the upgrade may go ahead (passed, and recent enough).

The record is the journal step `rehearsal`; Cleanup writes it (what the rehearsal created, before
each is created, then its outcome), so that the next run removes what a killed one left.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file

STEP = "rehearsal"
DEFAULT_MAX_AGE_HOURS = 72
# Estimates of the parts of the window a rehearsal cannot measure without stopping OMS.
DEFAULT_STOP_SECONDS = 10.0
DEFAULT_PRUNE_SECONDS = 1.0


def predict_window(measured, stop_seconds=DEFAULT_STOP_SECONDS, prune_seconds=DEFAULT_PRUNE_SECONDS):
    """{total, parts}: stop + in-window prune + dump + boot + docker_init.sh + health, in seconds.

    `measured` holds dump_seconds, boot_seconds, init_seconds, health_seconds from the rehearsal;
    the stop and the prune are estimates (a rehearsal does not stop OMS)."""
    parts = [("stop", float(stop_seconds)), ("prune", float(prune_seconds))]
    for key in ("dump", "boot", "init", "health"):
        parts.append((key, float(measured.get("%s_seconds" % key) or 0.0)))
    total = round(sum(v for _k, v in parts), 1)
    return {"total": total, "parts": dict((k, round(v, 1)) for k, v in parts)}


def verdict(record, now, max_age_hours):
    """(ok, why) of the journal's last rehearsal record for the window: passed and recent enough."""
    if not record or not record.get("status"):
        return False, "no rehearsal of this deployment is recorded"
    data = record.get("data") or {}
    outcome = data.get("rehearsal_outcome")
    if record.get("status") != "done" or outcome != "passed":
        return False, "the last rehearsal (%s) %s" % (
            record.get("finished_at") or record.get("started_at") or "?",
            "failed: %s" % (data.get("rehearsal_error") or record.get("error") or "?")
            if record.get("status") == "failed" or outcome == "failed" else "did not finish")
    finished = journal_file.parse_iso(record.get("finished_at"))
    if finished is None:
        return False, "the last rehearsal has no end time"
    age = (now - finished).total_seconds() / 3600.0
    if age > float(max_age_hours):
        return False, "the last rehearsal passed %.1f h ago, more than %s h" % (age, max_age_hours)
    return True, "the last rehearsal passed %.1f h ago" % age


NETWORK_ONLY = ("; isolated by its network only: the login cannot create a user limited to the "
                "scratch databases")


def summarize(outcome, duration, predicted, error=None, output_tail=None, user_limited=True,
              rehearsal_host=None):
    """The sentence the plan and the report show (naming the rehearsal host when it is another)."""
    what = "migration rehearsed on a copy%s" % (" (on %s)" % rehearsal_host if rehearsal_host else "")
    if outcome == "passed":
        return ("%s: passed in %.0f s; predicted window %.0f s (%s)%s"
                % (what, duration, predicted["total"], ", ".join(
                    "%s %.0f s" % (k, predicted["parts"][k])
                    for k in ("stop", "prune", "dump", "boot", "init", "health")),
                   "" if user_limited is not False else NETWORK_ONLY))
    return "%s: FAILED after %.0f s: %s%s" % (
        what, duration, error or "?",
        ("\n" + "\n".join(output_tail[-20:])) if output_tail else "")


class Cleanup(object):
    """What a rehearsal created, recorded in the journal before each is created."""

    def __init__(self, journal_path):
        self.path = journal_path
        self.created = {"containers": [], "databases": [], "user": None, "workdir": None}

    def record(self, kind, value):
        if kind in ("user", "workdir"):
            self.created[kind] = value
        elif value not in self.created[kind]:
            self.created[kind].append(value)
        self.write("started", {"rehearsal_leftovers": self.created})

    def write(self, status, data, error=None):
        if not self.path:
            return
        current = journal_file.load(self.path) or {}
        step = (current.get("steps") or {}).get(STEP) or {}
        if status == "started" and step.get("status") == "started":
            status_data = dict(step.get("data") or {})
            status_data.update(data)
            current = dict(current)
            current["steps"] = dict(current["steps"])
            current["steps"][STEP] = dict(step, data=status_data)
            current["updated_at"] = journal_file.iso(journal_file.utc_now())
            journal_file.write(self.path, current)
            return
        new, changed, _note = journal_file.apply_step(current, STEP, status, data=data,
                                                      error=error, force=True)
        if changed:
            journal_file.write(self.path, new)


def leftovers(journal_path):
    """What the journal says an earlier rehearsal created and may have left."""
    current = journal_file.load(journal_path) if journal_path else None
    step = ((current or {}).get("steps") or {}).get(STEP) or {}
    return (step.get("data") or {}).get("rehearsal_leftovers") or {}
