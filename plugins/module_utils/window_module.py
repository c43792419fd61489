# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the two window modules (oms_upgrade_window, oms_rollback_window) share: the connection
options (the MetaDB, the Docker engine, the console) and running a window in the module."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils import console
from ansible_collections.obtools.oms.plugins.module_utils import docker_client
from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils import metadb
from ansible_collections.obtools.oms.plugins.module_utils import mysql_clients
from ansible_collections.obtools.oms.plugins.module_utils import oms_config
from ansible_collections.obtools.oms.plugins.module_utils import transaction
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError


def window_argument_spec():
    """The doc fragments metadb, docker, console (the console optional) and window."""
    spec = metadb.metadb_argument_spec()
    spec.update(docker_client.docker_argument_spec())
    spec.update(console.console_argument_spec(url_required=False))
    spec.update(
        dump_parallel=dict(type="bool", default=True),
        mysqldump_path=dict(type="path"),
        mysql_path=dict(type="path"),
        stop_timeout=dict(type="int", default=60),
        settle_seconds=dict(type="float", default=1),
        health_timeout=dict(type="int", default=960),
        health_interval=dict(type="int", default=5),
        heartbeat_max_age=dict(type="int", default=60),
        ha_enable_after=dict(type="bool"),
        refetch_margin_min=dict(type="int", default=30),
        ha_reload=dict(type="str", default=ha_reload.CHECK, choices=list(ha_reload.MODES)),
        ha_reload_wait=dict(type="int", default=30),
        ha_reload_logs=dict(type="str", default=ha_reload.DEFAULT_LOGS),
        dump_timeout=dict(type="int", default=7200),
        restore_timeout=dict(type="int", default=7200),
        run_id=dict(type="str"),
        plan_only=dict(type="bool", default=False),
    )
    return spec


def check_host(module):
    """Every library the window needs on the OMS host, reported at once."""
    metadb.check_libraries(module)
    docker_client.fail_without_sdk(module)


def run(module, window, compress, **refused):
    """Run the window (a module of module_utils with plan() and run(): upgrade_window,
    rollback_window) and exit the module with its result. An OmsError out of run() means nothing
    was changed: the module fails with the `refused` return values. With plan_only, only the
    plan: its steps and how long it may run (the role's async limit), nothing touched."""
    p = module.params
    if p["plan_only"]:
        plan = window.plan(p)
        module.exit_json(changed=False, limit=plan.limit(p), steps=plan.names())
    check_host(module)
    clients = mysql_clients.find_clients(module, ("mysqldump", "mysql"), compress)

    def settings():
        # read once the window knows it will run (config.yaml may be unreadable while a refusal
        # comes first)
        found = metadb.settings_from_params(p)
        oms_config.register_no_log(module, found)
        return found.require("rm_db", "cm_db", "cm_hb_db")

    try:
        client = None
        if p["console_url"]:
            console.warn_plain_http(module)
            client = console.ConsoleClient.from_params(p)
        docker = docker_client.DockerClient(p["docker_host"], p["docker_timeout"])
        result = transaction.run_window(window, p, settings, docker, client, clients, module.warn)
    except OmsError as exc:
        exc.fail(module, **refused)
    if result.pop("failed"):
        module.fail_json(msg=result["error"] or result["outcome"], **result)
    module.exit_json(**result)
