"""Whether a refusal speaks the inventory's words: the variable a user sets, not the module option.

Read by tests/unit/test_refusal_wording.py, which walks every refusal of the repository, and by
tests/integration/test_preflight_bad_inputs.py, which checks the message a run really printed.
Everything is derived from the repository's files: the role variables from the roles'
meta/argument_specs.yml, which role variable each module option is set from from the roles' task
files (module calls and module_defaults of this collection, through the roles' own derived
variables such as oms_upgrade_opt.<name>).
"""

import ast
import glob
import json
import os
import re

import jinja2
from jinja2 import nodes
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTION = "obtools.oms."

# What a refusal may name instead of a role variable: the other words a user writes, in the
# inventory or on the ansible-playbook command line, that no argument_specs documents. Kept to what
# our refusals need: the host (its inventory name, or the address Ansible reaches it at), the group
# oms (the default of the documented oms_target_hosts), and the --limit and --tags a run was given.
INVENTORY_FACTS = ("inventory_hostname", "ansible_host", "group oms", "--limit", "--tags")
# The Jinja variables that render as one of them: a rendered message holds their value.
FACT_VARIABLES = ("inventory_hostname", "ansible_host", "ansible_limit")
# Refusals about no word of the inventory, and why each is one.
NOT_ABOUT_THE_INVENTORY = {
    # the control node's ansible-core: installed, not set by any variable or host
    "roles/oms_common/tasks/core_version.yml: Refuse an ansible-core older than 2.16, the lowest the collection is tested on",
}

ROLE_VARIABLE = re.compile(r"(?<![\w.])oms_[a-z0-9_]*[a-z0-9](?![\w])")
READ = re.compile(r"(?<![\w.])(oms_[a-z0-9_]*[a-z0-9])(?:\.([a-z_][a-z0-9_]*))?")
JINJA_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
IDENTIFIER = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?![\w])")
FAIL = ("ansible.builtin.fail", "ansible.legacy.fail", "fail")
ASSERT = ("ansible.builtin.assert", "ansible.legacy.assert", "assert")
SET_FACT = ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact")


class AnyTagLoader(yaml.SafeLoader):
    """Ansible's tags (!unsafe, !vault) read as plain values."""


AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None))


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=AnyTagLoader)  # nosec - a safe loader with tags ignored


def task_files(root=REPO):
    return sorted(glob.glob(os.path.join(root, "roles", "*", "tasks", "*.yml"))
                  + glob.glob(os.path.join(root, "playbooks", "*.yml")))


def documented_variables(root=REPO):
    """Every option of every entry point of every role: the variables a user may set. oms_common's
    oms_common_* options are not: they are what oms_upgrade and oms_rollback pass to the entry
    points they include (the lock's path, the progress probe's job)."""
    found = set()
    for path in glob.glob(os.path.join(root, "roles", "*", "meta", "argument_specs.yml")):
        for spec in (load(path).get("argument_specs") or {}).values():
            found.update((spec or {}).get("options") or {})
    return set(name for name in found if not name.startswith("oms_common_"))


# ---- which role variable each module option is set from

