#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_rollback_window
short_description: Run the rollback (steps 9.1 to 9.6) as one transaction on the OMS host
version_added: 0.2.0
description:
  - Runs, in one process on the OMS host, a rollback of OMS from 4.2.0-CE to 4.1.1-CE. Step 9.1,
    HA off in C(ha.config), right before the stop. Step 9.2, C(docker stop) the new container
    (restart policy set to C(no) first, T3). Steps 9.3 and 9.4, for a committed upgrade, dump and
    verify C(rm), C(cm) and C(cm_hb) as 4.2.0-CE left them into O(safety_dump_dir); then swap in the
    tables loaded ahead, or drop, create and load the three databases, and prove each equal to its
    dump (only when the journal says the new container ran). Step 9.5, C(docker start) the old container with the
    restart policy it had before the upgrade, and wait until every server is Online by heartbeats
    written after that start. Step 9.6, C(ha.config) as the upgrade's step 1 found it, with only the
    procedure's change (with HA on, C(refetchStoreIntervalMin) greater than the minutes since T1),
    then whether OMS took it (O(ha_reload)).
  - Before step 9.1, while 4.2.0-CE still serves and only when the databases will be restored, every
    dump of the upgrade is checked against its manifest (a bad file fails the run with nothing
    stopped) and, with O(restore_ahead), loaded into its database beside the tables 4.2.0-CE uses,
    each table named C(_oms_staged_) and its name (C(rollback_stage)). Inside the window, once what
    4.2.0-CE wrote is dumped, the database's own tables are dropped and the loaded ones renamed into
    their place in one statement; every database is then proven equal to its dump by dumping it
    again, as after a load. A dump that cannot be loaded that way (views, triggers, named
    constraints, a table name over 52 characters) or a load that fails is warned about and loaded
    inside the window instead. It takes the time of a load off the downtime, and needs the MetaDB
    to hold the three databases twice meanwhile.
  - Steps 9.2 to 9.5 are the code of the rollback that M(obtools.oms.oms_upgrade_window) runs after
    a failure before the commit point, and step 9.6 the code of its step 8. Each step records itself
    in O(journal_path) (C(rollback_verify), C(rollback_stage), C(rollback_ha_off),
    C(rollback_stop_new), C(rollback_safety_dump), C(rollback_restore), C(rollback_start_old),
    C(rollback_health), C(rollback_ha_on)) and is skipped when the journal records it done, so a run cut off half-way
    is finished by the next one.
  - Run it as an C(async) task with C(poll=0) and follow its results file; the window then goes on
    to 4.1.1-CE serving when the controller is killed or its SSH connection is lost. Started while
    an earlier rollback window's process still runs, it attaches to it and reports its end
    (RV(attached)); started while the upgrade's window runs, it refuses.
  - Refuses without a journal of an upgrade that stopped the old container, and, for a committed
    upgrade, unless O(accept_data_loss) and O(safety_dump_dir) are given.
  - The C(obtools.oms.oms_rollback) role runs it and writes the report.
author:
  - obtools developers (@obtools)
