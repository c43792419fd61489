#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_server_health
short_description: Check, or wait until, every OMS server is Online
version_added: 0.1.0
description:
  - Reports what the OMS console's OPS & Monitoring > Servers page shows, from where OMS keeps it
    (step 7 of the 4.2.0-CE upgrade procedure). A server is online when its row in the cm
    database's C(host) table says C(ONLINE) and its C(supervisor) heartbeat in the heartbeat
    database's C(heart_beat) table is younger than O(heartbeat_max_age), the checks of OMS's own
    host-down guide.
  - When O(console_url) is given, the console's C(GET /oms/health) must also answer
    C(data.healthy=true). That URL comes from OceanBase's deployer (obd), not from OMS's docs;
    where it answers HTTP 404 the console counts as healthy when the documented OpenAPI answers
    (C(ListProjects) with O(console_user) and O(console_password)), and without a password the
    console is not judged. RV(signals) says which signals were used.
  - With O(started_after) (the new container's start) a heartbeat counts only when it was
    written after it, or advanced while the module watched, so that the old container's last
    heartbeat cannot pass for the new one's.
  - With O(wait=true) it polls every O(interval) seconds until all is healthy, and fails after
    O(timeout) seconds with a short table of the servers that are not online and why.
  - Read-only; never reports changed.
author:
  - obtools developers (@obtools)
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.console
  - obtools.oms.journal
options:
  wait:
    description:
      - Wait until every server is online (and the console healthy, when O(console_url) is given),
        and fail on O(timeout).
      - With V(false), report the current state once and never fail because of it.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait with O(wait=true).
      - The default is OceanBase's deployer's wait for a real OMS start (60 s after C(docker
        run), then up to 900 polls a second apart).
    type: int
    default: 960
  interval:
    description:
      - Seconds between two polls with O(wait=true).
    type: int
    default: 5
  heartbeat_max_age:
    description:
      - A C(supervisor) heartbeat older than this many seconds means the server is down. OMS
        refreshes it every few seconds while the server runs.
    type: int
    default: 60
  started_after:
    description:
      - The time (UTC, ISO 8601, as C(docker inspect) gives C(State.StartedAt)) the OMS container
        to check was started. A supervisor heartbeat written before it (compared on the MetaDB's
        clock, shifted by the MetaDB's offset from UTC) counts only once it advances.
      - Leave it out to accept any heartbeat younger than O(heartbeat_max_age).
    type: str
    version_added: 0.1.0
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Read-only, runs the same in check mode.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - The heartbeat's age is computed by the MetaDB (C(NOW(6)) minus C(gmt_modified)), so a clock
    difference between the OMS host and the MetaDB does not make a heartbeat look stale.
  - The MetaDB connection is made once before polling, so a wrong password fails at once; a table
    that cannot be read later (for example while C(docker_init.sh) migrates the schema) counts as
    not healthy and the polling goes on.
  - With O(journal_step), the module records in the step's journal data, when every server is
    online, C(servers_after)
    and C(health_signals).
seealso:
  - name: OMS host-down troubleshooting guide
    description: The host table and supervisor heartbeat checks (oceanbase/oms-doc, 1400.faq/100.general-o-m/400.oms-host-down-guide.md).
    link: https://github.com/oceanbase/oms-doc
'''

EXAMPLES = r'''
- name: Step 7 | Wait until every server is Online
  obtools.oms.oms_server_health:
    config_file: /data/config.yaml
    console_url: http://10.0.0.5:8089
    timeout: 900

- name: Preflight | Report the servers' state without waiting
  obtools.oms.oms_server_health:
    login_host: 10.0.0.9
    login_port: 3306
    login_user: oms_meta
    login_password: "{{ vault_oms_meta_password }}"
    cm_db: cm_411
    cm_hb_db: cm_hb_411
    wait: false
  register: health

- name: Preflight | Say which servers are down
  ansible.builtin.debug:
    msg: "{{ health.servers | rejectattr('online') | map(attribute='ip') | list }}"
'''

RETURN = r'''
journal:
  description:
    - What the module recorded in the journal (O(journal_step)).
  returned: when journal_step is given, outside check mode
  type: dict
  contains:
    path: {description: The journal file., type: str, returned: always}
    step: {description: The step recorded., type: str, returned: always}
    written: {description: Whether the journal could be written., type: bool, returned: always}
    status: {description: The status written (V(done) or V(failed))., type: str, returned: when written}
    error: {description: Why the journal could not be written., type: str, returned: when not written}
servers:
  description: Every server of the C(host) table, in IP order.
  returned: always
  type: list
  elements: dict
  contains:
    ip:
      description: The server's address.
      type: str
      sample: 10.0.0.5
    host_status:
      description: C(host_status) as OMS stores it (C(ONLINE) when healthy).
      type: str
      sample: ONLINE
    heartbeat_age:
      description: Seconds since its C(supervisor) heartbeat, one decimal; null when it has none.
      type: float
      sample: 1.4
    online:
      description: Whether the server counts as online.
      type: bool
      sample: true
    reasons:
      description: Why it does not, empty when it does.
      type: list
      elements: str
      sample: []
  sample:
    - {ip: 10.0.0.5, host_status: ONLINE, heartbeat_age: 1.4, online: true, reasons: []}
healthy:
  description: Every server online, at least one server, and the console healthy when O(console_url) is given.
  returned: always
  type: bool
  sample: true
console_healthy:
  description: What C(GET /oms/health) said (C(data.healthy)); null when no O(console_url) was given.
  returned: always
  type: bool
  sample: true
problems:
  description: What is wrong besides single servers (no server at all, a table that cannot be read, the console).
  returned: always
  type: list
  elements: str
  sample: []
elapsed:
  description: Seconds spent polling, one decimal.
  returned: always
  type: float
  sample: 12.3
signals:
  description: What the verdict rests on, in words (MetaDB tables, heartbeat rule, which console
    check).
  returned: always
  type: list
  elements: str
  sample: ["MetaDB cm_411.host host_status ONLINE", "console GET /oms/health data.healthy"]
notes:
  description: What could not be judged and why (for example no C(/oms/health) and no console
    password).
  returned: always
  type: list
  elements: str
  sample: []
polls:
  description: How many times the state was read.
  returned: always
  type: int
  sample: 3
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import console
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import oms_config
from ansible_collections.obtools.oms.plugins.module_utils import server_health
from ansible_collections.obtools.oms.plugins.module_utils import step_journal


def run(module):
    params = module.params
    settings = metadb.settings_from_params(params)
    oms_config.register_no_log(module, settings)
    client = None
    if params["console_url"]:
        console.warn_plain_http(module)
        client = console.ConsoleClient.from_params(params)
    return server_health.check_servers(
        settings, metadb.connect, metadb.translate_error, client, wait=params["wait"],
        timeout=params["timeout"], interval=params["interval"],
        heartbeat_max_age=params["heartbeat_max_age"], started_after=params["started_after"])


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(console.console_argument_spec(url_required=False))
    argument_spec.update(
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=960),
        interval=dict(type="int", default=5),
        heartbeat_max_age=dict(type="int", default=60),
        started_after=dict(type="str"),
    )
    argument_spec.update(step_journal.journal_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_by=step_journal.JOURNAL_REQUIRED_BY)
    metadb.check_libraries(module)
    try:
        step = step_journal.StepJournal(module)
        step.start()
        result = run(module)
        module.exit_json(**step.done(result, {"servers_after": result["servers"],
                                              "health_signals": result["signals"]}))
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
