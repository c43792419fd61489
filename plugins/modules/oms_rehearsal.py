#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: oms_rehearsal
short_description: Rehearse 4.2.0's docker_init.sh on an isolated copy of the MetaDB while OMS serves
description:
  - Copies the three OMS databases (rm, cm, cm_hb) into scratch databases C(obrh_<name>) on the same
    MetaDB from a C(mysqldump --single-transaction) taken while OMS runs, starts a container of the
    4.2.0 image as the upgrade's step 4 would (the old container's settings, C(IS_UPGRADE=true)) on a
    copy of C(config.yaml) that points at the scratch databases, runs C(/root/docker_init.sh) in it
    with the same readiness probe and success checks as steps 5-6, waits for its console to report
    healthy, reads what the migration changed, and removes everything it created.
  - "Isolation: the rehearsing container has no network interface but loopback. Its only way out is
    a relay on 127.0.0.1 (a second container of the same image, network C(none)) to a Unix socket,
    relayed by a third container on the host network to the MetaDB's address. It reaches no project
    source or target, no console peer; and when the login may create users, it logs in as a user
    granted only the scratch databases, so the production databases refuse it."
  - Everything created is recorded in the journal (step C(rehearsal)) before it is created, and removed
    in a C(finally); a run after a killed controller removes what the journal lists first.
  - The result (passed or failed, durations, docker_init.sh's output tail, the predicted window) is
    recorded in the journal, where the upgrade role reads it before the stop
    (C(oms_upgrade_rehearsal_required)).
  - Without O(config_file), the MetaDB settings come from the config.yaml the old container mounts
    (the copy the rehearsal mounts is made from the same file).
  - In check mode nothing is created; the module returns the last recorded rehearsal and whether it is
    good enough for the window (passed, not older than O(max_age_hours)).
  - "On another Docker host that reaches the MetaDB (the role's C(oms_rehearsal_host)): O(state=exported)
    on the OMS host writes what the rehearsal reads of the serving deployment (the old container's
    and its image's inspect data, config.yaml, the regular files of the run directory) into
    O(source_bundle); the role copies it to the other host, where O(state=rehearsed) with
    O(source_bundle) and O(rehearsal_host) reads it (and removes it at once: it holds the MetaDB
    password) and rehearses there. The journal given there is that host's: what a killed run left is
    removed there by the next run. The role copies the outcome (RV(record)) into the OMS host's
    record, which the upgrade reads."
version_added: 0.1.0
author:
  - obtools developers (@obtools)
options:
  state:
    description:
      - C(rehearsed) runs a rehearsal; C(absent) only removes what an earlier one left.
      - C(exported), on the OMS host, writes O(source_bundle) for a rehearsal on another Docker host
        and changes nothing else.
    type: str
    choices: [rehearsed, absent, exported]
    default: rehearsed
  source_container:
    description:
      - The serving 4.1.1 container whose settings the rehearsal copies (never touched). On another
        host, its name only names the rehearsal's containers and directory there.
    type: str
    required: true
  image:
    description:
      - The 4.2.0 image (loaded already, as the upgrade's step 3 does before the stop).
      - Required with O(state=rehearsed).
    type: str
  source_bundle:
    description:
      - With O(state=exported), where to write the bundle on the OMS host (mode 0600, written whole or
        not at all).
      - With O(state=rehearsed), the bundle copied to this host from the OMS host; the rehearsal reads
        the serving deployment from it instead of this host's engine and files (O(config_file) is
        then not read), and removes it once read.
    type: path
    version_added: 0.2.0
  rehearsal_host:
    description:
      - The inventory name of this host when it is not the OMS host (the role's C(oms_rehearsal_host)),
        with O(source_bundle). It is recorded with the outcome, and named in what the rehearsal says
        (the free memory, a missing image tarball, a mount of the OMS host's that this host lacks,
        which is left out with a warning).
    type: str
    version_added: 0.2.0
  image_archive:
    description:
      - The tarball of O(image) (docker save), loaded when the image is not present (as the upgrade's
        step 3 would; days ahead of the upgrade it may not be loaded yet).
      - On another host (O(rehearsal_host)) it is read there; it is not copied from the OMS host.
    type: path
  load_timeout:
    description: Seconds the load of O(image_archive) may take.
    type: int
    default: 1800
  journal_path:
    description:
      - The deployment's journal; the rehearsal's record and leftovers go there. On another host
        (O(rehearsal_host)), a journal on that host.
      - Required with O(state=rehearsed) and O(state=absent).
    type: path
  work_dir:
    description:
      - A directory on the Docker host for the dumps, the copy of config.yaml (mode 0600) and the
        scratch logs, store and run directories (C(obrh_<container>) under it). It needs room for one
        uncompressed dump of the three databases. Created (mode 0700) when missing.
      - Required with O(state=rehearsed).
    type: path
  admin_login_user:
    description:
      - The MetaDB login that creates and drops the scratch databases and the limited user. Default
        the deployment's login (O(login_user) or config.yaml's); it needs CREATE and DROP on
        C(obrh_%) databases, and CREATE USER and GRANT OPTION for the limited user.
    type: str
  admin_login_password:
    description: Password of O(admin_login_user).
    type: str
  memory:
    description:
      - Memory limit of the rehearsing container (Docker syntax). The module refuses when the host it
        runs on (the rehearsal host) has less available (MemAvailable). 4g is what the simulator and a small OMS need to boot and
        migrate; a real OMS with many projects may need more, as its serving container shows.
    type: str
    default: 4g
  cpus:
    description:
      - CPU limit of the rehearsing container. One core keeps the serving OMS responsive on a small
        host; the boot and docker_init.sh measured under it are then an upper bound.
    type: float
    default: 1.0
  settle_seconds:
    description: Seconds the started container must stay up before it counts as started.
    type: float
    default: 1
  init_timeout:
    description: Seconds docker_init.sh may run.
    type: int
    default: 1800
  init_ready_timeout:
    description: Seconds to wait for supervisorctl to answer before docker_init.sh runs.
    type: int
    default: 600
  init_retry_interval:
    description: Seconds between docker_init.sh runs while it finds the container starting.
    type: int
    default: 10
  health_timeout:
    description: Seconds to wait after docker_init.sh for the console's /oms/health to say healthy.
    type: int
    default: 600
  stop_seconds:
    description: The estimate of the old container's stop in the predicted window (not measured).
    type: float
    default: 10
  prune_seconds:
    description: The estimate of the in-window heartbeat prune in the predicted window.
    type: float
    default: 1
  max_age_hours:
    description: A rehearsal older than this is not good enough for the window (RV(ready)).
    type: float
    default: 72
  mysqldump_path:
    description: mysqldump on the host (default from PATH).
    type: path
  mysql_path:
    description: mysql on the host (default from PATH).
    type: path
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.docker
attributes:
  check_mode:
    description: Reads the last rehearsal's record, changes nothing (O(state=exported) writes nothing either).
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - A simulator stands in for OMS in the collection's own tests (they are in its repository, not in
    the built collection); what real OMS does inside the rehearsal's isolation beyond docker_init.sh
    is not proven.
"""

EXAMPLES = r"""
- name: Rehearse the migration days before the window
  obtools.oms.oms_rehearsal:
    config_file: /data/oms/config.yaml
    source_container: oms_411
    image: reg.example/oceanbase/oms:feature_4.2.0-ce
    journal_path: /data/oms/backup/oms_upgrade_journal.json
    work_dir: /data/oms/backup
  register: rehearsal

- name: Export the serving deployment for a rehearsal on another host (on the OMS host)
  obtools.oms.oms_rehearsal:
    state: exported
    source_container: oms_411
    source_bundle: /data/oms/backup/.oms_rehearsal_export.tar.gz

- name: Rehearse on that host, with the bundle copied there
  obtools.oms.oms_rehearsal:
    source_container: oms_411
    source_bundle: /var/tmp/oms_rehearsal/oms1.tar.gz
    rehearsal_host: rehearsal-box
    image: reg.example/oceanbase/oms:feature_4.2.0-ce
    image_archive: /data/packages/oms_4.2.0-ce.tar.gz
    journal_path: /var/tmp/oms_rehearsal/oms_rehearsal_journal.oms1.json
    work_dir: /var/tmp/oms_rehearsal
  delegate_to: rehearsal-box

- name: Read the last rehearsal (changes nothing)
  obtools.oms.oms_rehearsal:
    config_file: /data/oms/config.yaml
    source_container: oms_411
    image: reg.example/oceanbase/oms:feature_4.2.0-ce
    journal_path: /data/oms/backup/oms_upgrade_journal.json
    work_dir: /data/oms/backup
  check_mode: true
"""

RETURN = r"""
outcome:
  description: passed or failed (C(none) in check mode without a recorded rehearsal).
  returned: always
  type: str
summary:
  description: The sentence the plan and the report show (passed in X s, predicted window; or why it failed).
  returned: always
  type: str
duration:
  description: Seconds the rehearsal took, clean-up included.
  returned: when a rehearsal ran
  type: float
predicted_window:
  description: The predicted downtime window, total and parts (stop, prune, dump, boot, init, health), seconds.
  returned: when a rehearsal ran or is recorded
  type: dict
measured:
  description: What the rehearsal measured (dump_seconds, dump_bytes, load_seconds, boot_seconds, init_seconds, health_seconds).
  returned: when a rehearsal ran
  type: dict
init_output_tail:
  description: The last lines docker_init.sh printed.
  returned: when a rehearsal ran
  type: list
  elements: str
changes:
  description: Per database role, the tables the migration created, altered or dropped, and rows of the version tables before and after.
  returned: when the rehearsal passed
  type: dict
user_limited:
  description: Whether the rehearsing OMS logged in as a user granted only the scratch databases.
  returned: when a rehearsal got that far
  type: bool
removed:
  description: What the rehearsal removed at its end (containers, databases, user, workdir).
  returned: when a rehearsal ran
  type: dict
removed_before:
  description: What an earlier rehearsal had left and this run removed first.
  returned: when a rehearsal ran, and with state=absent
  type: dict
left_behind:
  description: True when something could not be removed (the next run removes it).
  returned: when a rehearsal ran
  type: bool
ready:
  description: Whether the recorded rehearsal lets the window stop OMS (passed and not older than max_age_hours).
  returned: always
  type: bool
ready_reason:
  description: Why RV(ready) is what it is.
  returned: always
  type: str
names:
  description: The scratch names (containers, databases, user, workdir_name).
  returned: when a rehearsal ran
  type: dict
error:
  description: Why the rehearsal failed.
  returned: when it failed
  type: str
hint:
  description: What to do about the failure.
  returned: when it failed
  type: str
init_rc:
  description: docker_init.sh's exit status.
  returned: when docker_init.sh succeeded
  type: int
image_loaded:
  description: Whether the rehearsal loaded O(image) from O(image_archive) first.
  returned: when a rehearsal ran
  type: bool
lock_waited:
  description: Seconds this run waited for a rehearsal of the same deployment still running (one that outlived its controller).
  returned: when a rehearsal ran
  type: float
container_spec:
  description: How the rehearsing container ran (network_mode, binds, mem_limit, cpus).
  returned: when it was created
  type: dict
rehearsal_host:
  description: The host the rehearsal ran on (O(rehearsal_host)); null on the OMS host.
  returned: when a rehearsal ran
  type: str
record:
  description:
    - The rehearsal's record as the journal holds it (outcome, summary, durations, predicted window,
      leftovers, host); the role copies it to the OMS host's record when the rehearsal ran elsewhere.
  returned: when a rehearsal ran
  type: dict
