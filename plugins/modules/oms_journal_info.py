#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_journal_info
short_description: Read the upgrade's journal and where a re-run resumes
version_added: 0.1.0
description:
  - Reads the JSON journal in which the C(obtools.oms.oms_upgrade) and C(obtools.oms.oms_rollback)
    roles record every step, and says which steps are done and, with O(steps), where a re-run
    resumes. Never changes anything.
  - Writing the journal is M(obtools.oms.oms_journal)'s job.
author:
  - obtools developers (@obtools)
options:
  path:
    description:
      - The journal file, normally C(<backup directory>/oms_upgrade_journal.json).
    type: path
    required: true
  steps:
    description:
      - The run's steps in order. When given, RV(pending_steps) and RV(next_step) say which of them
        are not done and where a re-run resumes.
    type: list
    elements: str
  wait_window:
    description:
      - Seconds to wait while the journal's downtime window (M(obtools.oms.oms_upgrade_window)) is
        still run by a live process, so that the journal is read as that window leaves it. A role
        reads the journal this way before it resumes or rolls back, so that it never acts beside a
        window of an earlier run whose controller was lost.
      - RV(window_running) says whether it still ran when the wait ended.
    type: int
    default: 0
    version_added: 0.1.0
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.info
seealso:
  - module: obtools.oms.oms_journal
'''

EXAMPLES = r'''
- name: Where does the upgrade of this host stand?
  obtools.oms.oms_journal_info:
    path: /data/oms_upgrade_backup/oms_upgrade_journal.json
    steps: [preflight, ha_off, image_load, stop_old, heartbeat_prune, backup, run_new, init, health, ha_on, report]
  register: journal

- name: Show T1 and the next step
  ansible.builtin.debug:
    msg: "T1 {{ journal.journal.facts.t1 | default('not yet') }}, resumes at {{ journal.next_step }}"
'''

RETURN = r'''
exists:
  description: Whether the journal file exists.
  returned: always
  type: bool
  sample: true
journal:
  description:
    - The journal, V({}) when there is none.
    - C(steps.<name>) holds C(status), C(started_at), C(finished_at), C(duration), C(attempts),
      C(data) and, for a failed step, C(error); C(window) is the downtime window's record (its
      owner process, status, outcome); C(facts) holds what the steps recorded (T1, T2, names, the dump
      manifest, ...).
  returned: always
  type: dict
  sample: {steps: {preflight: {status: done, duration: 2.1}}, facts: {t1: "2024-05-06T08:15:02Z"}}
done_steps:
  description: The steps whose status is C(done).
  returned: always
  type: list
  elements: str
  sample: [preflight, ha_off]
pending_steps:
  description: The steps of O(steps) that are not done, in order.
  returned: when O(steps) is given
  type: list
  elements: str
  sample: [stop_old, heartbeat_prune]
window_running:
  description: Whether a live process still runs the journal's downtime window (after O(wait_window)).
  returned: always
  type: bool
  sample: false
window_waited:
  description: Seconds waited for a running window.
  returned: always
  type: float
  sample: 0.0
next_step:
  description: The first of RV(pending_steps), where a re-run resumes; V(null) when all are done.
  returned: when O(steps) is given
  type: str
  sample: stop_old
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_utils
from ansible_collections.obtools.oms.plugins.module_utils import process_owner

WAIT_EVERY = 0.5


def window_running(journal):
    window = (journal or {}).get("window") or {}
    return window.get("status") == "running" and process_owner.owner_alive(window.get("owner"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            steps=dict(type="list", elements="str"),
            wait_window=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    start = time.time()
    try:
        journal = journal_utils.load(module.params["path"])
        while window_running(journal) and time.time() - start < module.params["wait_window"]:
            time.sleep(WAIT_EVERY)
            journal = journal_utils.load(module.params["path"])
    except OmsError as exc:
        exc.fail(module)
    module.exit_json(changed=False, exists=journal is not None, window_running=window_running(journal),
                     window_waited=round(time.time() - start, 1),
                     **journal_utils.summary(journal, module.params["steps"]))


if __name__ == "__main__":
    main()
