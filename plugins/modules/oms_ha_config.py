#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oms_ha_config
short_description: Read and set OMS's ha.config system parameter in the MetaDB
version_added: 0.1.0
description:
  - Reads C(ha.config), the JSON value OMS keeps in the rm database's C(oms_normal_config) table
    (C(cfg_name='ha.config')), and optionally sets some of its fields, as steps 1, 8 and 9.6 of the
    OMS 4.2.0-CE upgrade procedure do in the console's System Parameters page.
  - No public OMS API reads or changes system parameters, so the module writes the row itself, in
    one transaction, and reads it back.
  - With O(settings), only the given fields change; every other field keeps its value, its place
    and its type. A field of the wrong type, an unknown field or a O(value) that is not a JSON
    object is refused and the row is left untouched.
  - With O(restore), the module writes back C(ha.config) as it was found before step 1, with only
    the procedure's own changes (step 8 or 9.6, O(restore_for)). C(enable) as it was, unless
    O(enable_after) says otherwise; with HA on, step 8 sets C(perceiveStoreClientCheckpoint)
    true where C(enableStore) is true, and C(refetchStoreIntervalMin) is computed from
    O(downtime_since) whenever the checkpoint cannot be used (always at step 9.6); with HA off,
    nothing else changes.
  - With O(reload), the module then looks for a sign that the running OMS took the new value, and
    with O(reload=restart) restarts C(oms_console) in O(container) when it finds none.
  - With neither O(settings), O(value), O(restore) nor O(downtime_since), the module only reads.
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.journal
  - obtools.oms.docker
