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
  - With neither O(settings), O(value) nor O(downtime_since), the module only reads.
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.journal
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
notes:
  - Whether a running OMS console notices the new value at once is not documented. The upgrade
    role writes HA off before the old container stops and HA on after the new one passed health.
  - Check mode reports the value that would be written; diff mode shows C(ha.config) before and
    after, fields in their order.
  - With O(journal_step), the module records in the step's journal data on success C(ha_was_enabled) (C(enable) before
    the write), C(ha_config_after), and with O(downtime_since) C(downtime_minutes) and
    C(refetch_store_interval_min).
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
'''

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import ha_config, metadb, oms_config, step_journal

REFETCH = "refetchStoreIntervalMin"


def pretty(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(
        settings=dict(type="dict"),
        value=dict(type="str"),
        downtime_since=dict(type="str"),
        downtime_until=dict(type="str"),
        refetch_margin_min=dict(type="int", default=30),
    )
    argument_spec.update(step_journal.journal_argument_spec())
    required_by = {"downtime_until": "downtime_since"}
    required_by.update(step_journal.JOURNAL_REQUIRED_BY)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("settings", "value"), ("downtime_since", "value")],
        required_by=required_by,
    )
    metadb.check_libraries(module)
    p = module.params
    extra = {}
    try:
        if p["downtime_since"] and REFETCH in (p["settings"] or {}):
            raise OmsError("settings.%s and downtime_since both set %s" % (REFETCH, REFETCH),
                           "Give one: the value itself or the downtime to compute it from")
        settings = metadb.settings_from_params(p)
        oms_config.register_no_log(module, settings)
        compute = None
        if p["downtime_since"]:
            compute = ha_config.refetch_from_downtime(p["downtime_since"], p["downtime_until"],
                                                      p["refetch_margin_min"], extra)

        if p["settings"] is None and p["value"] is None and compute is None:
            raw, parsed = ha_config.read_ha_config(settings)
            module.exit_json(changed=False, config=parsed, previous=parsed, raw=raw, previous_raw=raw)
        step = step_journal.StepJournal(module)
        step.start()
        result = ha_config.write_ha_config(settings, p["settings"], p["value"],
                                           check_mode=module.check_mode, compute=compute)
    except OmsError as e:
        e.fail(module)
    result.update(extra)
    if result["changed"] and module._diff:
        result["diff"] = {"before": pretty(result["previous"]), "after": pretty(result["config"]),
                          "before_header": "ha.config", "after_header": "ha.config"}
    data = {"ha_was_enabled": (result.get("previous") or {}).get("enable", False),
            "ha_config_after": result["config"]}
    data.update(extra)
    module.exit_json(**step.done(result, data))


if __name__ == "__main__":
    main()
