"""Run the collection's playbooks (upgrade, rollback) on a test-bed instance, as an operator does.

The instance's inventory variables (secrets included) go into a 0600 host_vars file of a private
inventory directory, never onto a command line; only the extra vars a test asks for travel with
-e (as strings, exactly as an operator types them).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import docker
import yaml

from conftest import REPO, ansible_env

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
from testbed_vars import inventory_vars  # noqa: E402  pylint: disable=wrong-import-position
from obtestbed import deployment  # noqa: E402  pylint: disable=wrong-import-position


class PlaybookRun(object):
    def __init__(self, rc, output, seconds):
        self.rc = rc
        self.output = output
        self.seconds = seconds

    def __repr__(self):
        return "PlaybookRun(rc=%s, %.0f s)" % (self.rc, self.seconds)


def write_inventory(description, extra_host_vars=None):
    """A private inventory directory: group oms with the instance as its only host."""
    work = tempfile.mkdtemp(prefix="oms-pb-")
    name = description["instance"]
    os.makedirs(os.path.join(work, "host_vars"))
    with open(os.path.join(work, "hosts.yml"), "w") as handle:
        yaml.safe_dump({"oms": {"hosts": {name: {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}},
                       handle)
    data = inventory_vars(description)
    data.update(extra_host_vars or {})
    fd = os.open(os.path.join(work, "host_vars", name + ".yml"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle)
    return work


def playbook_command(inventory, playbook, extra_vars=None, limit=None, args=()):
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory,
           os.path.join(REPO, "playbooks", playbook + ".yml")]
    for key, value in sorted((extra_vars or {}).items()):
        cmd += ["-e", "%s=%s" % (key, value)]  # a string, as typed on a command line
    if limit:
        cmd += ["-l", limit]
    return cmd + list(args)


def run_playbook(inventory, playbook, extra_vars=None, limit=None, args=(), timeout=1200):
    start = time.time()
    proc = subprocess.run(playbook_command(inventory, playbook, extra_vars, limit, args),
                          env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    return PlaybookRun(proc.returncode, proc.stdout, time.time() - start)


def journal(description):
    path = os.path.join(description["backup_dir"], "oms_upgrade_journal.json")
    with open(path) as handle:
        return json.load(handle)


def tail(run, lines=60):
    return "\n".join(run.output.splitlines()[-lines:])


def serves(d, container, wait=60):
    """The container runs and the console says healthy (within `wait` s: it may be starting)."""
    deadline = time.time() + wait
    while True:
        c = docker.from_env().containers.get(container)
        if c.status == "running" and ((deployment.health(d["console_url"]) or {}).get("data") or {}).get("healthy"):
            return True
        if time.time() > deadline:
            return False
        time.sleep(1)


def kill_controller(proc, inventory):
    """SIGKILL every process of the controller, as a lost machine: its process group, and the
    workers ansible-playbook forks into sessions of their own (they would wait for ever on the
    dead parent), found by the run's private inventory directory on their command lines."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if inventory.encode() in handle.read():
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
