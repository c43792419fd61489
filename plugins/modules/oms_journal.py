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
        journal's C(facts); or applies every entry of O(updates) in order, in one write.
      - V(reset) moves the journal aside to C(<path>.<UTC timestamp>) so that the next run starts
        afresh; nothing is deleted.
      - V(settled) makes sure no background job of an earlier run acts any more; it removes the
        watch file C(<path>.watch), so that every job still waiting for its turn stands down (see
        the C(journal_run) option of the step modules), then waits up to O(timeout) for
        every step whose recorded owner process still runs, and fails naming them if one still
        does. A role runs it before it reads the journal to resume, and before it rolls back.
      - V(watched) writes O(run) into the watch file, the go for the jobs of that run that wait for
        their turn.
      - Reading the journal is M(obtools.oms.oms_journal_info)'s job.
    type: str
    choices: [step, reset, settled, watched]
    default: step
  step:
    description:
      - Name of the step, for O(state=step), for example V(stop_old_container).
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
  updates:
    description:
      - Several step updates applied in order and written at once (one atomic write), for
        O(state=step) instead of O(step) and O(status); for example "stop_old done" and
        "heartbeat_prune started" in one task, so that a role makes one round trip between two
        steps. A crash leaves either all of them written or none.
      - Each entry is a dictionary with the keys C(step) and C(status) (required, as O(step) and
        O(status)) and optionally C(data), C(error) and C(force), as the options of the same names.
      - Mutually exclusive with O(step).
    type: list
    elements: dict
    version_added: 0.1.0
  run:
    description:
      - The run whose jobs may act, for O(state=watched).
    type: str
  timeout:
    description:
      - For O(state=settled), how long to wait for steps whose owner process still runs.
    type: int
    default: 3600
  steps:
    description:
      - The run's steps in order. When given, RV(pending_steps) and RV(next_step) say which of them
        are not done and where a re-run resumes.
    type: list
    elements: str
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
    details: The OMS host, a Linux machine that runs the OMS container (or reaches its Docker engine and MetaDB).
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Reports what it would write, and the journal as it would be, without writing.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: full
    details: Shows the step's record (or the whole journal for O(state=reset)) before and after.
notes:
  - Do not keep secrets in O(data). The file is 0600, but it is a plain file in the backup
    directory.
seealso:
  - module: obtools.oms.oms_journal_info
  - module: obtools.oms.oms_container_upgrade
'''

EXAMPLES = r'''
- name: Read the journal and find where the run resumes
  obtools.oms.oms_journal_info:
    path: /data/oms/backup/journal.json
    steps: [preflight, ha_off, stop_old_container, prune_heartbeat, dump]
  register: journal

- name: Step 2.1 | Stop the old container and record T1
  when: "'stop_old_container' not in journal.done_steps"
  block:
    - name: Step 2.1 | Journal the start
      obtools.oms.oms_journal:
        path: /data/oms/backup/journal.json
        state: step
        step: stop_old_container
        status: started

    - name: Step 2.1 | Stop the old container
      obtools.oms.oms_container_upgrade:
        name: oms_411
        state: stopped
      register: stopped

    - name: Step 2.1 | Journal T1
      obtools.oms.oms_journal:
        path: /data/oms/backup/journal.json
        state: step
        step: stop_old_container
        status: done
        data:
          t1: "{{ stopped.stopped_at }}"
          old_container: oms_411

- name: Step 2.2 | Journal the end of the prune and the start of the dump in one write
  obtools.oms.oms_journal:
    path: /data/oms/backup/journal.json
    state: step
    updates:
      - step: prune_heartbeat
        status: done
        data: {heartbeat_rows_deleted: 1200}
      - step: dump
        status: started

- name: Stand down the background jobs of an earlier run, wait for one still working
  obtools.oms.oms_journal:
    path: /data/oms/backup/journal.json
    state: settled
    timeout: 1800

