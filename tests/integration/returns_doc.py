"""Hold a module's RETURN documentation to what the module really returned.

Every integration test runs its modules through conftest.run_module, which hands each successful
result to `check`: every key the module returned must be documented, with the documented type, and
only under the documented condition (`when O(state=x)`, `when O(opt) is given`); every key
documented as returned `always` must be there.

`returned:` conditions it understands: `O(state=x)`, `O(state) is C(x) or C(y)`, `O(opt) is given`
and, for a list option, `O(opt) includes V(x) or V(y)`.
"""

import ast
import os
import re

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# What Ansible itself (or our OmsError) adds to any result: not the module's to document.
STANDARD_KEYS = {"changed", "failed", "msg", "diff", "invocation", "warnings", "deprecations",
                 "skipped", "skip_reason", "exception", "hint", "ansible_facts", "failed_when_result"}
ALWAYS = ("always", "success", "always, except when the task fails")
TYPES = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def module_docs(name):
    """(DOCUMENTATION, RETURN) of plugins/modules/<name>.py, parsed without importing it."""
    path = os.path.join(REPO, "plugins", "modules", name + ".py")
    with open(path) as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "RETURN"):
                found[target.id] = yaml.safe_load(node.value.value) or {}
    return found.get("DOCUMENTATION", {}), found.get("RETURN", {})


def states_named(returned):
    """The states a `returned:` text names, e.g. {'stopped'} for 'when O(state=stopped)'."""
    states = set(re.findall(r"O\(state=(\w+)\)", returned))
    for group in re.findall(r"O\(state\) is ((?:C\(\w+\)(?:,| or| and|\s)*)+)", returned):
        states.update(re.findall(r"C\((\w+)\)", group))
    return states


def list_values_named(returned):
    """{option: values} a `returned:` text requires, e.g. {'gather': {'estimate'}} for
    'when O(gather) includes V(estimate)' (any one of the values will do)."""
    found = {}
    for option, group in re.findall(r"O\((\w+)\) includes ((?:V\(\w+\)(?:,| or|\s)*)+)", returned):
        found.setdefault(option, set()).update(re.findall(r"V\((\w+)\)", group))
    return found


def options_required_given(returned):
    """Options a `returned:` text says must be given, e.g. ['steps'] for 'when O(steps) is given'."""
    return [o for o in re.findall(r"O\((\w+)\) is given", returned) if o != "state"]


def type_errors(where, value, doc):
    if value is None:
        return []
    wanted = doc.get("type")
    errors = []
    if wanted in TYPES:
        ok = isinstance(value, TYPES[wanted]) and not (wanted in ("int", "float") and isinstance(value, bool))
        if not ok:
            errors.append("%s is %s, documented as %s" % (where, type(value).__name__, wanted))
            return errors
    contains = doc.get("contains")
    if contains and wanted == "dict" and isinstance(value, dict):
        for key, sub in value.items():
            if key not in contains:
                errors.append("%s.%s is returned but not documented under contains" % (where, key))
            else:
                errors.extend(type_errors("%s.%s" % (where, key), sub, contains[key]))
    if contains and wanted == "list" and doc.get("elements") == "dict" and isinstance(value, list):
        for i, item in enumerate(value[:5]):
            for key, sub in (item or {}).items():
                if key not in contains:
                    errors.append("%s[%d].%s is returned but not documented under contains" % (where, i, key))
                else:
                    errors.extend(type_errors("%s[%d].%s" % (where, i, key), sub, contains[key]))
    return errors


def problems(name, args, result):
    """Every way `result` (a successful run of obtools.oms.<name> with `args`) contradicts RETURN."""
    if result.get("failed") or result.get("skipped"):
        return []
    documentation, returns = module_docs(name)
    options = documentation.get("options") or {}
    state = args.get("state", (options.get("state") or {}).get("default"))
    found = []
    for key, value in result.items():
        if key in STANDARD_KEYS or key.startswith("_ansible"):
            continue
        doc = returns.get(key)
        if doc is None:
            found.append("%s: %s is returned but not in RETURN" % (name, key))
            continue
        returned = str(doc.get("returned", ""))
        states = states_named(returned)
        if states and state not in states:
            found.append("%s: %s is returned with state=%s, documented only %r" % (name, key, state, returned))
        for option in options_required_given(returned):
            if args.get(option) is None:
                found.append("%s: %s is returned without %s, documented %r" % (name, key, option, returned))
        for option, values in list_values_named(returned).items():
            given = args.get(option, (options.get(option) or {}).get("default")) or []
            if not values & set(given):
                found.append("%s: %s is returned with %s=%s, documented %r" % (name, key, option, given, returned))
        found.extend("%s: %s" % (name, e) for e in type_errors(key, value, doc))
    for key, doc in returns.items():
        if str(doc.get("returned", "")).strip() in ALWAYS and key not in result:
            found.append("%s: %s is documented as returned %s but is missing" % (name, key, doc.get("returned")))
    return found