def _dicts(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


def definitions(root=REPO):
    """name -> the expressions the collection itself defines it as (vars/main.yml, set_fact, vars:)."""
    found = {}

    def add(values):
        for name, value in (values or {}).items():
            found.setdefault(str(name), []).append(value if isinstance(value, str) else repr(value))

    for path in glob.glob(os.path.join(root, "roles", "*", "vars", "main.yml")):
        add(load(path))
    for path in task_files(root):
        for task in _dicts(load(path)):
            for key in SET_FACT:
                if isinstance(task.get(key), dict):
                    add(task[key])
            if isinstance(task.get("vars"), dict):
                add(task["vars"])
    return found


def _resolve(text, documented, defined, seen):
    """The documented role variables an expression reads, through the collection's own variables."""
    found = set()
    for name, attribute in READ.findall(JINJA_STRING.sub("''", text)):
        if name in documented:
            found.add(name)
        elif attribute in documented:
            # another host's value of a role variable (hostvars[...].oms_x)
            found.add(attribute)
        elif name in defined and (name, attribute) not in seen:
            seen = seen | {(name, attribute)}
            for definition in defined[name]:
                # a dict built in one expression (oms_upgrade_opt): only the key read counts
                piece = re.search(r"'%s'\s*:\s*([^,}]+)" % re.escape(attribute), definition) if attribute else None
                found |= _resolve(piece.group(1) if piece else definition, documented, defined, seen)
    return found


def option_sources(root=REPO):
    """module option -> the documented role variables the roles set it from.

    Every option of a module call of this collection, or of its module_defaults groups, whose value
    reads a role variable (directly, through a filter, or through a variable the roles derive).
    """
    documented, defined = documented_variables(root), definitions(root)
    sources = {}
    for path in task_files(root):
        for task in _dicts(load(path)):
            calls = [v for k, v in task.items() if str(k).startswith(COLLECTION)]
            if isinstance(task.get("module_defaults"), dict):
                calls += [v for k, v in task["module_defaults"].items()
                          if str(k).startswith((COLLECTION, "group/" + COLLECTION))]
            for options in calls:
                for option, value in (options if isinstance(options, dict) else {}).items():
                    if isinstance(value, str):
                        variables = _resolve(value, documented, defined, frozenset())
                        if variables:
                            sources.setdefault(option, set()).update(variables)
    return sources


# ---- the refusals of the roles and playbooks

class Refusal(object):
    def __init__(self, where, text, loop=None):
        self.where = where
        self.text = text
        self.loop = loop or {}

    def __repr__(self):
        return "%s: %s" % (self.where, " ".join(self.text.split())[:160])


def role_refusals(root=REPO):
    """Every fail msg and assert fail_msg of the roles and playbooks (an assert without one
    refuses with Ansible's bare "Assertion failed": its text is then empty)."""
    found = []
    for path in task_files(root):
        rel = os.path.relpath(path, root)
        for task in _dicts(load(path)):
            args = None
            for key in FAIL:
                if isinstance(task.get(key), dict):
                    args = task[key].get("msg", "Failed as requested from task")
            for key in ASSERT:
                if isinstance(task.get(key), dict):
                    args = task[key].get("fail_msg", task[key].get("msg", ""))
            if args is None:
                continue
            text = "\n".join(args) if isinstance(args, list) else str(args)
            loop = task.get("loop")
            loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
            values = {loop_var: [str(v) for v in loop]} if isinstance(loop, list) else {}
            found.append(Refusal("%s: %s" % (rel, task.get("name", "?")), text, values))
    return found


def names_something(text, documented):
    """Whether plain text (a rendered message, a string of a module) names a role variable or an
    inventory fact."""
    return bool(set(ROLE_VARIABLE.findall(text)) & documented) or any(f in text for f in INVENTORY_FACTS)


def always_names(template, documented, loop=None):
    """Whether every way the message template can render names a role variable or an inventory fact.

    Literal text and the strings of its expressions count; a Jinja variable counts when it renders
    an inventory fact, or the loop item over a list of names that all do. An {% if %} or a
    conditional expression names something only if every branch does (a missing else renders
    nothing); a {% for %} may run no time, so only the text around it counts.
    """
    loop = loop or {}

    def walk(node):
        if isinstance(node, nodes.Template):
            return any(walk(child) for child in node.body)
        if isinstance(node, nodes.Output):
            return any(walk(child) for child in node.nodes)
        if isinstance(node, nodes.TemplateData):
            return names_something(node.data, documented)
        if isinstance(node, nodes.Const):
            return isinstance(node.value, str) and names_something(node.value, documented)
        if isinstance(node, nodes.If):
            branches = [node.body] + [elif_.body for elif_ in node.elif_] + [node.else_]
            return all(any(walk(child) for child in branch) for branch in branches)
        if isinstance(node, nodes.CondExpr):
            return walk(node.expr1) and node.expr2 is not None and walk(node.expr2)
        if isinstance(node, nodes.Concat):
            return any(walk(child) for child in node.nodes)
        if isinstance(node, nodes.Name):
            if node.name in FACT_VARIABLES:
                return True
            values = loop.get(node.name)
            return bool(values) and all(names_something(v, documented) for v in values)
        if isinstance(node, nodes.Filter) and node.name in ("string", "trim"):
            return walk(node.node)
        return False

    return walk(jinja2.Environment().parse(template))


def failure_messages(output):
    """The msg of every failed task (or loop item) in ansible-playbook's output, in order, but
    those Ansible then ignores: the default callback's 'fatal: [host]: FAILED! => {...}' and
    'failed: [host] (item=...) => {...}'."""
    found = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^(?:fatal: \[[^\]]*\]: FAILED!|failed: \[[^\]]*\] \(item=.*?\)) => ", output, re.M):
        try:
            result, end = decoder.raw_decode(output, match.end())
        except ValueError:
            continue
        if output[end:end + 20].lstrip().startswith("...ignoring") or not isinstance(result, dict):
            continue
        msg = result.get("msg", "")
        found.append("\n".join(map(str, msg)) if isinstance(msg, list) else str(msg))
    return found