- name: Give the go to the steps launched ahead for this run
  obtools.oms.oms_journal:
    path: /data/oms/backup/journal.json
    state: watched
    run: "{{ run_name }}"

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
      C(data), for a failed step C(error), and for a step a module recorded itself C(owner), the
      process that started it (C(pid), C(start), C(boot) and the C(run) it belonged to).
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
  description: The record of O(step) after the call (with O(updates), of the last entry's step).
  returned: when O(state=step)
  type: dict
  sample: {status: started, started_at: "2024-05-01T09:59:52.010Z", finished_at: null,
           duration: null, attempts: 1, data: {}}
note:
  description: Why nothing changed (V(already done)), or V(data added) when a done step got new data.
  returned: when O(state=step)
  type: str
  sample: already done
records:
  description: The record of every step O(updates) named, after the call.
  returned: when O(updates) is given
  type: dict
  sample: {prune_heartbeat: {status: done, duration: 1.2}, dump: {status: started, attempts: 1}}
notes:
  description: For every step O(updates) named, the note of its last entry (see RV(note)).
  returned: when O(updates) is given
  type: dict
  sample: {prune_heartbeat: null, dump: already done}
exists:
  description: Whether the journal file exists after the call (before it, in check mode).
  returned: always
  type: bool
  sample: true
stood_down:
  description: Whether O(state=settled) removed a watch file (jobs waiting for their turn stood down).
  returned: when O(state=settled)
  type: bool
  sample: false
waited:
  description: Seconds O(state=settled) waited for steps whose owner still ran.
  returned: when O(state=settled)
  type: float
  sample: 0.0
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
from ansible_collections.obtools.oms.plugins.module_utils import step_chain


def summary(module, journal, extra):
    result = journal_utils.summary(journal, module.params["steps"])
    result.update(extra)
    return result


def run(module):
    params = module.params
    path = params["path"]
    state = params["state"]
    current = journal_utils.load(path)

    if state == "settled":
        settled = step_chain.settle(path, params["timeout"], check_mode=module.check_mode)
        if settled["still_running"]:
            raise OmsError("A background job of an earlier run still works on %s after %s s"
                           % (", ".join(settled["still_running"]), settled["waited"]),
                           "Wait for it to end (its step's record in %s names it), or stop that "
                           "process if it hangs, then run again" % path)
        return summary(module, journal_utils.load(path),
                       dict(changed=settled["stood_down"], exists=os.path.exists(path),
                            stood_down=settled["stood_down"], waited=settled["waited"]))
    if state == "watched":
        if not params["run"]:
            raise OmsError("state=watched needs run", "Name the run whose jobs may act")
        watched, _mtime = step_chain.read_watch(path)
        if not module.check_mode:
            step_chain.write_watch(path, params["run"])
        return summary(module, current, dict(changed=watched != params["run"], exists=current is not None))

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

    if params["updates"] is not None:
        return run_updates(module, current)
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


def run_updates(module, current):
    path = module.params["path"]
    updates = module.params["updates"]
    new, changed, notes = journal_utils.apply_steps(current, updates)
    if changed and not module.check_mode:
        journal_utils.write(path, new)
    names = []
    for update in updates:
        if update.get("step") not in names:
            names.append(update.get("step"))
    before = dict((name, ((current or {}).get("steps") or {}).get(name) or {}) for name in names)
    records = dict((name, ((new or {}).get("steps") or {}).get(name) or {}) for name in names)
    last = names[-1] if names else None
    result = summary(module, new, dict(changed=changed, records=records, notes=notes,
                                       record=records.get(last, {}), note=notes.get(last),
                                       exists=os.path.exists(path)))
    result["diff"] = dict(before=before, after=records)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["step", "reset", "settled", "watched"], default="step"),
            run=dict(type="str"),
            timeout=dict(type="int", default=3600),
            step=dict(type="str"),
            status=dict(type="str", choices=["started", "done", "failed"]),
            data=dict(type="dict", default={}),
            error=dict(type="str"),
            force=dict(type="bool", default=False),
            updates=dict(type="list", elements="dict"),
            steps=dict(type="list", elements="str"),
        ),
        mutually_exclusive=[("step", "updates"), ("status", "updates")],
        required_if=[("state", "step", ("step", "updates"), True)],
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
