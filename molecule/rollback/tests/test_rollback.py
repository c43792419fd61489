"""rollback: the old container serves again with the databases of the snapshot, HA as before the upgrade."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def snapfile(host):
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed", checks.instance_of(host) + ".snapshot.json")


def test_old_container_serves_with_snapshot_data_and_ha_as_before(host):
    checks.assert_rolled_back(checks.describe(checks.instance_of(host)), snapfile(host))


def test_refetch_covers_the_downtime_and_report_has_caveat(host):
    d = checks.describe(checks.instance_of(host))
    report = json.loads(host.file(os.path.join(d["backup_dir"], "oms_rollback_report.json")).content_string)
    assert report["outcome"] == "rolled back" and report["t3"]
    # HA was off before the upgrade (the test bed's default): 9.6 leaves refetchStoreIntervalMin as it was
    assert report["ha"]["enable_after"] is False and report["ha"]["changes"] == []
    assert checks.ha_config(d)["refetchStoreIntervalMin"] == checks.journal(d)["facts"]["ha_config_before"]["refetchStoreIntervalMin"]
    assert any("JDBCWriter" in c for c in report["caveats"])
    journal = checks.journal(d)
    assert all(journal["steps"][s]["attempts"] == 1 for s in journal["steps"] if s.startswith("rollback_"))
