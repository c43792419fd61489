"""Every numeric and boolean tunable of both roles, given with -e (a string), works like the
inventory value: a real upgrade then rollback on the test bed with all of them on the command line.

The list is generated from the roles' argument specs (every int, float and bool option), so a
tunable added later is passed too. Values are the inventory's (or the default), typed as an
operator types them: "240", "0.5", "true"/"false". Before the roles cast them once
(<role>_opt in vars/main.yml), "-e oms_upgrade_health_timeout=240" failed at step 7 with
"can only concatenate str (not int) to str", after the old container had stopped.
"""
import json
import os
import sys

import yaml

from conftest import REPO, INSTANCE
from playbooks import journal, run_playbook, tail, write_inventory
from testbed_vars import inventory_vars

sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
from obtestbed.access import query  # noqa: E402  pylint: disable=wrong-import-position

# Playbook plumbing, not a tunable: the upgrade playbook's first play sets it to gate the fleet on
# preflight; -e would override that play's value (extra vars win) and turn the gate off.
NOT_PASSED = {"oms_upgrade_preflight_only"}


def typed_options(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    return {name: spec for name, spec in options.items() if spec.get("type") in ("int", "float", "bool")}


def as_typed(value):
    """What an operator types: true/false, 240, 0.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def string_extra_vars(role, description):
    known = inventory_vars(description)
    known["oms_metadb_port"] = description["metadb"]["port"]
    # unset means "as before step 1"; given, "false" must be false (the test turns HA on before)
    known["oms_ha_enable_after"] = False
    out = {}
    for name, spec in typed_options(role).items():
        if name in NOT_PASSED:
            continue
        value = known.get(name, spec.get("default"))
        assert value is not None, "no value for %s: give it one here" % name
        out[name] = as_typed(value)
    return out


def test_the_generated_list_covers_every_typed_tunable(testbed):
    d = testbed.describe(INSTANCE)
    for role in ("oms_upgrade", "oms_rollback"):
        passed = string_extra_vars(role, d)
        assert set(passed) | NOT_PASSED >= set(typed_options(role)), role
        assert all(isinstance(v, str) for v in passed.values())


def ha_on_before(d):
    """HA on before step 1, so that oms_ha_enable_after "false" is what keeps it off."""
    rm = d["metadb"]["rm_db"]
    raw = query(d, "SELECT cfg_value FROM oms_normal_config WHERE cfg_name = 'ha.config'", database=rm)[0][0]
    query(d, "UPDATE oms_normal_config SET cfg_value = %s WHERE cfg_name = 'ha.config'",
          (raw.replace('"enable":false', '"enable":true'),), database=rm)


def ha_enabled(d):
    raw = query(d, "SELECT cfg_value FROM oms_normal_config WHERE cfg_name = 'ha.config'",
                database=d["metadb"]["rm_db"])[0][0]
    return json.loads(raw)["enable"]


def test_upgrade_and_rollback_with_every_tunable_as_a_string(instance):
    inventory = write_inventory(instance)
    ha_on_before(instance)
    assert ha_enabled(instance) is True
    up_vars = string_extra_vars("oms_upgrade", instance)
    print("upgrade -e", " ".join("%s=%s" % kv for kv in sorted(up_vars.items())))
    up = run_playbook(inventory, "upgrade", up_vars)
    assert up.rc == 0, tail(up)
    steps = journal(instance)["steps"]
    assert steps["report"]["status"] == "done"
    # bools given as the string "false" must be false: HA stays off after this upgrade, though it was on
    assert steps["ha_on"]["data"]["ha_config_after"]["enable"] is False, steps["ha_on"]["data"]

    back_vars = string_extra_vars("oms_rollback", instance)
    back_vars["oms_rollback_accept_data_loss"] = "true"
    print("rollback -e", " ".join("%s=%s" % kv for kv in sorted(back_vars.items())))
    back = run_playbook(inventory, "rollback", back_vars, limit=INSTANCE)
    assert back.rc == 0, tail(back)
    assert journal(instance)["steps"]["rollback_report"]["status"] == "done"
    assert ha_enabled(instance) is False
    print("upgrade %.0f s, rollback %.0f s" % (up.seconds, back.seconds))
