"""meta/runtime.yml's action groups: `oms` names every module, so that module_defaults with
group/obtools.oms.oms reaches all of them; `metadb`, `docker`, `console` and `journal` name exactly the
modules that extend the doc fragment of the same name (the modules that accept those connection
options: a default given to a module without the option would fail it)."""

import ast
import os

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FRAGMENT_GROUPS = ("metadb", "docker", "console", "journal")


def modules():
    folder = os.path.join(REPO, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder)
                  if name.endswith(".py") and not name.startswith("_"))


def fragments(module):
    """The doc fragments a module's DOCUMENTATION extends (read without importing it)."""
    with open(os.path.join(REPO, "plugins", "modules", module + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            doc = yaml.safe_load(node.value.value)
            return set(doc.get("extends_documentation_fragment") or [])
    raise AssertionError("%s has no DOCUMENTATION" % module)


def group(name="oms"):
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        return (yaml.safe_load(f).get("action_groups") or {}).get(name) or []


def test_every_module_is_in_the_action_group():
    assert sorted(set(modules()) - set(group())) == []


def test_the_action_group_names_only_modules_that_exist():
    assert sorted(set(group()) - set(modules())) == []


@pytest.mark.parametrize("name", ("oms",) + FRAGMENT_GROUPS)
def test_a_group_names_each_module_once(name):
    assert group(name) and len(group(name)) == len(set(group(name)))


@pytest.mark.parametrize("name", FRAGMENT_GROUPS)
def test_a_connection_group_is_the_modules_of_its_doc_fragment(name):
    users = [m for m in modules() if "obtools.oms." + name in fragments(m)]
    assert sorted(group(name)) == users
