"""Fixtures shared by the integration tests: the test bed and a way to run one module for real.

Modules run through ansible-playbook on localhost, exactly as a role runs them, so that argument
specs, check mode, diff and no_log are exercised. Arguments travel in a 0600 vars file, never on a
command line, because some of them are passwords.
"""

import json
import os
import warnings
import subprocess
import sys
import tempfile

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))

from obtestbed import Testbed, naming  # noqa: E402  pylint: disable=wrong-import-position

import returns_doc  # noqa: E402  pylint: disable=wrong-import-position


class ReturnsDocWarning(UserWarning):
    """A module returned something its RETURN documentation does not say (returns_doc.problems)."""


def ansible_env():
    """Environment that makes this checkout the collection obtools.oms (tests/conftest.py links it)."""
    collections = os.environ["OMS_COLLECTIONS_DIR"]
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PATH": os.path.join(REPO, ".venv", "bin") + os.pathsep + env.get("PATH", ""),
    })
    return env


class ModuleRun(object):
    """The registered result of one module call, plus the play's own output for assertions."""

    def __init__(self, result, rc, output):
        self.result = result
        self.rc = rc
        self.output = output

    def __getitem__(self, key):
        return self.result[key]

    def __contains__(self, key):
        return key in self.result

    def get(self, key, default=None):
        return self.result.get(key, default)

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def changed(self):
        return bool(self.result.get("changed"))


def run_module(name, args, check=False, diff=False, timeout=900):
    """Run obtools.oms.<name> once on localhost and return its registered result.

    The task never stops the play (ignore_errors), so a failure comes back as a result with
    failed=true and msg, which is what the tests assert on.
    """
    work = tempfile.mkdtemp(prefix="oms-it-")
    args_file = os.path.join(work, "args.yml")
    result_file = os.path.join(work, "result.json")
    fd = os.open(args_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"module_args": args, "result_file": result_file}, f)
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [args_file],
        "tasks": [
            {"name": "Run the module under test",
             "obtools.oms.%s" % name: "{{ module_args }}",
             "register": "module_result",
             "ignore_errors": True},
            {"name": "Keep the result",
             "ansible.builtin.copy": {"content": "{{ module_result | to_json }}",
                                      "dest": "{{ result_file }}", "mode": "0600"},
             "check_mode": False, "diff": False},
        ],
    }]
    play_file = os.path.join(work, "play.yml")
    with open(play_file, "w") as f:
        yaml.safe_dump(play, f)
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,",
           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable, play_file]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=ansible_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout,
                          check=False)
    if not os.path.exists(result_file):
        raise AssertionError("ansible-playbook produced no result (rc=%s):\n%s"
                             % (proc.returncode, proc.stdout))
    with open(result_file) as f:
        result = json.load(f)
    undocumented = returns_doc.problems(name, args, result)
    if undocumented:
        message = "RETURN of %s does not match what it returned:\n%s" % (name, "\n".join(undocumented))
        # A RETURN that is not true fails the test; OMS_STRICT_RETURNS=0 only warns (pytest's
        # warnings summary), to see every mismatch of a run at once.
        assert os.environ.get("OMS_STRICT_RETURNS", "1") == "0", message
        warnings.warn(message, ReturnsDocWarning, stacklevel=2)
    return ModuleRun(result, proc.returncode, proc.stdout)


# Several suites (and developers) may share one engine and MetaDB: each uses its own instance.
INSTANCE = os.environ.get("OMS_TEST_INSTANCE", "a")


@pytest.fixture(scope="session")
def testbed():
    """The test bed with this run's instance up; left up at the end for the next suite to reuse.
    Its MetaDB engine is OMS_TESTBED_METADB's (MariaDB when unset), whatever it was before."""
    bed = Testbed(metadb_engine=naming.metadb_engine_env() or naming.MARIADB)
    bed.up([INSTANCE])
    return bed


@pytest.fixture
def instance(testbed):
    """This run's instance reset to a fresh 4.1.1 deployment; its description (`testbed describe`)."""
    testbed.reset(INSTANCE)
    return testbed.describe(INSTANCE)


@pytest.fixture(name="run_module")
def run_module_fixture():
    return run_module
