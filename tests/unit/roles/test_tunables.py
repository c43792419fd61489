"""Every numeric and boolean tunable of both roles works when given with -e (a string).

Extra vars arrive as strings: "-e oms_upgrade_health_timeout=240" rendered "240" + 120 (a
template error after the old container stopped), "-e oms_upgrade_auto_rollback=false" is a
non-empty string, true. Each role casts its int/float/bool tunables once, in vars/main.yml
(<role>_opt), and its tasks and templates use only those. The list of tunables comes from the
argument specs, so a tunable added later is checked without touching this test. The same list,
as -e strings, drives a real upgrade and rollback in tests/integration/test_tunables_as_strings.py.
"""
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = ("oms_upgrade", "oms_rollback")
# Keys whose whole value is a Jinja expression (no {{ }} around it).
EXPRESSION_KEYS = {"when", "that", "until", "changed_when", "failed_when", "break_when"}


def typed_tunables(role):
    """The role's own int/float/bool variables from its argument spec: name -> type."""
    path = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
    with open(path) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    return {name: spec["type"] for name, spec in options.items()
            if spec.get("type") in ("int", "float", "bool") and name.startswith(role + "_")}


def expressions(node, key=None):
    """Every Jinja expression in a parsed task file: whole values of when/that/..., and the
    {{ }} / {% %} spans of any other string (task names and plain text are not code)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS:
            yield node
        for match in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", node, re.S):
            yield match.group(0)


def role_files():
    for role in ROLES:
        for sub in ("tasks", "templates", "handlers"):
            folder = os.path.join(ROOT, "roles", role, sub)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                yield os.path.join(folder, name)
    for name in sorted(os.listdir(os.path.join(ROOT, "playbooks"))):
        yield os.path.join(ROOT, "playbooks", name)


def test_the_specs_list_tunables_of_each_type():
    for role in ROLES:
        assert {"int", "bool"} <= set(typed_tunables(role).values()), role


@pytest.mark.parametrize("role", ROLES)
def test_every_typed_tunable_is_cast_once_in_vars(role):
    with open(os.path.join(ROOT, "roles", role, "vars", "main.yml")) as handle:
        opt = yaml.safe_load(handle)[role + "_opt"]
    want = {name[len(role) + 1:]: "{{ %s | %s }}" % (name, kind) for name, kind in typed_tunables(role).items()}
    assert opt == want


@pytest.mark.parametrize("path", list(role_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_no_task_uses_a_raw_tunable(path):
    names = {}
    for role in ROLES:
        names.update(typed_tunables(role))
    with open(path) as handle:
        text = handle.read()
    if path.endswith((".yml", ".yaml")):
        found = list(expressions(yaml.safe_load(text)))
    else:  # a template: all of it is rendered
        found = [text]
    raw = sorted({name for e in found for name in names if re.search(r"\b%s\b" % name, e)})
    assert raw == [], "use <role>_opt.<name> (cast in vars/main.yml) instead of %s" % raw


def test_the_check_finds_a_raw_use():
    """The check above is not blind: the code this fixed is caught."""
    task = yaml.safe_load('- {async: "{{ oms_upgrade_health_timeout + 120 }}", when: not oms_upgrade_preflight_only}')
    found = list(expressions(task))
    assert any("oms_upgrade_health_timeout" in e for e in found)
    assert any("oms_upgrade_preflight_only" in e for e in found)
