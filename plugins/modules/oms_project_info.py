#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_project_info
short_description: List OMS migration and sync projects and their states through the OpenAPI
version_added: 0.1.0
description:
  - Lists the data migration and data synchronization projects of an OMS console with the
    documented OpenAPI action C(ListProjects) (C(POST /api/v2?Action=ListProjects), HTTP Basic
    authentication), reading every page.
  - Proves that the console answers and that the credentials work (the upgrade's preflight), and
    records every project's state so that the report can compare them before and after.
  - With O(check_restrictions), also checks the restrictions OMS documents before an upgrade
    (C(1300.upgrade-guide/100.overview-1.md), branches V4.2.0 to V4.2.2), that is, every project not
    finished or released must have completed its forward switchover, and every running one must
    synchronize incrementally within O(max_sync_delay) seconds. It reads C(DescribeProjectSteps)
    and C(DescribeProjectProgress) for each such project, and fails naming every project that
    breaks them and what to do, unless O(fail_on_restrictions=false).
  - Read-only; never reports changed.
author:
  - obtools developers (@obtools)
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.console
options:
  console_url:
    description:
      - URL of the OMS console, C(http://<OMS host>:8089), or C(https://...) when the console's
        certificate and key are mounted in the container.
    type: str
    required: true
  project_ids:
    description:
      - Return only these projects (ids such as C(np_4w...)). Ids the console does not know are
        listed in RV(missing_ids); they do not fail the task.
      - Default is every project.
    type: list
    elements: str
  page_size:
    description:
      - Projects per C(ListProjects) page; the API allows 1 to 150.
    type: int
    default: 100
  check_restrictions:
    description:
      - Check the documented upgrade restrictions (see the description) and return
        RV(restrictions).
    type: bool
    default: false
    version_added: 0.2.0
  max_sync_delay:
    description:
      - Seconds a running project's forward incremental synchronization may be behind (now minus
        its checkpoint, C(incrSyncCheckpoint) of C(DescribeProjectProgress) or the
        C(INCR_TRANSFER) step's C(incrTimestampCheckpoint), the older of the two).
      - The docs ask for "quasi-real-time" synchronization and give no number; the default 300 is
        the upper bound of the alert center's High Protection latency threshold (1 second to 5
        minutes), the strictest latency OMS itself names.
    type: int
    default: 300
    version_added: 0.2.0
  fail_on_restrictions:
    description:
      - With O(check_restrictions), fail when a restriction is not met. V(false) returns the same
        findings in RV(restrictions) and goes on (the DBA's decision to upgrade anyway).
    type: bool
    default: true
    version_added: 0.2.0
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Read-only, runs the same in check mode.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - Sub-projects are not listed (C(visibleSubProject) keeps its default, false).
  - The restriction on connectors of projects created by OMS 3.2.x with DDL synchronization
    (C(dbType) in the connector's source configuration, C(400.faq.md)) cannot be read through the
    OpenAPI; it is returned in RV(restrictions.notes) with the docs' fix, never checked.
  - Suspended, failed or not yet started projects are warnings, not refusals, unless their forward
    switchover is pending; they do not synchronize, so the downtime does not put them behind.
  - An answer with C(success) false or an OMS error code (C(GHANA-*), C(CM-*)) fails the task with
    OMS's message and advice; HTTP 401 fails with a message about the credentials.
seealso:
  - name: OMS OpenAPI ListProjects
    description: The request and answer fields (oceanbase/oms-doc, 1200.reference-guide/100.api-reference/800.list-projects.md).
    link: https://github.com/oceanbase/oms-doc
'''

EXAMPLES = r'''
- name: Preflight | The console answers and the credentials work; record the projects' states
  obtools.oms.oms_project_info:
    console_url: http://10.0.0.5:8089
    console_user: admin
    console_password: "{{ vault_oms_console_password }}"
  register: projects_before

- name: Report | Projects that ran before the upgrade and do not now
  ansible.builtin.debug:
    msg: "{{ item.key }} was RUNNING, is {{ projects_after.states[item.key] | default('missing') }}"
  loop: "{{ projects_before.states | dict2items | selectattr('value', 'equalto', 'RUNNING') }}"
  when: projects_after.states[item.key] | default('missing') != 'RUNNING'

- name: Two projects over HTTPS with the company CA
  obtools.oms.oms_project_info:
    console_url: https://oms.example.com:8089
    console_password: "{{ vault_oms_console_password }}"
    ca_path: /etc/pki/tls/certs/company-ca.pem
    project_ids: [np_4w3x, np_5abc]

- name: Preflight | OMS's documented restrictions on projects before an upgrade
  obtools.oms.oms_project_info:
    console_url: http://10.0.0.5:8089
    console_password: "{{ vault_oms_console_password }}"
    check_restrictions: true
    max_sync_delay: 600
'''

RETURN = r'''
projects:
  description:
    - The projects as C(ListProjects) returns them (all of OMS's fields), in the console's order.
    - C(status) is one of C(INIT), C(RUNNING), C(SUSPEND), C(FAILED), C(FINISHED), C(RELEASING),
      C(RELEASED), C(DELETED).
  returned: always
  type: list
  elements: dict
  sample:
    - id: np_4w3x
      name: orders_to_ob
      type: MIGRATION
      status: RUNNING
      sourceEndpointType: MYSQL
      sinkEndpointType: OB_MYSQL
      gmtCreate: "2024-04-30T06:26:15"
states:
  description: Each returned project's C(status), by project id; the easy thing to compare before and after.
  returned: always
  type: dict
  sample: {np_4w3x: RUNNING, np_5abc: SUSPEND}
total:
  description: How many projects the console has in all (C(totalCount)), whatever O(project_ids) selects.
  returned: always
  type: int
  sample: 2
missing_ids:
  description: Ids of O(project_ids) the console does not list.
  returned: always
  type: list
  elements: str
  sample: []
restrictions:
  description:
    - The documented upgrade restrictions, checked with O(check_restrictions).
  returned: when O(check_restrictions)
  type: dict
  contains:
    ok:
      description: Whether every restriction is met.
      type: bool
    refused:
      description: One message per broken restriction, naming the project and what to do.
      type: list
      elements: str
    warnings:
      description: Projects that do not synchronize (suspended, failed, not started).
      type: list
      elements: str
    projects:
      description: Each checked project's C(id), C(name), C(status), C(delay) (seconds or null),
        C(switchover) (the C(TRANSFER_APP_SWITCH) step's status or null), C(problems) and C(warnings).
      type: list
      elements: dict
    max_sync_delay:
      description: The allowed delay in seconds.
      type: int
    notes:
      description: Restrictions the OpenAPI cannot show, with the docs' fix.
      type: list
      elements: str
  sample:
    ok: false
    refused: ["orders_to_ob (np_4w3x): incremental synchronization 912 s behind, over the allowed 300 s. ..."]
    warnings: []
    projects: [{id: np_4w3x, name: orders_to_ob, status: RUNNING, delay: 912, switchover: FINISHED,
                problems: ["..."], warnings: []}]
    max_sync_delay: 300
    notes: ["A data synchronization project created by OMS 3.2.1 or 3.2.2 ..."]
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import console
from ansible_collections.obtools.oms.plugins.module_utils import project_restrictions


def select(projects, project_ids):
    """(projects, missing ids): the listed projects limited to project_ids, when given."""
    if project_ids is None:
        return projects, []
    wanted = set(project_ids)
    chosen = [p for p in projects if p.get("id") in wanted]
    found = set(p.get("id") for p in chosen)
    return chosen, [pid for pid in project_ids if pid not in found]


def restrictions(client, projects, max_delay):
    details = {}
    for project in projects:
        if project_restrictions.needs_details(project):
            pid = project.get("id")
            details[pid] = {"steps": client.describe_project_steps(pid),
                            "progress": client.describe_project_progress(pid)}
    return project_restrictions.check(projects, details, time.time(), max_delay)


def main():
    argument_spec = console.console_argument_spec(url_required=True)
    argument_spec.update(
        project_ids=dict(type="list", elements="str"),
        page_size=dict(type="int", default=100),
        check_restrictions=dict(type="bool", default=False),
        max_sync_delay=dict(type="int", default=project_restrictions.DEFAULT_MAX_DELAY_SECONDS),
        fail_on_restrictions=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        console.warn_plain_http(module)
        client = console.ConsoleClient.from_params(module.params)
        listed, total = client.list_projects(page_size=module.params["page_size"])
        projects, missing = select(listed, module.params["project_ids"])
        result = dict(changed=False, projects=projects, total=total, missing_ids=missing,
                      states=dict((p.get("id"), p.get("status")) for p in projects))
        if module.params["check_restrictions"]:
            if module.params["max_sync_delay"] < 0:
                module.fail_json(msg="max_sync_delay must be 0 or more seconds")
            found = restrictions(client, projects, module.params["max_sync_delay"])
            result["restrictions"] = found
            if not found["ok"] and module.params["fail_on_restrictions"]:
                module.fail_json(msg=project_restrictions.refusal_message(
                    found, "oms_upgrade_ignore_project_restrictions"), **result)
            for warning in found["warnings"]:
                module.warn(warning)
        module.exit_json(**result)
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
