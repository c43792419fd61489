"""Every oms_* variable a user may set is documented.

The test reads every Jinja expression of the roles and playbooks (task values in {{ }} or
{% %}, the bare expressions of when/that/until/failed_when/changed_when, the templates) and
collects the oms_* variables they read. A variable the collection defines itself is internal:
a key of a role's vars/main.yml, a set_fact key, a register, a loop_var, or a vars: key of a
play, block, task or include. Every other one is a variable a user may set, and must be an
option of a role's meta/argument_specs.yml (`ansible-doc -t role`) or named in backticks in a
role's README.md (the playbooks' own variables and the test hooks).
"""

import glob
import os
import re

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = ("oms_upgrade", "oms_rollback")
# What both share, included by them (its entry points document what they take).
SHARED_ROLES = ("oms_common",)
EXPRESSION_KEYS = {"when", "that", "until", "failed_when", "changed_when"}
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
NAME = re.compile(r"(?<![\w.])oms_[a-z0-9_]*[a-z0-9](?![\w])")
SET_FACT = ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact")


class AnyTagLoader(yaml.SafeLoader):
    """Ansible's tags (!unsafe, !vault) read as plain values."""


AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None))


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=AnyTagLoader)  # nosec - a safe loader with tags ignored


def names_in_expression(text):
    return set(NAME.findall(STRING.sub("''", text)))


def walk(node, reads, defines, key=None):
    """Collect the oms_* names read by the expressions under node, and those defined there."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in SET_FACT and isinstance(v, dict):
                defines.update(n for n in v if str(n).startswith("oms_"))
            elif k == "vars" and isinstance(v, dict):
                defines.update(n for n in v if str(n).startswith("oms_"))
            elif k == "register" and isinstance(v, str):
                defines.add(v)
            elif k == "loop_control" and isinstance(v, dict) and v.get("loop_var"):
                defines.add(v["loop_var"])
            walk(v, reads, defines, k)
    elif isinstance(node, list):
        for item in node:
            walk(item, reads, defines, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS:
            reads.update(names_in_expression(node))
        for expression in JINJA.findall(node):
            reads.update(names_in_expression(expression))
    elif isinstance(node, bool) or node is None or isinstance(node, (int, float)):
        return


def collect():
    reads, defines = {}, set()
    yml = [p for p in glob.glob(os.path.join(REPO, "roles", "*", "*", "*.yml"))
           if os.sep + "meta" + os.sep not in p] + glob.glob(os.path.join(REPO, "playbooks", "*.yml"))
    for path in yml:
        data = load(path)
        if os.path.basename(os.path.dirname(path)) == "vars" and isinstance(data, dict):
            defines.update(data)
        found = set()
        walk(data, found, defines)
        for name in found:
            reads.setdefault(name, set()).add(os.path.relpath(path, REPO))
    for path in glob.glob(os.path.join(REPO, "roles", "*", "templates", "*.j2")):
        with open(path) as f:
            text = f.read()
        for expression in JINJA.findall(text):
            for name in names_in_expression(expression):
                reads.setdefault(name, set()).add(os.path.relpath(path, REPO))
        defines.update(re.findall(r"\{%-?\s*set\s+(oms_\w+)", text))
    return reads, defines


def documented():
    names = set()
    for role in ROLES + SHARED_ROLES:
        spec = load(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"))
        for entry in spec["argument_specs"].values():
            names.update(entry.get("options") or {})
        with open(os.path.join(REPO, "roles", role, "README.md")) as f:
            names.update(re.findall(r"`(oms_\w+)", f.read()))
    return names


def test_the_scan_sees_what_the_roles_read():
    reads, defines = collect()
    # a few the roles certainly read, and a few they certainly define
    assert {"oms_backup_dir", "oms_upgrade_auto_rollback", "oms_rollback_accept_data_loss",
            "oms_target_hosts", "oms_break_lock"} <= set(reads)
    assert {"oms_upgrade_facts", "oms_upgrade_journal", "oms_upgrade_window_job"} <= defines


def test_every_variable_a_user_may_set_is_documented():
    reads, defines = collect()
    user = {name for name in reads if name not in defines}
    missing = sorted(user - documented())
    assert missing == [], "read by the roles or playbooks but documented nowhere:\n" + "\n".join(
        "%s (%s)" % (name, ", ".join(sorted(reads[name]))) for name in missing)


def test_every_role_default_is_documented():
    """A default is a variable a user may change: it is documented even if no expression reads it."""
    undocumented = []
    for role in ROLES:
        defaults = load(os.path.join(REPO, "roles", role, "defaults", "main.yml")) or {}
        undocumented += ["%s: %s" % (role, name) for name in defaults if name not in documented()]
    assert undocumented == []
