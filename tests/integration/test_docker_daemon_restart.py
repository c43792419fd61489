"""A Docker daemon restart while the upgrade holds the old container stopped (issue 10, item 5).

The test bed's old container runs with --restart always, as OMS hosts often do. Between the stop
(step 2.1) and the new container's start, dockerd restarts for real (SIGTERM, then started again):
the old container must stay stopped, or two OMS would run on one MetaDB. A container of the
test's own with --restart always shows that the daemon did apply restart policies when it came
back. The rollback then starts the old container again with its policy.

A daemon restart stops every container of the machine: the test brings the MetaDB back itself,
and must never run beside another suite (scripts/test.sh runs it alone, after the other
integration tests and after the OceanBase pass that runs beside them).
"""
import os
import signal
import subprocess
import sys
import time

import docker

from conftest import INSTANCE, REPO
from playbooks import journal, run_playbook, tail, write_inventory

sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
from obtestbed import deployment  # noqa: E402  pylint: disable=wrong-import-position


def dockerd_pid():
    found = subprocess.run(["pidof", "dockerd"], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    pids = found.stdout.split()
    assert len(pids) == 1, "expected one dockerd, found %r" % pids
    return int(pids[0])


def running(pid):
    """The process exists and is not a zombie (a dockerd this process started, stopped, is one
    until it is reaped: its /proc entry stays)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


def restart_dockerd(testbed):
    """SIGTERM, as a service restart does; a daemon still stopping its containers after 300 s (a
    busy CI machine) gets SIGKILL, as a host crash would: either way it comes back and applies
    the restart policies, which is what the tests look at."""
    pid = dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 300
    while running(pid) and time.time() < deadline:
        time.sleep(0.5)
    if running(pid):
        os.kill(pid, signal.SIGKILL)
        while running(pid):
            time.sleep(0.5)
    testbed.engine()  # starts dockerd again and waits until it answers


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, what
        time.sleep(1)


def status(client, name):
    return client.containers.get(name).status


def test_old_container_stays_down_through_a_daemon_restart(testbed, instance):
    d = instance
    client = docker.from_env()
    assert client.containers.get(d["old_container"]).attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
    inventory = write_inventory(d)
    first = run_playbook(inventory, "upgrade", {"oms_upgrade_stop_after_step": "backup"})
    assert first.rc == 0, tail(first)
    assert status(client, d["old_container"]) == "exited"

    control = client.containers.run(d["source_image"], entrypoint=["sleep", "infinity"], detach=True,
                                    name="obtb-restart-control-%s" % INSTANCE,
                                    restart_policy={"Name": "always"},
                                    labels={"obtools.testbed.instance": INSTANCE})
    try:
        restart_dockerd(testbed)
        client = docker.from_env()
        wait_for(lambda: status(client, control.name) == "running", 90,
                 "the control container (--restart always) did not come back: the daemon applied no policy")
        time.sleep(5)  # the daemon starts the containers it restarts one after another
        assert status(client, d["old_container"]) == "exited", \
            "the old container came back after a daemon restart, beside the upgrade"
        testbed.metadb()  # the restart stopped the MetaDB, which has no restart policy

        # After the restart, the rollback starts the old container again with its policy.
        resumed = run_playbook(inventory, "rollback", limit=INSTANCE)
        assert resumed.rc == 0, tail(resumed)
        old = client.containers.get(d["old_container"])
        assert old.status == "running"
        assert old.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
        assert journal(d)["steps"]["rollback_start_old"]["status"] == "done"
        wait_for(lambda: ((deployment.health(d["console_url"]) or {}).get("data") or {}).get("healthy"), 120,
                 "the old container does not serve after the rollback")
    finally:
        client.containers.get(control.name).remove(force=True)


def only_old_runs(client, d):
    old = client.containers.get(d["old_container"])
    new = client.containers.get(d["new_container"])
    return old.status == "running" and new.status == "exited"


def test_after_a_rollback_a_daemon_restart_brings_back_only_4_1_1(testbed, instance):
    """Every container the upgrade or the rollback leaves stopped has restart policy no: after a
    failed upgrade that rolled back by itself (docker_init.sh failing half way), and after the
    rollback of a completed upgrade, a daemon restart starts 4.1.1 (restart always) and never 4.2.0
    beside it on the same ports and directories."""
    d = instance
    inventory = write_inventory(d)
    client = docker.from_env()
    testbed.set_faults(INSTANCE, ["init_fail_halfway"])
    try:
        failed = run_playbook(inventory, "upgrade")
    finally:
        testbed.set_faults(INSTANCE, [])
    assert failed.rc != 0 and "rolled back" in failed.output, tail(failed)
    for attempt in ("after the failed upgrade", "after the rollback of a completed upgrade"):
        if attempt.startswith("after the rollback"):
            client.containers.get(d["new_container"]).remove()
            done = run_playbook(inventory, "upgrade")
            assert done.rc == 0, tail(done)
            back = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true"}, limit=INSTANCE)
            assert back.rc == 0, tail(back)
        assert client.containers.get(d["new_container"]).attrs["HostConfig"]["RestartPolicy"]["Name"] in ("no", "")
        restart_dockerd(testbed)
        client = docker.from_env()
        wait_for(lambda: status(docker.from_env(), d["old_container"]) == "running", 90,
                 "4.1.1 (restart always) did not come back %s" % attempt)
        time.sleep(5)  # the daemon starts the containers it restarts one after another
        assert only_old_runs(client, d), "4.2.0 came back beside 4.1.1 %s" % attempt
        testbed.metadb()  # the restart stopped the MetaDB, which has no restart policy
        wait_for(lambda: ((deployment.health(d["console_url"]) or {}).get("data") or {}).get("healthy"), 180,
                 "4.1.1 does not serve %s and a daemon restart" % attempt)
