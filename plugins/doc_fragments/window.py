# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The options the two window modules share (module_utils/window_module.py's argument spec)."""

    DOCUMENTATION = r'''
options:
  dump_timeout:
    description:
      - Seconds the dump of the three databases may take (the upgrade's step 2.3, the rollback's safety
        dump). Once they pass, the dump's clients are killed and the step fails; before the commit point
        the window then rolls back.
    type: int
    version_added: 0.2.0
    default: 7200
  restore_timeout:
    description:
      - Seconds the restore of the three databases may take (and, in the rollback, their load ahead of the
        stop). Once they pass, the load's clients are killed and the step fails.
    type: int
    version_added: 0.2.0
    default: 7200
  run_id:
    description:
      - The run (one playbook run, from any controller) that starts the window, recorded as its owner's
        run. The upgrade's window also requires the preflight of this run.
    type: str
    version_added: 0.2.0
  plan_only:
    description:
      - Touch nothing; return the window's steps and RV(limit), the longest it may run by its steps'
        timeouts (the role's C(async) limit).
    type: bool
    version_added: 0.2.0
    default: false
  dump_parallel:
    description: Dump and restore the three databases side by side.
    type: bool
    default: true
  mysqldump_path:
    description: The mysqldump client; found on the PATH when omitted.
    type: path
  mysql_path:
    description: The mysql client (for a restore); found on the PATH when omitted.
    type: path
  stop_timeout:
    description: Seconds C(docker stop) waits before it kills a container.
    type: int
    default: 60
  settle_seconds:
    description: Seconds a started container must stay up to count as started.
    type: float
    default: 1
  health_timeout:
    description: Seconds to wait until every server is Online (step 7, 9.5).
    type: int
    default: 960
  health_interval:
    description: Seconds between two reads of the servers' state.
    type: int
    default: 5
  heartbeat_max_age:
    description: A supervisor heartbeat older than this many seconds is stale.
    type: int
    default: 60
  ha_enable_after:
    description:
      - C(enable) in C(ha.config) after step 8 (9.6 in a rollback). When not given, as it was before
        step 1 (the journal's C(facts.ha_config_before), recorded by step 1), so a deployment that
        ran without HA ends without it.
      - The step writes back every field as it was before step 1; with HA on, step 8 sets
        C(perceiveStoreClientCheckpoint) true when C(enableStore) is true (the upgrade's
        O(obtools.oms.oms_upgrade_window#module:perceive_checkpoint)), and whenever the checkpoint
        cannot be used (always at 9.6) sets C(refetchStoreIntervalMin) to more than the minutes
        since T1 (O(refetch_margin_min) added), never lower than it was. With HA off, nothing else
        changes.
    type: bool
    version_added: 0.2.0
  refetch_margin_min:
    description: Minutes added to the downtime since T1 for C(refetchStoreIntervalMin).
    type: int
    default: 30
  ha_reload:
    description:
      - After step 8 (9.6) changed C(ha.config), whether to check that the OMS of the container
        that serves then (the new one, the old one after a rollback) took it (a C(ha.config
        reloaded:) line with the written values appended to O(ha_reload_logs) within
        O(ha_reload_wait) seconds; OMS documents no such sign). V(check) reports it, and a warning
        with the command to run when it saw none; V(restart) then runs C(supervisorctl restart
        oms_console) in that container, waits until every server is Online again
        (O(health_timeout)) and looks again; V(none) looks at nothing. See
        M(obtools.oms.oms_ha_config)'s O(obtools.oms.oms_ha_config#module:reload).
    type: str
    choices: [none, check, restart]
    default: check
    version_added: 0.2.0
  ha_reload_wait:
    description: Seconds to wait for the sign of O(ha_reload) (again after a restart).
    type: int
    default: 30
    version_added: 0.2.0
  ha_reload_logs:
    description: Where OMS would show the sign, inside the container (a shell pattern).
    type: str
    default: /home/admin/logs/*.log
    version_added: 0.2.0
'''