options:
  settings:
    description:
      - Fields of C(ha.config) to set, for example C(enable), C(perceiveStoreClientCheckpoint),
        C(refetchStoreIntervalMin). Each must keep the type it has (booleans stay booleans,
        numbers stay whole numbers).
      - A field that the current value lacks is accepted only if it is one of the fields OMS
        documents.
    type: dict
  value:
    description:
      - The whole JSON object to write, for example the RV(previous_raw) of an earlier run to put
        things back as they were.
      - Mutually exclusive with O(settings).
    type: str
  downtime_since:
    description:
      - T1, the time the old container stopped (UTC ISO 8601, for example C(2024-05-01T10:00:00Z)).
      - When given, C(refetchStoreIntervalMin) is computed at write time as the minutes from T1 to
        O(downtime_until), rounded up, plus O(refetch_margin_min), as the procedure's step 8.6
        asks (a value greater than T2 - T1). The current value is never lowered.
      - Cannot be combined with C(refetchStoreIntervalMin) in O(settings), nor with O(value).
    type: str
  downtime_until:
    description:
      - T2, the end of the downtime (UTC ISO 8601). Defaults to the time of the write.
      - Give it (from the run's journal) to make a re-run compute the same value.
    type: str
  refetch_margin_min:
    description:
      - Minutes added to the downtime by O(downtime_since). OMS's upgrade FAQ adds 30 (60 minutes
        down give 90).
    type: int
    default: 30
  restore:
    description:
      - C(ha.config) as it was found before step 1 (the upgrade journal's C(facts.ha_config_before)),
        to write back with only the procedure's changes. Every field is written back as it was,
        then C(enable) as O(enable_after) says, and with HA on the changes of O(restore_for).
      - C(refetchStoreIntervalMin), when it is computed, needs O(downtime_since), except in check
        mode (the RV(notes) then say how it will be computed); it never goes below its value in
        O(restore).
      - Mutually exclusive with O(settings) and O(value).
    type: dict
    version_added: 0.2.0
  restore_for:
    description:
      - Which step O(restore) is. V(upgrade) is step 8, C(perceiveStoreClientCheckpoint) true when
        C(enableStore) is true (O(perceive_checkpoint)), otherwise C(refetchStoreIntervalMin)
        computed. V(rollback) is step 9.6, C(refetchStoreIntervalMin) computed, the checkpoint
        setting left as it was.
    type: str
    choices: [upgrade, rollback]
    default: upgrade
    version_added: 0.2.0
  enable_after:
    description:
      - C(enable) after O(restore). When not given, as it was in O(restore) (before step 1).
    type: bool
    version_added: 0.2.0
  perceive_checkpoint:
    description:
      - With O(restore_for=upgrade) and HA on, V(true) sets C(perceiveStoreClientCheckpoint) true
        when C(enableStore) is true (OMS documents that it works only then), and leaves it as it
        was otherwise; V(false) sets it false. Whenever the checkpoint cannot be used,
        C(refetchStoreIntervalMin) is computed from O(downtime_since).
    type: bool
    default: true
    version_added: 0.2.0
  reload:
    description:
      - After a write that changed C(ha.config), whether to check that the OMS running in
        O(container) took it. OMS documents neither a reload nor a sign of one; the module looks
        for a line C(ha.config reloaded:) with the written values appended to O(reload_logs) after
        the write, for up to O(reload_wait) seconds.
      - V(check) reports in RV(reload) whether it saw it (a warning, with the command to run,
        when it did not). V(restart) also runs C(supervisorctl restart oms_console) in
        O(container) when it did not, waits until every server is Online again (up to
        O(restart_timeout) seconds), and looks again. V(none) looks at nothing.
    type: str
    choices: [none, check, restart]
    default: none
    version_added: 0.2.0
  container:
    description:
      - The running OMS container whose console must take the new value. Required unless
        O(reload=none).
    type: str
    version_added: 0.2.0
  reload_wait:
    description: Seconds to wait for the sign after the write (and again after a restart).
    type: int
    default: 30
    version_added: 0.2.0
  reload_logs:
    description:
      - Where OMS would show the sign, inside O(container) (a shell pattern).
    type: str
    default: /home/admin/logs/*.log
    version_added: 0.2.0
  restart_timeout:
    description: Seconds to wait, after a restart, until every server is Online again.
    type: int
    default: 960
    version_added: 0.2.0
notes:
  - Whether a running OMS console notices the new value at once is not documented. The upgrade
    role writes HA off before the old container stops and HA on after the new one passed health.
  - Check mode reports the value that would be written; diff mode shows C(ha.config) before and
    after, fields in their order.
  - With O(journal_step), the module records when the step starts C(ha_config_before) and
    C(ha_config_before_raw), the value it found before its first write (a re-run after a crash
    never replaces them, so they stay what was there before step 1), and on success
    C(ha_was_enabled) (C(enable) before this write), C(ha_config_after), C(ha_written_at) (the
    time of the write), with O(downtime_since) C(downtime_minutes) and C(refetch_store_interval_min), with
    O(restore) C(ha_notes), and with O(reload) C(ha_reload).
  - The Docker options are used only with O(reload).
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
  diff_mode:
    description: Returns ha.config before and after, fields in their order.
    support: full
seealso:
  - module: obtools.oms.oms_metadb_backup
author:
  - obtools developers (@obtools)
'''

EXAMPLES = r'''
- name: Step 1 | Turn HA off, keep the old value for the rollback
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
    settings:
      enable: false
  register: oms_ha_off

- name: Step 8 | Turn HA on with perceiveStoreClientCheckpoint
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
    settings:
      enable: true
      perceiveStoreClientCheckpoint: true

- name: Step 8.6 | Turn HA on, refetchStoreIntervalMin > T2 - T1 from the journal
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
    settings:
      enable: true
    downtime_since: "{{ oms_journal.facts.t1 }}"
    downtime_until: "{{ oms_journal.facts.t2 }}"
    refetch_margin_min: 30

- name: Step 9.6 | ha.config as before step 1, refetchStoreIntervalMin > minutes since T1, console checked
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
    restore: "{{ oms_journal.facts.ha_config_before }}"
    restore_for: rollback
    downtime_since: "{{ oms_journal.facts.t1 }}"
    reload: restart
    container: oms_411

- name: Put ha.config back exactly as it was
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
    value: "{{ oms_ha_off.previous_raw }}"

- name: Read ha.config only
  obtools.oms.oms_ha_config:
    config_file: /data/config.yaml
  register: oms_ha
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
config:
  description: C(ha.config) after the run (in check mode, what would be written).
  returned: success
  type: dict
  sample: {"enable": false, "enableHost": false, "enableStore": true,
           "perceiveStoreClientCheckpoint": false, "refetchStoreIntervalMin": 30}
previous:
  description: C(ha.config) before the run.
  returned: success
  type: dict
  sample: {"enable": true, "enableHost": false, "enableStore": true,
           "perceiveStoreClientCheckpoint": false, "refetchStoreIntervalMin": 30}
raw:
  description: The C(cfg_value) string after the run (in check mode, what would be written).
  returned: success
  type: str
  sample: '{"enable":false,"enableHost":false,"enableStore":true}'
previous_raw:
  description: The C(cfg_value) string before the run, to give back as O(value) later.
  returned: success
  type: str
  sample: '{"enable":true,"enableHost":false,"enableStore":true}'
refetch_store_interval_min:
  description: The C(refetchStoreIntervalMin) worked out from the downtime.
  returned: when O(downtime_since) is given
  type: int
  sample: 90
downtime_minutes:
  description: Minutes from O(downtime_since) to O(downtime_until) (or the time of the write).
  returned: when O(downtime_since) is given
  type: float
  sample: 58.4
notes:
  description: With O(restore), why each field is what it is after the write, one sentence each.
  returned: when O(restore) is given
  type: list
  elements: str
  sample: ["Step 8: enable=true, as it was before step 1"]
plan:
  description: With O(restore), what was decided.
  returned: when O(restore) is given
  type: dict
  contains:
    enable: {description: C(enable) after the write., type: bool, returned: always}
    enable_before: {description: C(enable) in O(restore)., type: bool, returned: always}
    checkpoint: {description: Whether a Store restarts from the downstream's checkpoint., type: bool, returned: always}
    refetch: {description: Whether C(refetchStoreIntervalMin) is computed from the downtime., type: bool, returned: always}
  sample: {"enable": true, "enable_before": true, "checkpoint": true, "refetch": false}
changes:
  description: 'The fields whose value differs between RV(previous) and RV(config), as C(field: before -> after).'
  returned: success
  type: list
  elements: str
  sample: ["enable: false -> true"]
changes_from_restore:
  description: 'The fields whose value differs between O(restore) and RV(config), as C(field: before -> after).'
  returned: when O(restore) is given
  type: list
  elements: str
  sample: ["perceiveStoreClientCheckpoint: false -> true"]
reload:
  description: Whether the running OMS took the new value (O(reload)).
  returned: when O(reload) is not V(none) and a value was written, outside check mode
  type: dict
  contains:
    mode: {description: O(reload)., type: str, returned: always}
    outcome:
      description:
        - V(taken) (OMS showed it), V(not_taken) (no sign, or other values; see RV(reload.message)),
          V(restarted) (restarted, then shown), V(restarted_no_sign) (restarted and Online again, no sign
          either way), V(unchanged) (nothing new was written).
      type: str
      returned: always
    message: {description: What was seen and what to do., type: str, returned: always}
    sign: {description: The last C(ha.config reloaded) line seen., type: str, returned: always}
    restarted_at: {description: When C(oms_console) was restarted (UTC)., type: str, returned: always}
    command: {description: The command that makes OMS read it., type: str, returned: always}
  sample: {"mode": "check", "outcome": "taken", "message": "OMS took the new ha.config", "sign": null,
           "restarted_at": null, "command": "docker exec oms_420 supervisorctl restart oms_console"}
'''

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import (
    docker_client, ha_config, ha_reload, ha_restore, metadb, oms_config, server_health, step_journal)

REFETCH = "refetchStoreIntervalMin"


def pretty(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def write(module, settings, extra):
    """The write the options ask for: a restore (steps 8, 9.6), settings, a value, or a refetch."""
    p = module.params
    if p["restore"] is not None:
        return ha_restore.write(settings, p["restore"], p["restore_for"], p["enable_after"],
                                p["perceive_checkpoint"], p["downtime_since"], p["refetch_margin_min"],
                                check_mode=module.check_mode)
    compute = None
    if p["downtime_since"]:
        compute = ha_config.refetch_from_downtime(p["downtime_since"], p["downtime_until"],
                                                  p["refetch_margin_min"], extra)
    return ha_config.write_ha_config(settings, p["settings"], p["value"], check_mode=module.check_mode,
                                     compute=compute)


def reload_check(module, settings, watch, result, step):
    """Whether the running OMS took what was written (and a restart when reload=restart asks)."""
    p = module.params
    # a re-run after a crash between the write and this check wrote nothing new: look anyway
    if not result["changed"] and not step.resumed:
        return dict(mode=p["reload"], outcome=ha_reload.UNCHANGED, sign=None, restarted_at=None,
                    command=ha_reload.restart_command(p["container"]),
                    message="ha.config did not change: nothing new for OMS to take")

    def healthy(since):
        server_health.check_servers(settings, metadb.connect, metadb.translate_error, None, wait=True,
                                    timeout=p["restart_timeout"], started_after=since)
    outcome = ha_reload.ensure(watch.docker, p["container"], result["config"], watch, p["reload"],
                               p["reload_wait"], healthy=healthy)
    if outcome["outcome"] == ha_reload.NOT_TAKEN:
        module.warn(outcome["message"])
    return outcome


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(docker_client.docker_argument_spec())
    argument_spec.update(
        settings=dict(type="dict"),
        value=dict(type="str"),
        downtime_since=dict(type="str"),
        downtime_until=dict(type="str"),
        refetch_margin_min=dict(type="int", default=30),
        restore=dict(type="dict"),
        restore_for=dict(type="str", default="upgrade", choices=list(ha_restore.PURPOSES)),
        enable_after=dict(type="bool"),
        perceive_checkpoint=dict(type="bool", default=True),
        reload=dict(type="str", default="none", choices=list(ha_reload.MODES)),
        container=dict(type="str"),
        reload_wait=dict(type="int", default=30),
        reload_logs=dict(type="str", default=ha_reload.DEFAULT_LOGS),
        restart_timeout=dict(type="int", default=960),
    )
    argument_spec.update(step_journal.journal_argument_spec())
    required_by = {"downtime_until": "downtime_since"}
    required_by.update(step_journal.JOURNAL_REQUIRED_BY)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("settings", "value", "restore"), ("downtime_since", "value")],
        required_if=[("reload", "check", ("container",)), ("reload", "restart", ("container",))],
        required_by=required_by,
    )
    metadb.check_libraries(module)
    p = module.params
    watch = None
    if p["reload"] != ha_reload.NONE and not module.check_mode:
        docker_client.fail_without_sdk(module)
    extra = {}
    try:
        if p["downtime_since"] and REFETCH in (p["settings"] or {}):
            raise OmsError("settings.%s and downtime_since both set %s" % (REFETCH, REFETCH),
                           "Give one: the value itself or the downtime to compute it from")
        if p["downtime_until"] and p["restore"] is not None:
            raise OmsError("downtime_until is not used with restore (T2 is the time of the write)",
                           "Leave downtime_until out")
        settings = metadb.settings_from_params(p)
        oms_config.register_no_log(module, settings)
        if p["settings"] is None and p["value"] is None and p["restore"] is None and not p["downtime_since"]:
            raw, parsed = ha_config.read_ha_config(settings)
            module.exit_json(changed=False, config=parsed, previous=parsed, raw=raw, previous_raw=raw, changes=[])
        step = step_journal.StepJournal(module)
        if step.active and not step.started:
            # what was there before this step's first write: a re-run after a crash finds its own
            # write, and the journal keeps the first value (data given at start never replaces one)
            raw, parsed = ha_config.read_ha_config(settings)
            step.start(before={"ha_config_before": parsed, "ha_config_before_raw": raw})
        if p["reload"] != ha_reload.NONE and not module.check_mode:
            watch = ha_reload.LogWatch(docker_client.DockerClient(p["docker_host"], p["docker_timeout"]),
                                       p["container"], p["reload_logs"])
            watch.mark()  # only what OMS logs after the write counts
        written_at = ha_config.utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        result = write(module, settings, extra)
        result.setdefault("changes", ha_restore.changes(result["previous"], result["config"]))
        if watch is not None:
            result["reload"] = reload_check(module, settings, watch, result, step)
    except OmsError as e:
        e.fail(module)
    result.update(extra)
    if result["changed"] and module._diff:
        result["diff"] = {"before": pretty(result["previous"]), "after": pretty(result["config"]),
                          "before_header": "ha.config", "after_header": "ha.config"}
    data = {"ha_was_enabled": (result.get("previous") or {}).get("enable", False),
            "ha_config_after": result["config"], "ha_written_at": written_at}
    data.update(extra)
    for key, name in (("notes", "ha_notes"), ("reload", "ha_reload"),
                      ("downtime_minutes", "downtime_minutes"),
                      ("refetch_store_interval_min", "refetch_store_interval_min")):
        if key in result:
            data[name] = result[key]
    module.exit_json(**step.done(result, data))


if __name__ == "__main__":
    main()
