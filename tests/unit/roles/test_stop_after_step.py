"""oms_upgrade_stop_after_step ends the run after any journal step but the last, so that the tests
can break each next step for real (tests/integration/test_fault_at_every_step.py). A step without
its `meta: end_host` hook lets the first run go through to the end, and the fault lands nowhere.
The window's steps share one hook: only the steps up to the one named are launched. The hooks are
test-only, so they stay in one place (tasks/main.yml), out of the files that do the work."""
import glob
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLE = os.path.join(ROOT, "roles", "oms_upgrade")


def tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            yield from tasks(node.get(key) or [])


def window_steps():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        return yaml.safe_load(handle)["oms_upgrade_window_steps"]


def end_hosts(path):
    with open(path) as handle:
        return [task for task in tasks(yaml.safe_load(handle) or []) if task.get("ansible.builtin.meta") == "end_host"]


def hooked_steps():
    found = set()
    for path in [os.path.join(ROLE, "tasks", "main.yml")]:
        with open(path) as handle:
            for task in tasks(yaml.safe_load(handle) or []):
                when = task.get("when")
                if task.get("ansible.builtin.meta") == "end_host" and isinstance(when, str) \
                        and when.startswith("oms_upgrade_stop_after_step == "):
                    found.add(when.split("==", 1)[1].strip().strip("'\""))
                if task.get("ansible.builtin.meta") == "end_host" \
                        and when == "oms_upgrade_stop_after_step in oms_upgrade_window_steps":
                    found.update(window_steps())
    return found


def test_every_step_but_the_report_can_end_the_run():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        steps = [s["name"] for s in yaml.safe_load(handle)["oms_upgrade_steps"]]
    assert steps[-1] == "report"
    assert sorted(set(steps[:-1]) - hooked_steps()) == []


# The one end_host that is no test hook: a run that follows another run's window ends there.
NOT_HOOKS = ("follow_end.yml",)


def test_the_hooks_are_in_main_yml_only():
    others = [os.path.basename(path) for path in glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))
              if os.path.basename(path) not in ("main.yml",) + NOT_HOOKS and end_hosts(path)]
    assert others == []
