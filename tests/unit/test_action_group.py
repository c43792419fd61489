"""meta/runtime.yml's action group names every module, so that module_defaults with
group/obtools.oms.oms reaches all of them, and names nothing that is not a module."""

import os

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def modules():
    folder = os.path.join(REPO, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder)
                  if name.endswith(".py") and not name.startswith("_"))


def group():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as f:
        return (yaml.safe_load(f).get("action_groups") or {}).get("oms") or []


def test_every_module_is_in_the_action_group():
    assert sorted(set(modules()) - set(group())) == []


def test_the_action_group_names_only_modules_that_exist():
    assert sorted(set(group()) - set(modules())) == []


def test_the_action_group_names_each_module_once():
    assert len(group()) == len(set(group()))
