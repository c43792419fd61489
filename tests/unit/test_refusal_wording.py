"""Every refusal speaks the inventory's words (issue 31, item 5).

A user sets role variables (roles/*/meta/argument_specs.yml), not module options. The roles'
fail and assert messages must each name a documented role variable or an inventory fact; a
module's message that names an option the roles set from a role variable must name that variable
beside it ("point oms_image_archive (image_archive) at ..."), since users also run the modules
directly. The walk and its rules are tests/integration/refusal_words.py, shared with
test_preflight_bad_inputs.py, which checks the messages real runs print. A module's message that
names neither an option nor a role variable (about the host's, the engine's or the MetaDB's state,
not an input) is allowed; `python tests/integration/refusal_words.py` lists them.
"""

import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

import refusal_words as words  # noqa: E402  pylint: disable=wrong-import-position,import-error
from ansible_collections.obtools.oms.plugins.module_utils import oms_config  # noqa: E402

# oms_* names a module's message may hold that are not role variables: OMS's own (its console
# process, a table of the rm database) and config.yaml's keys.
OMS_NAMES = {"oms_console", "oms_normal_config"} | set(key for key, _attr in oms_config.CONFIG_KEYS)

DOCUMENTED = words.documented_variables()
SOURCES = words.option_sources()


def test_every_role_refusal_names_a_role_variable_or_an_inventory_fact():
    refusals = words.role_refusals()
    silent = [r for r in refusals
              if r.where not in words.NOT_ABOUT_THE_INVENTORY and not words.always_names(r.text, DOCUMENTED, r.loop)]
    assert len(refusals) >= 30, "the walk found only %d fail/assert messages" % len(refusals)
    assert silent == [], ("these refusals (or a branch of them) name no role variable of argument_specs.yml and no "
                          "inventory fact (refusal_words.INVENTORY_FACTS):\n" + "\n".join(map(repr, silent)))


def test_the_exempt_refusals_still_exist():
    wheres = set(r.where for r in words.role_refusals())
    assert set(words.NOT_ABOUT_THE_INVENTORY) <= wheres, set(words.NOT_ABOUT_THE_INVENTORY) - wheres


def test_every_module_refusal_names_the_role_variable_beside_the_option():
    refusals = words.module_refusals()
    unpaired = ["%r\n    names %s without %s" % (r, o, " or ".join(sorted(SOURCES[o])))
                for r in refusals for o in words.unpaired_options(r.text, SOURCES)]
    assert len(refusals) >= 150, "the walk found only %d OmsError/fail_json messages" % len(refusals)
    assert unpaired == [], "name the role variable beside the option, as 'oms_config_file (config_file)':\n" + \
        "\n".join(unpaired)


def test_no_module_refusal_names_a_variable_a_user_cannot_set():
    """A derived variable of the roles (oms_rollback_safety_dump_dir) is no advice: setting it does nothing."""
    modules = set(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(words.REPO, "plugins", "modules", "*.py")))
    unknown = ["%r names %s" % (r, sorted(names)) for r in words.module_refusals()
               for names in [set(words.ROLE_VARIABLE.findall(r.text)) - DOCUMENTED - modules - OMS_NAMES] if names]
    assert unknown == [], "\n".join(unknown)


def test_the_metadb_sources_name_the_variables_the_roles_set_the_options_from():
    """oms_config.source_of() names, at run time, the variable of each login option from its own table."""
    for field, variable in oms_config.INVENTORY_VARIABLE.items():
        option = oms_config._option_name(field)  # pylint: disable=protected-access
        assert variable in SOURCES[option], (field, option, variable, SOURCES.get(option))


def test_the_option_sources_are_read_from_the_roles():
    """The derivation reaches through filters, module_defaults and the roles' own variables."""
    assert SOURCES["image_archive"] >= {"oms_image_archive"}
    assert SOURCES["config_file"] == {"oms_config_file"}  # module_defaults, through oms_upgrade_config_file
    assert SOURCES["mysqldump_path"] >= {"oms_upgrade_mysqldump_path"}  # `or omit`
    assert SOURCES["stop_timeout"] >= {"oms_upgrade_stop_timeout"}  # oms_upgrade_opt.stop_timeout, `| int`
    assert "plan_only" not in SOURCES and "journal_step" not in SOURCES  # set by the roles themselves
    assert all(v <= DOCUMENTED for v in SOURCES.values())


