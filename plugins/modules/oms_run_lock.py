#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_run_lock
short_description: One upgrade or rollback at a time per OMS deployment
version_added: 0.1.0
description:
  - Takes or releases the run lock of a deployment, a record of the run that holds it
    (O(holder)) in a file beside the journal. The C(obtools.oms.oms_upgrade) and
    C(obtools.oms.oms_rollback) roles take it before they read the journal and release it at the end,
    so a second run on the same deployment stops at once and names the holder.
  - An Ansible run is many short processes, so the lock is a record, not a held C(flock); C(flock)
    guards only the record's read and write, so two runs starting together cannot both get it.
  - The record outlives a controller that was killed. Whether its holder is alive is judged on the
    OMS host, where every run leaves traces whatever its controller (a workstation, a bastion, an
    execution environment or an AWX job pod, whose processes and hostname are gone with it). The
    holder is alive while its work on the host still runs (the downtime window of the journal beside
    the lock, M(obtools.oms.oms_upgrade_window), whose process still runs there, same pid, start time
    and boot id), or while its heartbeat is fresher than O(stale_seconds). The heartbeat is the newest
    modification time of the lock file and of the journal (written at every step); the roles
    refresh the lock each time they take it again, and their progress probe touches it about every
    second while it waits for a long step.
  - A holder dead by both is taken over (RV(taken_over)). One that is alive is not, RV(acquired) is
    V(false), RV(liveness) says why, and the task does not fail; the caller may still take the lock
    over with O(break_run), when it knows better (the roles do for a holder started from the same
    controller, same boot and pid namespace, whose ansible-playbook process is gone; the operator
    does with C(oms_break_lock)).
author:
  - obtools developers (@obtools)
options:
  path:
    description:
      - The lock file; the roles keep it beside the journal (C(<journal>.lock)). Its directory is
        created (mode C(0700)) when missing; the file has mode C(0600) and is removed on release.
    type: path
    required: true
  state:
    description:
      - V(acquired) takes the lock for O(holder) unless another run holds it (RV(acquired) says);
        the run that holds it already gets it again (an automatic rollback inside an upgrade).
      - V(released) removes the record if O(holder)'s run holds it; anything else is left alone.
      - Who holds the lock is in the lock file itself (JSON, mode C(0600)); this module only changes it.
    type: str
    choices: [acquired, released]
    required: true
  holder:
    description:
      - Who holds the lock. C(run) (required for V(acquired) and V(released)) is unique per
        ansible-playbook run; C(controller), C(pid), C(user) and C(what) say who it is, to the
        operator and to the liveness check. The roles add C(controller_ns), the controller's boot id
        and pid namespace, so that a pid is only looked up where it means that process (the same
        controller, not a new execution environment or job pod with the same hostname).
    type: dict
  break_run:
    description:
      - The C(run) of a holder to replace (O(state=acquired)), one the caller found dead, or one
        the operator names because its controller is gone for good.
    type: str
  stale_seconds:
    description:
      - How long a holder may leave no trace on the OMS host (see the description) before it is
        taken to be dead, when none of its work runs there either. V(0) never takes a lock over by
        itself (only O(break_run) does).
      - Longer than the longest task of a run that neither writes the journal nor runs the progress
        probe; the roles' such tasks (the preflight's reads) take seconds to a few minutes.
    type: int
    default: 300
extends_documentation_fragment:
  - obtools.oms.platform
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Reports whether the lock could be taken, without writing it.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - Holds no secret; the file is 0600 in the 0700 backup directory.
seealso:
  - module: obtools.oms.oms_journal
'''

EXAMPLES = r'''
- name: Lock | Take the deployment's run lock
  obtools.oms.oms_run_lock:
    path: /data/oms/backup/oms_upgrade_journal.json.lock
    state: acquired
    holder:
      run: "ctl01:4242:20240501T100000Z"
      controller: ctl01
      pid: 4242
      what: upgrade
    stale_seconds: 300   # a holder silent that long, none of its work running, is taken over
  register: lock

- name: Lock | Stop when another run holds it
  ansible.builtin.fail:
    msg: "Another run holds the lock: {{ lock.holder }}"
  when: not lock.acquired
'''

RETURN = r'''
acquired:
  description: Whether O(holder) holds the lock after the task (O(state=acquired)).
  returned: when O(state=acquired)
  type: bool
  sample: false
holder:
  description: The lock's record after the task (V(null) when free); for a refused O(state=acquired), the run that
    holds it.
  returned: always
  type: dict
  sample: {"run": "ctl01:4242:20240501T100000Z", "controller": ctl01, "pid": 4242, "what": upgrade,
           "started_at": "2024-05-01T10:00:00Z"}
previous:
  description: The record before the task (V(null) when the lock was free), for example the dead run
    that O(break_run) replaced.
  returned: always
  type: dict
  sample: null
taken_over:
  description: Whether the task replaced another run's record (O(break_run), or a holder found dead).
  returned: when O(state=acquired)
  type: bool
  sample: false
liveness:
  description: For another holder (O(state=acquired)), whether it is alive as judged on the OMS host and why;
    C(heartbeat_age) is the age in seconds of its newest trace, C(working) V([window]) while the
    journal's downtime window still runs.
  returned: when O(state=acquired) and another run held the lock
  type: dict
  sample: {"alive": true, "why": "its last sign of life on this host is 12s old (dead after 300s)",
           "heartbeat_age": 12.4, "working": []}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import run_lock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["acquired", "released"], required=True),
            holder=dict(type="dict"),
            break_run=dict(type="str"),
            stale_seconds=dict(type="int", default=run_lock.STALE_SECONDS),
        ),
        required_if=[("state", "acquired", ["holder"]), ("state", "released", ["holder"])],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "acquired":
            before = run_lock.read(p["path"])
            other = bool(before and before.get("run") != p["holder"].get("run"))
            liveness = run_lock.liveness(p["path"], p["stale_seconds"]) if other else None
            acquired, record, previous, changed = run_lock.acquire(
                p["path"], p["holder"], p["break_run"], module.check_mode, p["stale_seconds"])
            taken_over = bool(acquired and previous and previous.get("run") != p["holder"].get("run"))
            result = dict(changed=changed, acquired=acquired, holder=record, previous=previous,
                          taken_over=taken_over)
            if liveness is not None:
                result["liveness"] = liveness
            module.exit_json(**result)
        released, previous = run_lock.release(p["path"], (p["holder"] or {}).get("run"), module.check_mode)
        module.exit_json(changed=released, holder=None if released else previous, previous=previous)
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
