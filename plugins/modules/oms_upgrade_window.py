#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_upgrade_window
short_description: Run the upgrade's downtime window (steps 2.1 to 8) as one transaction on the OMS host
version_added: 0.1.0
description:
  - Runs, in one process on the OMS host, the steps between the stop of the old OMS 4.1.1-CE
    container and HA on. C(docker stop) the old container (restart policy set to C(no) first, T1),
    delete the heartbeat rows written since the prune ahead, dump and verify C(rm), C(cm) and
    C(cm_hb), C(docker run) the 4.2.0-CE container like the old one with C(IS_UPGRADE=true),
    C(docker_init.sh), wait until every server is Online (the commit point), and write back
    C(ha.config) as it was before step 1 with the procedure's changes (T2), checking that OMS
    took it. Each step calls the same code as M(obtools.oms.oms_container_upgrade),
    M(obtools.oms.oms_metadb_backup), M(obtools.oms.oms_server_health) and
    M(obtools.oms.oms_ha_config), and records itself in O(journal_path) under the same step names
    (C(stop_old), C(heartbeat_prune), C(backup), C(run_new), C(init), C(health), C(ha_on)).
  - Run it as an C(async) task with C(poll=0) and follow its results file; the window then goes on
    when the controller is killed or its SSH connection is lost. Once the old container has begun
    to stop, the window ends in one of two states whatever happens to the controller, 4.2.0
    committed (it passed step 7), or, after a failure before that, rolled back on the host (steps
    9.2 to 9.5; the new container stopped with restart policy C(no), the verified dumps restored
    when 4.2.0 may have touched the databases, the old container started with its own restart
    policy and Online again). The rollback's steps are recorded under the names the
    C(obtools.oms.oms_rollback) role uses, so that role finishes with HA and the report.
  - Resumes from the journal, skipping the steps done. Started while an earlier window's process
    still runs, it attaches to it, waits for its end and reports that (RV(attached)).
  - Refuses to stop the old container unless, checked right before the stop by this process, this
    attempt's C(preflight) and C(ha_off) steps are recorded done, the preflight is of this run
    (O(run_id)) and not older than O(preflight_max_age), the last rehearsal passed when
    O(rehearsal_required), and no session of another user than OMS's own uses C(rm), C(cm) or
    C(cm_hb) (the dump inside the window would refuse it after the stop). No tag, C(--skip-tags) or
    C(--start-at-task) reaches the stop without them.
  - The steps are a plan of the collection's transaction engine (module_utils C(transaction)); the
    rollback after a failure before the commit point is the undo of every step that began, newest
    first, and includes C(ha.config) put back as step 1 found it (C(rollback_ha_on)), checked taken
    by OMS, as the rollback playbook does. The new container has restart policy C(no) until the
    commit point, then the old container's, so a reboot never starts a half-migrated 4.2.0.
  - A window whose own process died (killed, out of memory, a reboot) is finished by the next start
    of this module or of M(obtools.oms.oms_rollback_window), rolled back before the commit point,
    finished after it, saying that the process died (RV(previous_owner_died)).
  - To stop a running window by hand, create the file C(<journal_path>.stop); SIGHUP and SIGTERM
    are ignored (a lost SSH session may send them). Before the commit point it rolls back at the next step boundary; after it, it
    finishes. A stop file present before the window starts makes it refuse; remove it first.
author:
  - obtools developers (@obtools)
