#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_journal
short_description: Keep the upgrade's journal, the run's state file on the OMS host
version_added: 0.1.0
description:
  - Writes the JSON journal in which the C(obtools.oms.oms_upgrade) and
    C(obtools.oms.oms_rollback) roles record every step (start, end, duration, result) and the facts a later run needs (T1, T2, T3,
    container names, image tags, the previous C(ha.config), the dump manifest).
  - Most steps record themselves, in the module that does them. The steps of the downtime windows
    are recorded by M(obtools.oms.oms_upgrade_window) and M(obtools.oms.oms_rollback_window); the
    steps ahead of the stop by the module that does each, given C(journal_path) and
    C(journal_step) (for example M(obtools.oms.oms_container_upgrade) with
    C(journal_step=image_load)). This module records the steps that are the roles' own tasks,
    C(preflight), C(report), C(rollback_report) and a rehearsal done on another host
    (C(rehearsal)).
  - Every state returns RV(done_steps), so a role asks cheaply whether a step is done and skips it;
    with O(steps) it also returns where a re-run resumes (RV(next_step)). To read the journal
    without writing, use M(obtools.oms.oms_journal_info).
  - Writes are atomic (a temporary file in the same directory, fsync, rename) and the file has
    mode C(0600). Times are UTC ISO 8601, durations seconds with one decimal.
author:
  - obtools developers (@obtools)
options:
  path:
    description:
      - The journal file, normally C(<backup directory>/journal.json). Its directory is created
        (mode C(0700)) when missing.
    type: path
    required: true
  state:
    description:
      - V(step) records that O(step) is O(status), merging O(data) into the step and into the
        journal's C(facts).
      - V(reset) moves the journal aside to C(<path>.<UTC timestamp>) so that the next run starts
        afresh; nothing is deleted.
      - Reading the journal is M(obtools.oms.oms_journal_info)'s job.
    type: str
    choices: [step, reset]
    default: step
  step:
    description:
      - Name of the step, for O(state=step), for example V(report).
    type: str
  status:
    description:
      - V(started) begins a new attempt of O(step) (attempts + 1, start time now). On a step that
        is already done it changes nothing unless O(force=true), so that a resumed run cannot lose
        a done step's data.
      - V(done) ends the step (end time, duration) and merges O(data). A step already done whose
        data already holds O(data) is left alone (changed=false).
      - V(failed) ends the step as failed with O(error).
      - Required with O(state=step).
    type: str
    choices: [started, done, failed]
  data:
    description:
      - Facts to merge (top-level keys, the latest value wins) into the step's C(data) and into
        the journal's C(facts), for example T1 under the key C(t1).
    type: dict
    default: {}
  error:
    description:
      - What went wrong, recorded with O(status=failed).
    type: str
  force:
    description:
      - With O(status=started), start a step again even when it is done.
    type: bool
    default: false
  steps:
    description:
      - The run's steps in order. When given, RV(pending_steps) and RV(next_step) say which of them
        are not done and where a re-run resumes.
    type: list
    elements: str
extends_documentation_fragment:
  - obtools.oms.platform
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Reports what it would write, and the journal as it would be, without writing.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: full
    details: Shows the step's record (or the whole journal for O(state=reset)) before and after.
seealso:
  - module: obtools.oms.oms_journal_info
  - module: obtools.oms.oms_container_upgrade
'''

EXAMPLES = r'''
- name: Read the journal and find where the run resumes
  obtools.oms.oms_journal_info:
    path: /data/oms/backup/journal.json
    steps: [preflight, image_load, heartbeat_prune_ahead, ha_off, stop_old, heartbeat_prune, backup, run_new, init,
            health, ha_on, report]
  register: journal

- name: Step 10 | Write the report
  when: "'report' not in journal.done_steps"
  block:
    - name: Step 10 | Journal - report started
      obtools.oms.oms_journal:
        path: /data/oms/backup/journal.json
        state: step
        step: report
        status: started

    - name: Step 10 | Write the report
      ansible.builtin.copy:
        content: "{{ journal.journal.facts | to_nice_json }}\n"
        dest: /data/oms/backup/oms_upgrade_report.json
        mode: "0600"

    - name: Step 10 | Journal - report done
      obtools.oms.oms_journal:
        path: /data/oms/backup/journal.json
        state: step
        step: report
        status: done
        data:
          report_json: /data/oms/backup/oms_upgrade_report.json

