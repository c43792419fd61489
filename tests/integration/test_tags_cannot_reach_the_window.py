"""No tag, skipped tag or --start-at-task reaches the stop of the old container without this
attempt's preflight and step 1 (HA off) recorded done: the window (oms_upgrade_window) refuses,
having changed nothing. Once run as `--tags backup`, the whole window ran with no preflight and HA
still on (issue 22).

Each case starts from a fresh journal on a serving 4.1.1 deployment and checks, with Docker's own
view, that the old container never stopped (same start time, still running) and that the journal
records no stop.
"""
import json
import os

import docker
import pymysql
import pytest

from playbooks import journal, run_playbook, tail, write_inventory

# Every tag of the role that its README (roles/oms_upgrade/README.md) advertises, and the two phases one could skip.
CASES = [
    ("--tags", "backup"), ("--tags", "container"), ("--tags", "health"), ("--tags", "ha_on"),
    ("--tags", "image"), ("--tags", "report"),
    ("--skip-tags", "preflight"), ("--skip-tags", "ha_off"),
    ("--start-at-task", "Steps 2 to 8 | The downtime window on the OMS host (stop, prune, dump, docker run 4.2.0, "
                        "docker_init.sh, servers Online, HA on)"),
]


@pytest.fixture(scope="module")
def deployment(testbed):
    from conftest import INSTANCE
    testbed.reset(INSTANCE)
    return testbed.describe(INSTANCE)


@pytest.mark.parametrize("option,value", CASES, ids=["%s %s" % (o, v.split(" ")[0]) for o, v in CASES])
def test_the_old_container_never_stops(deployment, option, value):
    d = deployment
    path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    for leftover in (path, path + ".lock"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    client = docker.from_env()
    started = client.containers.get(d["old_container"]).attrs["State"]["StartedAt"]

    # the MetaDB given in the inventory, as the docs allow: nothing else stands in the way of the stop
    metadb = dict(("oms_metadb_%s" % key, d["metadb"][key]) for key in ("host", "port", "user", "password"))
    metadb.update(("oms_metadb_%s" % key, d["metadb"][key]) for key in ("rm_db", "cm_db", "cm_hb_db"))
    run = run_playbook(write_inventory(d, metadb), "upgrade", args=(option, value))

    old = client.containers.get(d["old_container"])
    assert old.status == "running", tail(run)
    assert old.attrs["State"]["StartedAt"] == started, "the old container was restarted:\n" + tail(run)
    steps = journal(d).get("steps", {}) if os.path.exists(path) else {}
    assert "stop_old" not in steps, tail(run)
    if option == "--start-at-task" or value in ("image", "report"):
        return  # the window is not among the tasks these select (or reach: an include's task is not found)
    assert run.rc != 0, "the run did not refuse:\n" + tail(run)
    # --tags backup meets the prune ahead first: it deletes while OMS serves, so it wants this
    # run's preflight too
    assert "refuses to stop the old container" in run.output \
        or "runs only after a preflight of the same run" in run.output, tail(run)


def fresh(d):
    path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    for leftover in (path, path + ".lock"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    return docker.from_env().containers.get(d["old_container"]).attrs["State"]["StartedAt"]


def never_stopped(d, started, run):
    old = docker.from_env().containers.get(d["old_container"])
    assert old.status == "running" and old.attrs["State"]["StartedAt"] == started, tail(run)
    path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    assert "stop_old" not in (journal(d).get("steps", {}) if os.path.exists(path) else {}), tail(run)
    assert run.rc != 0, "the run did not refuse:\n" + tail(run)


def test_a_failed_rehearsal_refuses_the_stop_even_with_skip_tags_rehearsal(deployment):
    """oms_upgrade_rehearsal_required is checked by the preflight (every host before any is touched)
    and again by the window on the OMS host right before the stop: --skip-tags rehearsal gets past
    neither."""
    d = deployment
    started = fresh(d)
    record = os.path.join(d["backup_dir"], "oms_rehearsal_journal.json")
    with open(record, "w") as handle:
        json.dump({"format": 1, "facts": {}, "steps": {"rehearsal": {
            "status": "failed", "started_at": "2026-12-07T10:00:00.000Z", "finished_at": "2026-12-07T10:05:00.000Z",
            "error": "docker_init.sh failed on the copy", "data": {"rehearsal_outcome": "failed"}}}}, handle)
    try:
        run = run_playbook(write_inventory(d), "upgrade", args=("--skip-tags", "rehearsal"))
    finally:
        os.unlink(record)
    never_stopped(d, started, run)
    assert "The window is refused: the last rehearsal" in run.output \
        or "refuses to stop the old container: the last rehearsal" in run.output, tail(run)
    assert "oms_upgrade_rehearsal_required=false" in run.output, tail(run)


def test_a_dba_session_on_rm_refuses_the_stop_naming_it(deployment):
    """A session of another user left open on rm would make the dump inside the window refuse,
    after the stop: the window refuses before it, naming the session, and OMS never stops."""
    d = deployment
    started = fresh(d)
    root = d["metadb_root"]
    dba = pymysql.connect(user=root["user"], password=root["password"], database=d["metadb"]["rm_db"],
                          **({"unix_socket": root["socket"]} if root.get("socket")
                             else {"host": root["host"], "port": int(root["port"])}))
    try:
        with dba.cursor() as cur:
            cur.execute("SELECT 1")
        run = run_playbook(write_inventory(d), "upgrade")
    finally:
        dba.close()
    never_stopped(d, started, run)
    assert "other sessions use" in run.output and d["metadb"]["rm_db"] in run.output, tail(run)
    assert "End those sessions" in run.output, tail(run)
