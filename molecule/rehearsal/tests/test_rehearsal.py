"""rehearsal: two rehearsals passed and left nothing; the upgrade then ran, and its report shows
the rehearsal with the predicted against the measured window."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_rehearsal_passed_and_is_recorded(host):
    d = checks.describe(checks.instance_of(host))
    with open(os.path.join(d["backup_dir"], "oms_rehearsal_journal.json")) as handle:
        step = json.load(handle)["steps"]["rehearsal"]
    assert step["status"] == "done" and step["attempts"] == 2
    assert step["data"]["rehearsal_outcome"] == "passed"
    assert step["data"]["rehearsal_leftovers"] == {"containers": [], "databases": [], "user": None,
                                                   "workdir": None}
    assert step["data"]["rehearsal_predicted_window"]["total"] > 0


def test_nothing_of_the_rehearsal_is_left(host):
    d = checks.describe(checks.instance_of(host))
    out = host.check_output("docker ps -a --filter label=obtools.oms.rehearsal=%s --format '{{.Names}}'"
                            % d["old_container"])
    assert out.strip() == ""
    rows = checks.query(d, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                           "WHERE SCHEMA_NAME LIKE 'obrh\\\\_%%%s%%'" % d["instance"])
    assert list(rows) == []


def test_upgraded_and_the_report_shows_the_prediction(host):
    d = checks.describe(checks.instance_of(host))
    checks.assert_upgraded(d)
    with open(os.path.join(d["backup_dir"], "oms_upgrade_report.json")) as handle:
        report = json.load(handle)
    assert report["rehearsal"]["outcome"] == "passed"
    assert report["rehearsal"]["predicted_window"]["total"] > 0 and report["downtime_seconds"] > 0
    assert any(line.startswith("Rehearsal: migration rehearsed on a copy: passed")
               for line in report["summary"])