- name: Step 3 | A module that records its own step (no oms_journal task around it)
  obtools.oms.oms_container_upgrade:
    state: image_loaded
    image: oms:feature_4.2.0-ce
    image_archive: /data/oms/oms_420.tar.gz
    journal_path: /data/oms/backup/journal.json
    journal_step: image_load

- name: Start a new run, keeping the old journal as journal.json.<timestamp>
  obtools.oms.oms_journal:
    path: /data/oms/backup/journal.json
    state: reset
'''

RETURN = r'''
journal:
  description:
    - The journal after the call (in check mode, as it would be). V({}) when there is none.
    - C(steps.<name>) holds C(status), C(started_at), C(finished_at), C(duration), C(attempts),
      C(data) and, for a failed step, C(error). C(window) is the downtime window's record
      (M(obtools.oms.oms_upgrade_window)).
  returned: always
  type: dict
  sample:
    format: 1
    created_at: "2024-05-01T09:58:00.120Z"
    updated_at: "2024-05-01T10:00:03.512Z"
    facts: {t1: "2024-05-01T10:00:03.401Z", old_container: oms_411}
    steps:
      stop_old_container:
        status: done
        started_at: "2024-05-01T09:59:52.010Z"
        finished_at: "2024-05-01T10:00:03.512Z"
        duration: 11.5
        attempts: 1
        data: {t1: "2024-05-01T10:00:03.401Z", old_container: oms_411}
done_steps:
  description: Names of the steps whose status is done, in the order they were first started.
  returned: always
  type: list
  elements: str
  sample: [preflight, ha_off, stop_old_container]
pending_steps:
  description: The steps of O(steps) that are not done, in that order.
  returned: when O(steps) is given
  type: list
  elements: str
  sample: [prune_heartbeat, dump]
next_step:
  description: The first step of O(steps) that is not done (null when all are); a re-run resumes here.
  returned: when O(steps) is given
  type: str
  sample: prune_heartbeat
record:
  description: The record of O(step) after the call.
  returned: when O(state=step)
  type: dict
  sample: {status: started, started_at: "2024-05-01T09:59:52.010Z", finished_at: null,
           duration: null, attempts: 1, data: {}}
note:
  description: Why nothing changed (V(already done)), or V(data added) when a done step got new data.
  returned: when O(state=step)
  type: str
  sample: already done
exists:
  description: Whether the journal file exists after the call (before it, in check mode).
  returned: always
  type: bool
  sample: true
previous_path:
  description: Where O(state=reset) moved the journal (would move it, in check mode); null when there was none.
  returned: when O(state=reset)
  type: str
  sample: /data/oms/backup/journal.json.20240501T100003Z
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_utils


def summary(module, journal, extra):
    result = journal_utils.summary(journal, module.params["steps"])
    result.update(extra)
    return result


def run(module):
    params = module.params
    path = params["path"]
    state = params["state"]
    current = journal_utils.load(path)

    if state == "reset":
        if current is None and not os.path.exists(path):
            return summary(module, None, dict(changed=False, exists=False, previous_path=None))
        if module.check_mode:
            target = journal_utils.aside_path(path)
        else:
            target = journal_utils.move_aside(path)
        result = summary(module, None, dict(changed=True, exists=module.check_mode,
                                            previous_path=target))
        result["diff"] = dict(before=current or {}, after={})
        return result

    if not params["step"] or not params["status"]:
        raise OmsError("state=step needs both step and status",
                       "Name the step and say whether it started, is done or failed")
    new, changed, note = journal_utils.apply_step(current, params["step"], params["status"],
                                                  data=params["data"], error=params["error"],
                                                  force=params["force"])
    if changed and not module.check_mode:
        journal_utils.write(path, new)
    before = ((current or {}).get("steps") or {}).get(params["step"]) or {}
    record = (new.get("steps") or {}).get(params["step"]) or {}
    result = summary(module, new, dict(changed=changed, record=record, note=note,
                                       exists=os.path.exists(path)))
    result["diff"] = dict(before=before, after=record)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["step", "reset"], default="step"),
            step=dict(type="str"),
            status=dict(type="str", choices=["started", "done", "failed"]),
            data=dict(type="dict", default={}),
            error=dict(type="str"),
            force=dict(type="bool", default=False),
            steps=dict(type="list", elements="str"),
        ),
        required_if=[("state", "step", ("step",))],
        supports_check_mode=True,
    )
    try:
        result = run(module)
        if not module._diff:
            result.pop("diff", None)
        module.exit_json(**result)
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
