"""auto_rollback: the play failed in docker_init.sh; the deployment is 4.1.1 again with the same data."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_back_on_411_with_identical_data(host):
    inst = checks.instance_of(host)
    snap = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed", inst + ".snapshot.json")
    checks.assert_rolled_back(checks.describe(inst), snap)


def test_failure_report_says_what_failed_and_what_to_do(host):
    d = checks.describe(checks.instance_of(host))
    report = json.loads(host.file(os.path.join(d["backup_dir"], "oms_upgrade_failure.json")).content_string)
    assert report["failed_step"] == "init"
    assert report["outcome"] == "failed, rolled back"
    assert "removes the stopped new container" in report["todo"]
