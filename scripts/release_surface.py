"""The collection's public surface, as a release is compared with the next one.

The surface: the modules, each module's options (suboptions as ``option.suboption``, string choices
as ``option=choice``, the doc fragments it extends resolved), the roles' entry points and their variables
(``meta/argument_specs.yml``), the ansible-core floor (``meta/runtime.yml``) and the cores the
collection is tested on (the floor, every version ``scripts/matrix.sh`` names, and the pinned core
of ``requirements.txt``).

``changelogs/.released-surface.json`` holds the surface of the last release; ``scripts/release.sh``
rewrites it, and ``tests/unit/test_changelog_coverage.py`` compares HEAD's with it.

Usage: python scripts/release_surface.py [--version VERSION] [--write PATH] [ROOT]
"""

from __future__ import absolute_import, division, print_function

import argparse
import ast
import glob
import json
import os
import re
import sys

import yaml

SNAPSHOT = os.path.join("changelogs", ".released-surface.json")
VERSION = re.compile(r"\b(\d+)\.(\d+)\.(\d+)\b")


def _assigned_strings(path):
    """{name: string} of every NAME = '...' at any depth of a Python file (doc fragments are class
    attributes, module docs are top-level)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
                isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, node.value.value)
    return found


def _fragment(root, name):
    """The options of doc fragment ``obtools.oms.x`` (attribute DOCUMENTATION) or
    ``obtools.oms.x.attr`` (attribute ATTR); another collection's fragment adds none we own."""
    parts = name.split(".")
    if len(parts) < 3 or parts[:2] != ["obtools", "oms"]:
        return {}
    path = os.path.join(root, "plugins", "doc_fragments", parts[2] + ".py")
    attr = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    doc = yaml.safe_load(_assigned_strings(path)[attr]) or {}
    return doc.get("options") or {}


def _option_names(options, prefix=""):
    """Every option as ``name`` (``name.suboption`` below it) and each of its string choices as
    ``name=choice``: a new choice is a new thing to ask for, as a new option is."""
    names = []
    for name, spec in sorted((options or {}).items()):
        names.append(prefix + name)
        spec = spec or {}
        choices = spec.get("choices") or []
        if isinstance(choices, dict):  # choices with descriptions
            choices = list(choices)
        names += sorted("%s%s=%s" % (prefix, name, c) for c in choices if isinstance(c, str))
        names += _option_names(spec.get("suboptions"), prefix + name + ".")
    return names


def module_doc(path):
    doc = _assigned_strings(path).get("DOCUMENTATION")
    if doc is None:
        raise ValueError("%s has no DOCUMENTATION" % path)
    return yaml.safe_load(doc)


def module_options(root, path):
    doc = module_doc(path)
    options = {}
    for fragment in doc.get("extends_documentation_fragment") or []:
        options.update(_fragment(root, fragment))
    options.update(doc.get("options") or {})
    return _option_names(options)


def role_variables(path):
    with open(path) as f:
        specs = (yaml.safe_load(f) or {}).get("argument_specs") or {}
    return {entry: _option_names((spec or {}).get("options")) for entry, spec in sorted(specs.items())}


def requires_ansible(root):
    with open(os.path.join(root, "meta", "runtime.yml")) as f:
        return str((yaml.safe_load(f) or {}).get("requires_ansible", ""))


def floor(requirement):
    match = re.search(r">=\s*(\d+\.\d+(?:\.\d+)?)", requirement)
    return match.group(1) if match else None


def tested_cores(root):
    """Every X.Y.Z outside comments in scripts/matrix.sh, the floor if matrix.sh reads it from
    meta/runtime.yml (requires_ansible) to test it, and requirements.txt's ansible-core (every stage
    of scripts/test.sh)."""
    cores = set()
    matrix = os.path.join(root, "scripts", "matrix.sh")
    if os.path.exists(matrix):
        with open(matrix) as f:
            code = "".join(line.split("#", 1)[0] + "\n" for line in f)
        cores.update(".".join(m) for m in VERSION.findall(code))
        low = floor(requires_ansible(root))
        if low and "requires_ansible" in code:
            cores.add(low if low.count(".") == 2 else low + ".0")
    requirements = os.path.join(root, "requirements.txt")
    if os.path.exists(requirements):
        with open(requirements) as f:
            for line in f:
                match = re.match(r"\s*ansible-core\s*==\s*(\d+\.\d+\.\d+)", line)
                if match:
                    cores.add(match.group(1))
    return sorted(cores, key=lambda v: tuple(int(x) for x in v.split(".")))


def surface(root, version=None):
    if version is None:
        with open(os.path.join(root, "galaxy.yml")) as f:
            version = str(yaml.safe_load(f)["version"])
    modules = {}
    for path in sorted(glob.glob(os.path.join(root, "plugins", "modules", "*.py"))):
        name = os.path.basename(path)[:-3]
        if not name.startswith("_"):
            modules[name] = module_options(root, path)
    roles = {}
    for path in sorted(glob.glob(os.path.join(root, "roles", "*", "meta", "argument_specs.yml"))):
        roles[path.split(os.sep)[-3]] = role_variables(path)
    return {
        "version": version,
        "requires_ansible": requires_ansible(root),
        "tested_cores": tested_cores(root),
        "modules": modules,
        "roles": roles,
    }


def dump(data):
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--version", help="the release's version (default: galaxy.yml's)")
    parser.add_argument("--write", metavar="PATH", help="write the surface there instead of printing it")
    args = parser.parse_args(argv)
    text = dump(surface(os.path.abspath(args.root), args.version))
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
