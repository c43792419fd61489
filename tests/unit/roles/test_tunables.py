"""Every numeric and boolean tunable of both roles works when given with -e (a string).

Extra vars arrive as strings: "-e oms_upgrade_health_timeout=240" rendered "240" + 120 (a
template error after the old container stopped), "-e oms_upgrade_auto_rollback=false" is a
non-empty string, true. Each role casts its int/float/bool tunables once, in vars/main.yml
(<role>_opt), and its tasks and templates use only those. The list of tunables comes from the
argument specs, so a tunable added later is checked without touching this test. The same list,
as -e strings, drives a real upgrade and rollback in tests/integration/test_tunables_as_strings.py.
"""
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = ("oms_upgrade", "oms_rollback")
# Keys whose whole value is a Jinja expression (no {{ }} around it).
EXPRESSION_KEYS = {"when", "that", "until", "changed_when", "failed_when"}


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
    for role in ROLES + ("oms_common",):  # oms_common: what both include
        for sub in ("tasks", "templates", "handlers"):
            folder = os.path.join(ROOT, "roles", role, sub)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                yield os.path.join(folder, name)
    for name in sorted(os.listdir(os.path.join(ROOT, "playbooks"))):
        yield os.path.join(ROOT, "playbooks", name)


def test_the_specs_list_tunables_of_each_type():
    for role in ROLES:
        assert {"int", "bool"} <= set(typed_tunables(role).values()), role


def opt_entries(role):
    """The entries of <role>_opt, one Jinja expression of a dict: key -> the expression."""
    with open(os.path.join(ROOT, "roles", role, "vars", "main.yml")) as handle:
        opt = yaml.safe_load(handle)[role + "_opt"]
    assert isinstance(opt, str), "%s_opt must be ONE expression of a dict, not a dict of templates" % role
    body = re.fullmatch(r"\{\{\s*\{(.*)\}\s*\}\}", opt.strip(), re.S)
    assert body, "%s_opt must be '{{ {...} }}': %r" % (role, opt)
    entries = {}
    for entry in body.group(1).split(","):
        key, expression = entry.split(":", 1)
        entries[key.strip().strip("'")] = " ".join(expression.split())
    return entries


@pytest.mark.parametrize("role", ROLES)
def test_every_typed_tunable_is_cast_once_in_vars(role):
    want = {name[len(role) + 1:]: "%s | %s" % (name, kind) for name, kind in typed_tunables(role).items()}
    assert opt_entries(role) == want


def render_opts(tmp_path, extra_vars):
    """<role>_opt of both roles, rendered by the ansible-core this test runs on (ansible-playbook
    beside sys.executable): each value's type as Jinja sees it."""
    probe = tmp_path / "types.json"
    kinds = ("{% set out = {} %}{% for role, opt in [" + ", ".join(
        "('%s', %s_opt)" % (role, role) for role in ROLES) + "] %}{% for k, v in opt.items() %}"
        "{% set _ = out.update({role ~ '.' ~ k: 'bool' if v is boolean else 'int' if v is integer"
        " else 'float' if v is float else 'str' if v is string else 'other'}) %}"
        "{% endfor %}{% endfor %}{{ out | to_json }}")
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars_files": ["%s/roles/%s/%s/main.yml" % (ROOT, role, sub)
                            for role in ROLES for sub in ("defaults", "vars")],
             "tasks": [{"name": "Write the types", "ansible.builtin.copy": {
                 "content": kinds, "dest": str(probe), "mode": "0600"}}]}]
    playbook = tmp_path / "types.yml"
    playbook.write_text(yaml.safe_dump(play))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(extra_vars))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
           "-c", "local", str(playbook), "-e", "@%s" % extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(probe.read_text())


@pytest.mark.parametrize("as_strings", [False, True], ids=["inventory", "extra-vars-strings"])
def test_the_settings_keep_their_types_on_this_core(tmp_path, as_strings):
    """Rendered for real: on ansible-core before 2.19 a dict of "{{ x | int }}" templates gave "240",
    and the preflight's estimate * "1.5" repeated a string. Run by every core of scripts/matrix.sh."""
    want, extra = {}, {}
    for role in ROLES:
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            defaults = yaml.safe_load(handle)
        for name, kind in typed_tunables(role).items():
            want["%s.%s" % (role, name[len(role) + 1:])] = kind
            if as_strings and name in defaults:
                value = defaults[name]
                extra[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    assert extra or not as_strings
    assert render_opts(tmp_path, extra) == want


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
