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
    C(data.healthy=true).
  - With O(wait=true) it polls every O(interval) seconds until all is healthy, and fails after
    O(timeout) seconds with a short table of the servers that are not online and why.
  - Read-only; never reports changed.
author:
  - obtools developers (@obtools)
extends_documentation_fragment:
  - obtools.oms.metadb
  - obtools.oms.console
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
    type: int
    default: 600
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
polls:
  description: How many times the state was read.
  returned: always
  type: int
  sample: 3
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import console
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import oms_config
from ansible_collections.obtools.oms.plugins.module_utils import server_health


def run(module):
    params = module.params
    for name in ("timeout", "interval", "heartbeat_max_age"):
        if params[name] < (0 if name == "timeout" else 1):
            raise OmsError("%s must be positive, not %s" % (name, params[name]),
                           "Give a number of seconds")
    settings = metadb.settings_from_params(params)
    oms_config.register_no_log(module, settings)
    settings.require("cm_db", "cm_hb_db")
    client = None
    if params["console_url"]:
        if not console.HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"),
                             exception=str(console.REQUESTS_IMPORT_ERROR))
        console.warn_plain_http(module)
        client = console.ConsoleClient.from_params(params)

    reader = server_health.MetaDBHealthReader(
        lambda: metadb.connect(settings),
        settings.cm_db, settings.cm_hb_db,
        translate=lambda exc, doing: metadb.translate_error(exc, settings, doing=doing))
    reader.open()  # a wrong password or an unreachable MetaDB fails now, not after the timeout
    try:
        def check():
            return server_health.probe(reader, params["heartbeat_max_age"], client)
        if params["wait"]:
            report, elapsed, polls = server_health.wait_until_healthy(
                check, params["timeout"], params["interval"])
        else:
            report, elapsed, polls = check(), 0.0, 1
    finally:
        reader.close()

    result = dict(changed=False, servers=report["servers"], healthy=report["healthy"],
                  console_healthy=report["console_healthy"], problems=report["problems"],
                  elapsed=elapsed, polls=polls)
    if params["wait"] and not report["healthy"]:
        table = server_health.format_table(report)
        hint = ("Look at the container (docker logs; supervisorctl status inside it), its "
                "OMS_HOST_IP and config.yaml's cm_nodes, and /home/admin/logs/docker_init*.log")
        module.fail_json(
            msg="OMS servers are not all online after %s s (timeout %s s):\n%s\n%s"
                % (elapsed, params["timeout"], table, hint),
            hint=hint,
            table=table, **result)
    return result


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(console.console_argument_spec(url_required=False))
    argument_spec.update(
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=600),
        interval=dict(type="int", default=5),
        heartbeat_max_age=dict(type="int", default=60),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    metadb.check_libraries(module)
    try:
        module.exit_json(**run(module))
    except OmsError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