def test_a_branch_without_a_variable_is_caught():
    assert words.always_names("Set oms_old_container to the container's name", DOCUMENTED)
    assert not words.always_names("{% if x %}Set oms_old_container{% else %}It is not running{% endif %}", DOCUMENTED)
    assert not words.always_names("{% if x %}Set oms_old_container{% endif %}", DOCUMENTED)
    assert not words.always_names("{{ 'oms_target_hosts' if x else 'the default' }} names no host", DOCUMENTED)
    assert words.always_names("{{ 'oms_target_hosts' if x else 'the group oms' }} names no host", DOCUMENTED)
    assert not words.always_names("oms_not_a_documented_variable is wrong", DOCUMENTED)
    assert not words.always_names("{% for v in vs %}oms_backup_dir{% endfor %}", DOCUMENTED)


def test_a_rendered_fact_and_a_loop_over_names_count():
    assert words.always_names("The upgrade of {{ inventory_hostname }} is committed", DOCUMENTED)
    assert words.always_names("{{ item }} is empty", DOCUMENTED, {"item": ["oms_backup_dir", "oms_console_url"]})
    assert not words.always_names("{{ item }} is empty", DOCUMENTED, {"item": ["oms_backup_dir", "x"]})
    assert not words.always_names("{{ something.msg }}", DOCUMENTED)


def test_an_option_without_its_variable_is_caught():
    before_36da10b = ("The image archive %s does not hold %s (it holds: %s) Check the image option against the tag "
                      "of the tarball you downloaded, or point image_archive at the right tarball")
    assert words.unpaired_options(before_36da10b, SOURCES) == ["image", "image_archive"]
    assert words.unpaired_options("point oms_image_archive (image_archive) at the right tarball", SOURCES) == []
    # an option of one plain word counts only where it is called an option
    assert words.unpaired_options("The image archive does not hold it", SOURCES) == []


def test_the_module_walk_reads_formatted_and_concatenated_literals():
    source = ('raise OmsError("Cannot read %s" % path, "Give config_file " + "the path")\n'
              'raise OmsError("Bad %s" % ("x" if a else "y"), hint="Set {} (%s)".format(b) % c)\n'
              'module.fail_json(msg="batch_size must be at least 1", rc=1)\n'
              'module.exit_json(msg="fine")\n')
    assert [r.text for r in words.refusals_in(source, "m.py")] == [
        "Cannot read %s Give config_file the path", "Bad %s Set {} (%s)", "batch_size must be at least 1"]


OUTPUT = """TASK [obtools.oms.oms_upgrade : Preflight | Probe] ****
fatal: [wd1]: FAILED! => {"changed": false, "msg": "not reachable"}
...ignoring

TASK [obtools.oms.oms_upgrade : Preflight | Refuse empty settings] ****
ok: [wd1] => (item=oms_new_container)
failed: [wd1] (item=oms_old_container) => {"ansible_loop_var": "item", "item": "oms_old_container", "msg": "oms_old_container is empty"}

TASK [obtools.oms.oms_upgrade : Failure | Fail the play] ****
fatal: [wd1]: FAILED! => {"changed": false, "msg": ["UPGRADE FAILED on wd1", "Error: x"]}
"""


def test_the_failures_of_a_run_are_read_in_order_without_the_ignored_ones():
    assert words.failure_messages(OUTPUT) == ["oms_old_container is empty", "UPGRADE FAILED on wd1\nError: x"]
    assert words.failure_messages("PLAY RECAP ****\nwd1 : ok=3 failed=0") == []


def test_a_printed_message_names_a_variable_or_the_host_as_a_word():
    assert words.rendered_names("oms_old_container is empty", DOCUMENTED, ["wd1"])
    assert words.rendered_names("The upgrade of wd1 is committed.", DOCUMENTED, ["wd1"])
    assert not words.rendered_names("No database wd1_rm_nope in /var/tmp/wd1/config.yaml", DOCUMENTED, ["wd1"])
    assert not words.rendered_names("The console refused the login", DOCUMENTED, ["wd1"])
