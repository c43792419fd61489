"""default: the upgrade did what the procedure says, verified on the engine, MetaDB and files."""
import json
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_new_container_runs_420_with_old_mounts_and_is_upgrade(host):
    checks.assert_upgraded(checks.describe(checks.instance_of(host)))


def test_heartbeat_table_was_pruned(host):
    d = checks.describe(checks.instance_of(host))
    steps = checks.journal(d)["steps"]
    ahead, step = steps["heartbeat_prune_ahead"], steps["heartbeat_prune"]
    # the rows of the 4.1.1 run go before the stop; step 2.2 deletes only those written since
    assert ahead["status"] == "done" and int(ahead["data"]["heartbeat_rows_deleted"]) > 0
    assert int(ahead["data"]["heartbeat_max_id"]) <= int(step["data"]["heartbeat_max_id"])
    assert step["status"] == "done" and int(step["data"]["heartbeat_rows_deleted"]) >= 0
    lowest = checks.query(d, "SELECT MIN(id) FROM `%s`.heatbeat_sequence" % d["metadb"]["cm_hb_db"])[0][0]
    assert lowest is None or lowest >= int(step["data"]["heartbeat_max_id"])


def test_three_verified_dumps_with_manifest(host):
    d = checks.describe(checks.instance_of(host))
    dump_dir = checks.journal(d)["facts"]["dump_dir"]
    with open(os.path.join(dump_dir, "manifest.json")) as handle:
        manifest = json.load(handle)
    assert sorted(db["role"] for db in manifest["databases"]) == ["cm", "cm_hb", "rm"]
    for db in manifest["databases"]:
        path = os.path.join(dump_dir, db["file"])
        assert os.path.getsize(path) == db["size"] > 0
        assert checks.sha256(path) == db["sha256"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_ha_as_step_1_found_it(host):
    """The test bed's deployment runs without HA (OMS's default): it ends without HA, ha.config
    untouched, and the report says so."""
    d = checks.describe(checks.instance_of(host))
    checks.assert_ha_as_found(d)
    report = json.loads(host.file(os.path.join(d["backup_dir"], "oms_upgrade_report.json")).content_string)
    assert report["ha"]["enable_before"] is False and report["ha"]["enable_after"] is False
    assert report["ha"]["changes"] == []


def test_report_written(host):
    d = checks.describe(checks.instance_of(host))
    report = host.file(os.path.join(d["backup_dir"], "oms_upgrade_report.json"))
    assert report.exists and report.mode == 0o600
    data = json.loads(report.content_string)
    assert data["outcome"] == "upgraded" and data["t1"] and data["t2"] and len(data["dumps"]) == 3
    assert host.file(os.path.join(d["backup_dir"], "oms_upgrade_report.md")).contains("clear the browser cache")