def rendered_names(message, documented, hosts=()):
    """Whether a message as a run printed it names a role variable or an inventory fact: a fact
    rendered as its value counts when the value stands as a word of its own (a host's name, not a
    path or a database name that holds it)."""
    return names_something(message, documented) or any(
        re.search(r"(?<![\w/.-])%s(?![\w/-])" % re.escape(host), message) for host in hosts)


# ---- the refusals of the modules

class ModuleRefusal(object):
    def __init__(self, where, text):
        self.where = where
        self.text = text

    def __repr__(self):
        return "%s: %s" % (self.where, " ".join(self.text.split())[:200])


def _strings(node):
    """The literal text of a message expression: its string constants, the format string of a
    %-format or .format(), the pieces of a concatenation, an f-string, both ends of a conditional."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left) + _strings(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _strings(node.left)
    if isinstance(node, ast.JoinedStr):
        return "".join(_strings(v) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + " " + _strings(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _strings(node.func.value)
    return ""


def _called(node, name):
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def refusals_in(source, where):
    """Every OmsError(what, todo) and fail_json(msg=...) of one Python source: their literal text."""
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if not isinstance(node, ast.Call):
            continue
        if _called(node, "OmsError"):
            parts = list(node.args[:2]) + [k.value for k in node.keywords if k.arg in ("msg", "hint")]
        elif _called(node, "fail_json"):
            parts = [k.value for k in node.keywords if k.arg == "msg"]
        else:
            continue
        found.append(ModuleRefusal("%s:%d" % (where, node.lineno), " ".join(_strings(part) for part in parts)))
    return found


def module_refusals(root=REPO):
    """Every refusal of plugins/module_utils and plugins/modules."""
    found = []
    for path in sorted(glob.glob(os.path.join(root, "plugins", "module_utils", "*.py"))
                       + glob.glob(os.path.join(root, "plugins", "modules", "*.py"))):
        with open(path) as f:
            found += refusals_in(f.read(), os.path.relpath(path, root))
    return found


def options_named(text, sources):
    """The options of `sources` a module's message names. An option of one word (image, mounts)
    is also an English word: it counts only where the text calls it an option ("the image option",
    "option image") or puts it in parentheses, as "oms_target_image (image)" does."""
    named = set()
    for word in set(IDENTIFIER.findall(text)) & set(sources):
        if "_" in word or re.search(r"\b%s option|\boption %s\b|\(%s\)" % (word, word, re.escape(word)), text):
            named.add(word)
    return named


def unpaired_options(text, sources):
    """The options a module's message names without any role variable they are set from."""
    variables = set(ROLE_VARIABLE.findall(text))
    return sorted(o for o in options_named(text, sources) if not variables & sources[o])


def naming_neither(root=REPO):
    """The module refusals that name no option the roles fill and no role variable: about the
    host's or the MetaDB's state rather than an input, or built from text elsewhere."""
    documented, sources = documented_variables(root), option_sources(root)
    return [r for r in module_refusals(root)
            if not options_named(r.text, sources) and not names_something(r.text, documented)]


if __name__ == "__main__":
    for refusal in naming_neither():
        print(repr(refusal))
