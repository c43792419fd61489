# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade restrictions OMS documents for its projects, checked over what the OpenAPI returns.

[doc] en-US/1300.upgrade-guide/100.overview-1.md (V4.2.0, V4.2.1, V4.2.2), Restrictions: "make sure
that data is synchronized in quasi-real-time between the source and destination in data migration
and synchronization projects ... and that forward switchover of the projects is completed. We do
not recommend that you use the new version of OMS to perform the forward switchover."
The docs give no number for "quasi-real-time": DEFAULT_MAX_DELAY_SECONDS is the bound of the
alert center's High Protection latency threshold (1 s to 5 min, 300.manage-alert-settings.md),
the strictest latency OMS itself names [guess that it is what the upgrade page means].
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DEFAULT_MAX_DELAY_SECONDS = 300

# [doc] 800.list-projects.md: the project statuses. Done projects have nothing left to keep in sync.
DONE = ("FINISHED", "RELEASING", "RELEASED", "DELETED")
RUNNING = ("RUNNING", "RUNNING_MODIFYING", "RUNNING_MERGING")
# [doc] 1000.describe-project-steps.md: step names in its example and stepInfo sections.
SWITCH_STEP = "TRANSFER_APP_SWITCH"
INCR_STEP = "INCR_TRANSFER"
# Checkpoints above this are milliseconds: the docs promise seconds only for DB2 LUW, OceanBase,
# MySQL and Oracle sources (1200.describe-project-progress.md).
MILLISECONDS_FROM = 10 ** 11

DBTYPE_NOTE = ("A data synchronization project created by OMS 3.2.1 or 3.2.2 (and run by 3.3.0) "
               "with DDL synchronization needs dbType (or db_type) in its connector's source "
               "configuration, or it cannot run after the upgrade; the OpenAPI does not show "
               "connector configurations, so this is not checked. Check it in OPS & Monitoring > "
               "Component > Connector > Update, and add dbType where it is missing "
               "(en-US/1300.upgrade-guide/400.faq.md)")


def _seconds(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    return number // 1000 if number >= MILLISECONDS_FROM else number


def _step(steps, name):
    for step in steps or []:
        if isinstance(step, dict) and step.get("name") == name:
            return step
    return None


def sync_delay(steps, progress, now):
    """Seconds the forward incremental synchronization is behind `now`, or None when no
    checkpoint is readable. The larger of the documented checkpoints: the unfavourable side."""
    checkpoints = [_seconds((progress or {}).get("incrSyncCheckpoint"))]
    incr = _step(steps, INCR_STEP)
    if incr:
        checkpoints.append(_seconds((incr.get("stepInfo") or {}).get("incrTimestampCheckpoint")))
    checkpoints = [c for c in checkpoints if c]
    if not checkpoints:
        return None
    return max(0, int(now) - min(checkpoints))


def assess(project, steps, progress, now, max_delay):
    """One project: {id, name, status, delay, switchover, problems, warnings}."""
    status = str(project.get("status") or (progress or {}).get("status") or "").upper()
    label = "%s (%s)" % (project.get("name"), project.get("id"))
    switch = _step(steps, SWITCH_STEP)
    out = {"id": project.get("id"), "name": project.get("name"), "status": status,
           "delay": None, "switchover": switch.get("status") if switch else None,
           "problems": [], "warnings": []}
    if status in DONE:
        return out
    if switch and str(switch.get("status") or "").upper() != "FINISHED":
        out["problems"].append(
            "%s: forward switchover not completed (step %s is %s). Complete the forward "
            "switchover on the current OMS first; OMS does not recommend the new version doing it"
            % (label, SWITCH_STEP, switch.get("status")))
    if status not in RUNNING:
        out["warnings"].append(
            "%s is %s, not synchronizing: it resumes from its checkpoint after the upgrade, as "
            "from any pause" % (label, status or "of unknown status"))
        return out
    delay = sync_delay(steps, progress, now)
    out["delay"] = delay
    if delay is None:
        out["problems"].append(
            "%s: running but not yet synchronizing incrementally (current step %s), so not in "
            "quasi-real time. Wait until its incremental synchronization runs and catches up"
            % (label, (progress or {}).get("currentStep") or "unknown"))
    elif delay > max_delay:
        out["problems"].append(
            "%s: incremental synchronization %d s behind, over the allowed %d s. Wait until it "
            "catches up (or find why it lags) before the upgrade" % (label, delay, max_delay))
    return out


def check(projects, details, now, max_delay=DEFAULT_MAX_DELAY_SECONDS):
    """Every project against the restrictions.

    details: {project id: {"steps": DescribeProjectSteps data, "progress": DescribeProjectProgress
    data}}. Returns {ok, refused (messages), warnings, projects (one assess() each), notes}.
    """
    assessed = []
    for project in projects:
        detail = details.get(project.get("id")) or {}
        assessed.append(assess(project, detail.get("steps"), detail.get("progress"), now,
                               max_delay))
    refused = [p for a in assessed for p in a["problems"]]
    return {"ok": not refused, "refused": refused,
            "warnings": [w for a in assessed for w in a["warnings"]],
            "projects": assessed, "max_sync_delay": max_delay, "notes": [DBTYPE_NOTE]}


def needs_details(project):
    return str(project.get("status") or "").upper() not in DONE


def refusal_message(result, override_variable):
    return ("OMS's documented upgrade restrictions are not met (100.overview-1.md): %s. Or, "
            "knowing the risk, set %s: true to go on anyway"
            % ("; ".join(result["refused"]), override_variable))
