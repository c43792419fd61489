"""module_defaults with the collection's action groups (meta/runtime.yml), in a play of a user's.

The connection options are given once, to the groups of the modules that take them; the tasks
name only what they read. A module of no connection group (oms_journal_info) runs under the same
module_defaults untouched, and a default given to the whole `oms` group reaches a module that has
no such option, which refuses it: why the connection options have groups of their own.
"""
import json
import os
import subprocess

import yaml

from conftest import REPO, ansible_env
from playbooks import write_inventory


def play(tmp_path, defaults, tasks):
    path = os.path.join(str(tmp_path), "play.yml")
    with open(path, "w") as handle:
        yaml.safe_dump([{"hosts": "oms", "gather_facts": False, "module_defaults": defaults, "tasks": tasks}],
                       handle)
    return path


def run(inventory, path):
    return subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory, path],
                          env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False)


def test_the_connection_groups_carry_the_options(instance, tmp_path):
    d = instance
    inventory = write_inventory(d)
    result_file = os.path.join(str(tmp_path), "results.json")
    defaults = {
        "group/obtools.oms.metadb": {"config_file": d["config_file"]},
        "group/obtools.oms.docker": {"docker_host": "unix:///var/run/docker.sock"},
        "group/obtools.oms.console": {"console_url": "{{ oms_console_url }}",
                                      "console_user": "{{ oms_console_user }}",
                                      "console_password": "{{ oms_console_password }}"},
    }
    tasks = [
        {"name": "MetaDB engine", "obtools.oms.oms_metadb_info": {"gather": ["engine"]}, "register": "engine"},
        {"name": "Old container", "obtools.oms.oms_container_info": {"name": "{{ oms_old_container }}"},
         "register": "old"},
        {"name": "Projects", "obtools.oms.oms_project_info": {}, "register": "projects"},
        {"name": "Journal (no connection group)",
         "obtools.oms.oms_journal_info": {"path": os.path.join(str(tmp_path), "none.json")}, "register": "journal"},
        {"name": "Keep the results", "ansible.builtin.copy": {
            "dest": result_file, "mode": "0600",
            "content": "{{ {'engine': engine.engine, 'old': old.container, 'projects': projects.projects,"
                       " 'journal': journal.exists} | to_json }}"}},
    ]
    proc = run(inventory, play(tmp_path, defaults, tasks))
    assert proc.returncode == 0, proc.stdout[-3000:]
    with open(result_file) as handle:
        results = json.load(handle)
    assert results["engine"]["engine"] in ("mariadb", "oceanbase")
    assert results["old"]["exists"] and results["old"]["name"] == d["old_container"]
    assert isinstance(results["projects"], list)
    assert results["journal"] is False
    assert d["console_password"] not in proc.stdout


def test_a_connection_option_given_to_every_module_is_refused_by_one_without_it(instance, tmp_path):
    inventory = write_inventory(instance)
    tasks = [{"name": "Journal", "obtools.oms.oms_journal_info": {"path": os.path.join(str(tmp_path), "j.json")}}]
    proc = run(inventory, play(tmp_path, {"group/obtools.oms.oms": {"docker_host": "unix:///var/run/docker.sock"}},
                               tasks))
    assert proc.returncode != 0
    assert "Unsupported parameters" in proc.stdout and "docker_host" in proc.stdout
