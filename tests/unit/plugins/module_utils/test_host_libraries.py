"""Every Python library the modules need on the OMS host that is missing is named in one run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BIN = os.path.dirname(sys.executable)


def in_a_python_where(code_before, code):
    """Run `code` in a fresh Python where `code_before` has made some libraries unimportable."""
    program = ("import sys\n%s\nfrom ansible_collections.obtools.oms.plugins.module_utils import "
               "host_libraries\n%s\n" % (code_before, code))
    env = dict(os.environ, PYTHONPATH=os.environ["OMS_COLLECTIONS_DIR"])
    return subprocess.run([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, check=True).stdout


def test_every_missing_library_and_an_old_docker_sdk_are_named_together():
    old_docker = ("import types; fake = types.ModuleType('docker'); fake.__version__ = '6.1.3'; "
                  "sys.modules['docker'] = fake; sys.modules['pymysql'] = None")
    out = json.loads(in_a_python_where(old_docker, "import json; print(json.dumps("
                                                   "[host_libraries.missing(), host_libraries.message()]))"))
    lacking, message = out
    assert [pip for pip, _package, _problem in lacking] == ["docker>=7.1", "PyMySQL"]
    assert "docker>=7.1 (version 6.1.3, older than 7.1), PyMySQL (missing)" in message
    assert "-m pip install 'docker>=7.1' 'PyMySQL'" in message
    assert "CentOS 7 has 3.6" in message and "ansible_python_interpreter" in message


def test_nothing_missing_in_the_projects_python():
    assert in_a_python_where("", "print(host_libraries.missing())").strip() == "[]"


@pytest.mark.skipif(subprocess.run(["/usr/bin/python3", "-c", "import docker"], stderr=subprocess.DEVNULL,
                                   check=False).returncode == 0 or not os.path.exists("/usr/bin/python3"),
                    reason="needs a Python on this machine without the docker SDK")
def test_a_module_run_by_a_bare_python_names_every_missing_library(tmp_path):
    """The preflight's first module (oms_container_info, which itself needs only docker) run by the
    system Python, which has neither the docker SDK nor PyMySQL: both in one message."""
    play = tmp_path / "play.yml"
    play.write_text(u"""
- hosts: localhost
  gather_facts: false
  tasks:
    - obtools.oms.oms_container_info:
        name: oms_411
      register: r
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ r | to_json }}"
        dest: %s
        mode: "0600"
""" % (tmp_path / "r.json"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ["OMS_COLLECTIONS_DIR"], ANSIBLE_NOCOLOR="1")
    subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                    "ansible_python_interpreter=/usr/bin/python3", str(play)], env=env, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["failed"]
    assert "docker>=7.1 (missing)" in result["msg"] and "PyMySQL (missing)" in result["msg"], result["msg"]
    assert result["missing_libraries"][:2] == ["docker>=7.1", "PyMySQL"]
    assert "/usr/bin/python3" in result["msg"]
