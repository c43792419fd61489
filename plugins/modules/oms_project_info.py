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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import console


def select(projects, project_ids):
    """(projects, missing ids): the listed projects limited to project_ids, when given."""
    if project_ids is None:
        return projects, []
    wanted = set(project_ids)
    chosen = [p for p in projects if p.get("id") in wanted]
    found = set(p.get("id") for p in chosen)
    return chosen, [pid for pid in project_ids if pid not in found]


def main():
    argument_spec = console.console_argument_spec(url_required=True)
    argument_spec.update(
        project_ids=dict(type="list", elements="str"),
        page_size=dict(type="int", default=100),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        console.warn_plain_http(module)
        client = console.ConsoleClient.from_params(module.params)
        listed, total = client.list_projects(page_size=module.params["page_size"])
        projects, missing = select(listed, module.params["project_ids"])
        module.exit_json(changed=False, projects=projects, total=total, missing_ids=missing,
                         states=dict((p.get("id"), p.get("status")) for p in projects))
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
