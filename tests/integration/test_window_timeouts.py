"""A documented timeout is enforced by the step it names (issue 27): a dump slower than
oms_upgrade_dump_timeout fails the window's step 2.3, its clients are killed, and the window rolls
back on the host (4.1.1 serving, rows as before, by the tests' own reading) instead of hanging
inside the downtime until the job's async limit.

The slow dump is the real mysqldump behind a wrapper that waits first (oms_upgrade_mysqldump_path),
as a MetaDB behind a slow link would make it.
"""
import json
import os
import stat
import subprocess
import tempfile

import docker

from ha_value import ha_raw, set_ha
from playbooks import journal, run_playbook, serves, tail, write_inventory
from rows import differences, table_rows

SLOW_MYSQLDUMP = """#!/bin/sh
# mysqldump that takes its time before it starts (but answers --version at once)
case "$1" in --version|-V) ;; *) sleep 30 ;; esac
exec mysqldump "$@"
"""


def test_a_dump_slower_than_its_timeout_rolls_back(instance):
    """With HA on before the upgrade: the window's own undo puts it back, and the rollback role the
    failed run then includes never turns it off again."""
    d = instance
    ha_before = json.loads(set_ha(d, enable=True))
    before = table_rows(d)
    work = tempfile.mkdtemp(prefix="oms-slow-dump-")
    wrapper = os.path.join(work, "mysqldump")
    with open(wrapper, "w") as handle:
        handle.write(SLOW_MYSQLDUMP)
    os.chmod(wrapper, stat.S_IRWXU)
    run = run_playbook(write_inventory(d), "upgrade", {"oms_upgrade_mysqldump_path": wrapper,
                                                       "oms_upgrade_dump_timeout": "5"})
    assert run.rc != 0, tail(run)
    j = journal(d)
    window = j["window"]
    assert window["outcome"] == "rolled_back", window
    assert "backup took longer than its timeout of 5 s (dump_timeout)" in window["error"], window
    assert j["steps"]["backup"]["status"] == "failed"
    # the dump's clients were killed: none is left running the wrapper
    assert subprocess.run(["pgrep", "-f", wrapper], stdout=subprocess.PIPE, check=False).stdout == b""
    assert "dump_timeout" in run.output, tail(run)
    assert serves(d, d["old_container"]), tail(run)
    assert docker.from_env().containers.get(d["old_container"]).status == "running"
    assert differences(before, table_rows(d)) == []
    # the window never got to the new container: nothing of it to undo
    assert "run_new" not in j["steps"] and j["steps"]["rollback_start_old"]["status"] == "done"
    assert "rollback_ha_off" not in j["steps"], j["steps"].keys()
    ha_after = json.loads(ha_raw(d))
    assert dict(ha_after, refetchStoreIntervalMin=None) == dict(ha_before, refetchStoreIntervalMin=None), \
        (ha_before, ha_after)


def test_a_new_attempt_removes_the_new_container_a_rolled_back_attempt_created(instance, testbed):
    """docker_init.sh fails: the attempt rolls back, leaving its exited 4.2.0 container. The next
    run starts a new attempt, removes that container (stopped, the id its journal recorded) and
    upgrades, with no docker rm typed in between."""
    from conftest import INSTANCE
    d = instance
    inventory = write_inventory(d)
    testbed.set_faults(INSTANCE, ["init_fail_halfway"])
    try:
        failed = run_playbook(inventory, "upgrade")
    finally:
        testbed.set_faults(INSTANCE, [])
    assert failed.rc != 0 and journal(d)["window"]["outcome"] == "rolled_back", tail(failed)
    left = docker.from_env().containers.get(d["new_container"])
    assert left.status == "exited"
    again = run_playbook(inventory, "upgrade")
    assert again.rc == 0, tail(again)
    assert "Remove the new container the rolled-back attempt created" in again.output
    new = docker.from_env().containers.get(d["new_container"])
    assert new.id != left.id and new.status == "running"
