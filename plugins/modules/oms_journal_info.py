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
extends_documentation_fragment:
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
      C(data), for a failed step C(error), and for a step a module recorded itself C(owner) (the
      process that started it); C(facts) holds what the steps recorded (T1, T2, names, the dump
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
next_step:
  description: The first of RV(pending_steps), where a re-run resumes; V(null) when all are done.
  returned: when O(steps) is given
  type: str
  sample: stop_old
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_utils


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            steps=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    try:
        journal = journal_utils.load(module.params["path"])
    except OmsError as exc:
        exc.fail(module)
    module.exit_json(changed=False, exists=journal is not None,
                     **journal_utils.summary(journal, module.params["steps"]))


if __name__ == "__main__":
    main()