options:
  journal_path:
    description:
      - The upgrade's journal on the OMS host, shared with the C(obtools.oms.oms_rollback) role.
    type: path
    required: true
  old_container:
    description: The OMS 4.1.1-CE container to stop.
    type: str
    required: true
  new_container:
    description: The name of the 4.2.0-CE container to create.
    type: str
    required: true
  image:
    description: The 4.2.0-CE image reference, for example C(oceanbase/oms:feature_4.2.0-ce).
    type: str
    required: true
  image_archive:
    description:
      - The image tarball on the OMS host; loaded again at step 4 only when the image is absent or
        is not O(image_id) (it was loaded before the stop, step 3).
    type: path
  image_id:
    description: The image id step 3 loaded.
    type: str
  mounts:
    description:
      - The three data mounts the inventory expects (C(logs), C(store), C(run)); compared with the
        old container's before the new one is created. Read from the old container when omitted.
    type: dict
  ssl_certificate:
    description: The SSL certificate on the host, mounted at C(/etc/pki/nginx/oms_server.crt).
    type: path
  ssl_key:
    description: The SSL key on the host, mounted at C(/etc/pki/nginx/oms_server.key).
    type: path
  oms_host_ip:
    description: C(OMS_HOST_IP) for the new container; the old container's when omitted.
    type: str
  dump_dir:
    description: Where the dumps of step 2.3 go (a directory of this attempt).
    type: path
    required: true
  compress:
    description: Compression of the dumps.
    type: str
    choices: [none, gzip, zstd]
    default: none
  prune_batch_size:
    description: Rows in the first heartbeat delete batch (step 2.2).
    type: int
    default: 10000
  prune_batch_seconds:
    description: Each later batch is sized to take about this long.
    type: float
    default: 0.2
  prune_from_id:
    description:
      - Every heartbeat row below this id is gone already (the prune ahead's C(max_id)); the scan
        starts there. The journal's C(heartbeat_prune_ahead) step is used when omitted.
    type: int
  load_timeout:
    description: Seconds a C(docker load) at step 4 may take.
    type: int
    default: 1800
  init_timeout:
    description: Seconds C(docker_init.sh) may run.
    type: int
    default: 1800
  init_ready_timeout:
    description: Seconds to wait for the new container's supervisord before C(docker_init.sh).
    type: int
    default: 600
  init_retry_interval:
    description: Seconds between two runs of C(docker_init.sh) that found the container still starting.
    type: int
    default: 10
  perceive_checkpoint:
    description:
      - V(true) sets C(perceiveStoreClientCheckpoint) true at step 8 where C(enableStore) allows it
        (and leaves it as it was where it does not); V(false) sets it false. See O(ha_enable_after).
    type: bool
    default: true
    version_added: 0.2.0
  auto_rollback:
    description:
      - Roll back on the host (steps 9.2 to 9.5) when a step fails before the commit point.
      - With V(false) a failure after the stop leaves OMS down, and the result says what to do.
    type: bool
    default: true
  preflight_max_age:
    description: Seconds the preflight of this run may be old when the window stops the old container.
    type: int
    version_added: 0.2.0
    default: 14400
  rehearsal_journal_path:
    description: The rehearsal's journal (M(obtools.oms.oms_rehearsal)), read for its verdict before the stop.
    type: path
    version_added: 0.2.0
  rehearsal_required:
    description:
      - Refuse to stop the old container when the last rehearsal recorded in O(rehearsal_journal_path)
        failed or is older than O(rehearsal_max_age_hours) (none recorded refuses nothing).
    type: bool
    version_added: 0.2.0
    default: false
  rehearsal_max_age_hours:
    description: The age in hours past which a rehearsal no longer lets the window through.
    type: float
    version_added: 0.2.0
    default: 72
  stop_after:
    description:
      - For tests and debugging only, end the window after this step, leaving OMS as that step
        left it (down after C(stop_old)). A later run resumes at the next step.
    type: str
    choices: [stop_old, heartbeat_prune, backup, run_new, init, health, ha_on]
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.window
  - obtools.oms.metadb
  - obtools.oms.docker
  - obtools.oms.console
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: none
    details: The window is the upgrade itself; the role's check mode plans it with the step modules instead.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - Requires the docker SDK (7.1 or later) and PyMySQL on the OMS host, and the mysqldump and mysql
    clients.
  - The journal records each step's data as the step modules do (their notes list the keys), and
    C(window), the window's owner (pid, start time, boot id), status, outcome and error.
seealso:
  - module: obtools.oms.oms_container_upgrade
  - module: obtools.oms.oms_metadb_backup
  - module: obtools.oms.oms_server_health
  - module: obtools.oms.oms_ha_config
  - module: obtools.oms.oms_journal_info
'''

EXAMPLES = r'''
- name: Steps 2.1 to 8 | The downtime window, in one job on the OMS host
  obtools.oms.oms_upgrade_window:
    journal_path: /data/oms_upgrade_backup/oms_upgrade_journal.json
    config_file: /data/config.yaml
    old_container: oms_411
    new_container: oms_420
    image: oceanbase/oms:feature_4.2.0-ce
    image_archive: /data/oms_4.2.0.tar.gz
    dump_dir: /data/oms_upgrade_backup/metadb-20240506T081500Z
    ha_reload: restart
    console_url: http://127.0.0.1:8089
    console_user: admin
    console_password: "{{ vault_oms_console_password }}"
  async: 7200
  poll: 0
  register: window

- name: Stop it by hand, before the commit point (it rolls back)
  ansible.builtin.file:
    path: /data/oms_upgrade_backup/oms_upgrade_journal.json.stop
    state: touch
    mode: "0600"
'''

RETURN = r'''
outcome:
  description:
    - How the window ended. V(committed) (4.2.0-CE serves, HA as before step 1 unless
      O(ha_enable_after) says otherwise), V(stopped_after) (O(stop_after)), V(rolled_back) (a
      step failed before the commit point; 4.1.1-CE serves again on the restored databases),
      V(failed_before_stop) (nothing changed), V(failed_committed) (4.2.0-CE serves, a step after
      the commit point failed), V(failed_down) (the old container is stopped and OMS is
      down, because the rollback failed, or O(auto_rollback=false)).
  returned: always
  type: str
  sample: committed
committed:
  description: Whether 4.2.0-CE passed step 7; from then on nothing is rolled back automatically.
  returned: always
  type: bool
  sample: true
attached:
  description: Whether this run found the window already running and waited for it.
  returned: always
  type: bool
  sample: false
error:
  description: What failed, or V(null).
  returned: always
  type: str
  sample: null
steps_done:
  description: The steps this run did (steps done by an earlier run are not repeated).
  returned: always
  type: list
  elements: str
  sample: [stop_old, heartbeat_prune, backup, run_new, init, health, ha_on]
results:
  description: What each step of RV(steps_done) returned, as the step module would.
  returned: always
  type: dict
  sample: {stop_old: {stopped_at: "2024-05-06T08:15:02.000Z"}}
limit:
  description: With O(plan_only), the longest the window may run by its steps' timeouts, in seconds.
  returned: when O(plan_only)
  type: int
  sample: 23400
steps:
  description: With O(plan_only), the window's steps in the order they run.
  returned: when O(plan_only)
  type: list
  elements: str
  sample: [stop_old, heartbeat_prune, backup]
previous_owner_died:
  description: Whether this run finished a window whose own process had died.
  returned: always
  type: bool
  sample: false
ha_restored:
  description: Whether the window's own rollback put C(ha.config) back as step 1 found it (C(rollback_ha_on) done).
  returned: always
  type: bool
  sample: false
journal_errors:
  description: Journal writes that failed after their work was done (a full disk).
  returned: always
  type: list
  elements: str
  sample: []
t1:
  description: T1, when the old container stopped (UTC).
  returned: always
  type: str
  sample: "2024-05-06T08:15:02.000Z"
dump_dir:
  description: Where the dumps are.
  returned: always
  type: str
  sample: /data/oms_upgrade_backup/metadb-20240506T081500Z
old_container:
  description: O(old_container).
  returned: always
  type: str
  sample: oms_411
new_container:
  description: O(new_container).
  returned: always
  type: str
  sample: oms_420
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils import upgrade_window
from ansible_collections.obtools.oms.plugins.module_utils import window_module


def main():
    argument_spec = window_module.window_argument_spec()
    argument_spec.update(
        journal_path=dict(type="path", required=True),
        old_container=dict(type="str", required=True),
        new_container=dict(type="str", required=True),
        image=dict(type="str", required=True),
        image_archive=dict(type="path"),
        image_id=dict(type="str"),
        mounts=dict(type="dict"),
        ssl_certificate=dict(type="path"),
        ssl_key=dict(type="path"),
        oms_host_ip=dict(type="str"),
        dump_dir=dict(type="path", required=True),
        compress=dict(type="str", default="none", choices=["none", "gzip", "zstd"]),
        prune_batch_size=dict(type="int", default=10000),
        prune_batch_seconds=dict(type="float", default=0.2),
        prune_from_id=dict(type="int"),
        load_timeout=dict(type="int", default=1800),
        init_timeout=dict(type="int", default=1800),
        init_ready_timeout=dict(type="int", default=600),
        init_retry_interval=dict(type="int", default=10),
        perceive_checkpoint=dict(type="bool", default=True),
        auto_rollback=dict(type="bool", default=True),
        stop_after=dict(type="str", choices=list(upgrade_window.STEPS)),
        preflight_max_age=dict(type="int", default=14400),
        rehearsal_journal_path=dict(type="path"),
        rehearsal_required=dict(type="bool", default=False),
        rehearsal_max_age_hours=dict(type="float", default=72),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=False,
                           required_together=[["ssl_certificate", "ssl_key"]])
    if module.params["prune_batch_size"] < 1:
        module.fail_json(msg="prune_batch_size must be at least 1. Give a positive oms_upgrade_prune_batch_size "
                             "(prune_batch_size)")
    window_module.run(module, upgrade_window, module.params["compress"],
                      outcome=upgrade_window.FAILED_BEFORE_STOP, committed=False)


if __name__ == "__main__":
    main()