bundle:
  description: The bundle written (path, bytes, run_files).
  returned: with state=exported, when not in check mode
  type: dict
  sample: {path: /data/oms/backup/.oms_rehearsal_export.tar.gz, bytes: 20480, run_files: 12}
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import docker_client, metadb, mysql_clients, oms_config, rehearsal
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_sandbox, rehearsal_verdict
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_source
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import describe


def recorded(path, max_age_hours):
    current = journal_file.load(path) or {}
    record = (current.get("steps") or {}).get(rehearsal_verdict.STEP) or {}
    ok, why = rehearsal_verdict.verdict(record, journal_file.utc_now(), max_age_hours)
    data = record.get("data") or {}
    return dict(changed=False, ready=ok, ready_reason=why,
                outcome=data.get("rehearsal_outcome") or "none",
                summary=data.get("rehearsal_summary") or "no rehearsal recorded",
                predicted_window=data.get("rehearsal_predicted_window"))


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(docker_client.docker_argument_spec())
    argument_spec.update(
        state=dict(type="str", default="rehearsed", choices=["rehearsed", "absent", "exported"]),
        source_container=dict(type="str", required=True),
        image=dict(type="str"),
        source_bundle=dict(type="path"),
        rehearsal_host=dict(type="str"),
        image_archive=dict(type="path"),
        load_timeout=dict(type="int", default=1800),
        journal_path=dict(type="path"),
        work_dir=dict(type="path"),
        admin_login_user=dict(type="str"),
        admin_login_password=dict(type="str", no_log=True),
        memory=dict(type="str", default=rehearsal_sandbox.DEFAULT_MEMORY),
        cpus=dict(type="float", default=rehearsal_sandbox.DEFAULT_CPUS),
        settle_seconds=dict(type="float", default=1),
        init_timeout=dict(type="int", default=1800),
        init_ready_timeout=dict(type="int", default=600),
        init_retry_interval=dict(type="int", default=10),
        health_timeout=dict(type="int", default=600),
        stop_seconds=dict(type="float", default=rehearsal_verdict.DEFAULT_STOP_SECONDS),
        prune_seconds=dict(type="float", default=rehearsal_verdict.DEFAULT_PRUNE_SECONDS),
        max_age_hours=dict(type="float", default=rehearsal_verdict.DEFAULT_MAX_AGE_HOURS),
        mysqldump_path=dict(type="path"),
        mysql_path=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[["admin_login_user", "admin_login_password"]],
                           required_if=[("state", "rehearsed", ["image", "journal_path", "work_dir"]),
                                        ("state", "absent", ["journal_path"]),
                                        ("state", "exported", ["source_bundle"])],
                           required_by={"rehearsal_host": "source_bundle"})
    p = module.params
    if module.check_mode:
        if p["state"] == "exported":
            module.exit_json(changed=True)
        module.exit_json(**recorded(p["journal_path"], p["max_age_hours"]))
    if p["state"] != "exported":
        metadb.check_libraries(module)
    docker_client.fail_without_sdk(module)
    origin = None
    try:
        rehearsal_sandbox.parse_memory(p["memory"])
        client = docker_client.DockerClient(p["docker_host"], p["docker_timeout"])
        if p["state"] == "exported":
            source = rehearsal_source.local(client, p["source_container"], p["config_file"])
            module.exit_json(changed=True, bundle=rehearsal_source.export(source, p["source_bundle"]))
        config_values = None
        if p["source_bundle"] and p["state"] == "rehearsed":
            # the serving deployment as the OMS host exported it; its config_file is not here
            origin = rehearsal_source.read_bundle(p["source_bundle"])
            p["config_file"] = origin.config_label
            config_values = oms_config.parse_oms_config(origin.config_text, origin.config_label)
        elif not p["config_file"]:
            # the config.yaml the old container mounts, as the upgrade reads it
            old = client.inspect_container(p["source_container"])
            if old is not None:
                p["config_file"] = describe(old)["mounts"].get("config")
        settings = metadb.settings_from_params(p, config_values)
        oms_config.register_no_log(module, settings)
        settings.require("rm_db", "cm_db", "cm_hb_db")
        admin = copy.copy(settings)
        if p["admin_login_user"]:
            admin.user, admin.password = p["admin_login_user"], p["admin_login_password"]
        if p["state"] == "absent":
            removed = rehearsal.remove_everything(client, admin, rehearsal_verdict.leftovers(p["journal_path"]),
                                                  p["source_container"], module.warn)
            changed = bool(removed["containers"] or removed["databases"] or removed["user"]
                           or removed["workdir"])
            result = recorded(p["journal_path"], p["max_age_hours"])
            result.update(changed=changed, removed_before=removed)
            module.exit_json(**result)
        clients = mysql_clients.find_clients(module, ("mysqldump", "mysql"))
        result = rehearsal.Rehearsal(p, settings, admin, client, clients, module.warn, origin).run()
    except OmsError as exc:
        exc.fail(module, outcome="failed")
    result.update(recorded(p["journal_path"], p["max_age_hours"]))
    result["changed"] = True
    if result["outcome"] != "passed":
        module.fail_json(msg=result["summary"], **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