options:
  journal_path:
    description:
      - The upgrade's journal on the OMS host (the C(obtools.oms.oms_upgrade) role writes it).
    type: path
    required: true
  old_container:
    description: The OMS 4.1.1-CE container to start again.
    type: str
    required: true
  new_container:
    description: The OMS 4.2.0-CE container to stop.
    type: str
    required: true
  accept_data_loss:
    description:
      - Roll back a committed upgrade (4.2.0-CE passed step 7 and has served since). What 4.2.0-CE
        wrote into the three databases since then is lost, once dumped into O(safety_dump_dir).
    type: bool
    default: false
  safety_dump_dir:
    description:
      - Where the three databases are dumped, as 4.2.0-CE left them, before a committed upgrade is
        rolled back (restore them from there with M(obtools.oms.oms_metadb_backup) C(state=restored)).
      - Required to roll back a committed upgrade.
    type: path
  restore_ahead:
    description:
      - Load the upgrade's dumps into the databases beside the tables of 4.2.0-CE before the stop,
        and swap them in inside the window (the downtime then holds no load). V(false) loads them
        after the stop, as the procedure's step 9.4 does.
    type: bool
    default: true
  metadb_free_bytes:
    description:
      - The MetaDB's free space, as the DBA reads it, checked before the dumps are loaded beside the
        serving tables (about 1.5 times their size is needed; less fails the run before the stop).
        Unset, it is read where the OMS user may (OceanBase's C(GV$OB_SERVERS)); where nothing can be
        read, the run warns and goes on.
    type: int
  reason:
    description: Why the rollback runs, recorded in the journal (C(rollback_reason)) for the report.
    type: str
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
    details: The window is the rollback itself; the role's check mode lists the steps it would run instead.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - Requires the docker SDK (7.1 or later) and PyMySQL on the OMS host, and the mysqldump and mysql
    clients.
  - The journal records C(rollback_reason) and C(rollback_ha_off_changed) (C(rollback_ha_off)), C(t3) and C(new_container_existed) (C(rollback_stop_new)),
    C(rollback_safety_dump_dir) and C(rollback_safety_manifest), C(rollback_verified_files),
    C(rollback_staged), C(rollback_not_staged), C(rollback_stage_seconds) and C(rollback_stage_error)
    (C(rollback_stage)), C(rollback_restored), C(rollback_unchanged), C(rollback_swapped),
    C(rollback_swap_seconds), C(rollback_restore_durations),
    C(rollback_content_digests) and C(rollback_metadb_engine), C(old_started_at) and
    C(rollback_servers), C(rollback_ha_config_after), C(rollback_ha_on_at), C(rollback_ha_notes),
    C(rollback_ha_changes) and C(rollback_ha_reload) (C(rollback_ha_on)); and C(window), the window's owner (pid, start time, boot id), kind, status,
    outcome and error.
seealso:
  - module: obtools.oms.oms_upgrade_window
  - module: obtools.oms.oms_ha_config
  - module: obtools.oms.oms_journal_info
'''

EXAMPLES = r'''
- name: Steps 9.2 to 9.5 | The rollback's downtime window, in one job on the OMS host
  obtools.oms.oms_rollback_window:
    journal_path: /data/oms_upgrade_backup/oms_upgrade_journal.json
    config_file: /data/config.yaml
    old_container: oms_411
    new_container: oms_420
  async: 7200
  poll: 0
  register: rollback_window

- name: The same for an upgrade that committed (what 4.2.0 wrote is dumped, then lost)
  obtools.oms.oms_rollback_window:
    journal_path: /data/oms_upgrade_backup/oms_upgrade_journal.json
    config_file: /data/config.yaml
    old_container: oms_411
    new_container: oms_420
    accept_data_loss: true
    safety_dump_dir: /data/oms_upgrade_backup/metadb-20240506T081500Z-4.2.0-before-rollback
  async: 7200
  poll: 0
  register: rollback_window
'''

RETURN = r'''
outcome:
  description:
    - How the window ended, V(rolled_back) (4.1.1-CE serves on the restored databases) or
      V(failed_down) (a step of 9.2 to 9.5 failed, OMS is down; RV(error) says which; run the
      rollback again), V(failed_serving) (step 9.6 failed; 4.1.1-CE serves, C(ha.config) is not as
      it was), V(failed_before_stop) (step 9.1 failed; nothing was stopped), or V(refused) (nothing
      was changed; RV(error) says why).
  returned: always
  type: str
  sample: rolled_back
error:
  description: What failed, when something did.
  returned: always
  type: str
  sample: null
attached:
  description: Whether this run waited for an earlier rollback window's process instead of starting one.
  returned: always
  type: bool
  sample: false
steps_done:
  description: The steps this run did (steps done by an earlier run are not repeated).
  returned: always
  type: list
  elements: str
  sample: [rollback_stop_new, rollback_verify, rollback_restore, rollback_start_old, rollback_health]
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
journal_errors:
  description: Journal writes that failed after their work was done (a full disk).
  returned: always
  type: list
  elements: str
  sample: []
t1:
  description: T1, when the upgrade stopped the old container (UTC).
  returned: always
  type: str
  sample: "2024-05-06T08:15:02.000Z"
t3:
  description: T3, when the rollback stopped the new container (UTC).
  returned: always
  type: str
  sample: "2024-05-06T09:02:11.000Z"
dump_dir:
  description: The upgrade's dumps, which the rollback restored.
  returned: always
  type: str
  sample: /data/oms_upgrade_backup/metadb-20240506T081500Z
safety_dump_dir:
  description: Where what 4.2.0-CE wrote was dumped (a committed upgrade only).
  returned: always
  type: str
  sample: null
restored:
  description: The databases dropped and loaded from the dumps.
  returned: always
  type: list
  elements: str
  sample: [rm, cm, cm_hb]
unchanged:
  description: The databases already equal to their dump, left alone.
  returned: always
  type: list
  elements: str
  sample: []
servers:
  description: The servers and their state once every one was Online.
  returned: always
  type: list
  elements: dict
  sample: [{ip: 10.0.0.5, status: ONLINE}]
results:
  description: What step 9.6 returned (C(rollback_ha_on)), as M(obtools.oms.oms_ha_config) would.
  returned: always
  type: dict
  sample: {rollback_ha_on: {changed: true, notes: [], reload: {outcome: taken}}}
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

from ansible_collections.obtools.oms.plugins.module_utils import rollback_window
from ansible_collections.obtools.oms.plugins.module_utils import window_module


def main():
    argument_spec = window_module.window_argument_spec()
    argument_spec.update(
        journal_path=dict(type="path", required=True),
        old_container=dict(type="str", required=True),
        new_container=dict(type="str", required=True),
        accept_data_loss=dict(type="bool", default=False),
        safety_dump_dir=dict(type="path"),
        reason=dict(type="str"),
        restore_ahead=dict(type="bool", default=True),
        metadb_free_bytes=dict(type="int"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=False)
    window_module.run(module, rollback_window, "none", outcome=rollback_window.REFUSED, steps_done=[])


if __name__ == "__main__":
    main()
