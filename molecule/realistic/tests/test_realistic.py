"""realistic: OMS-like durations and every survivable unfavourable side; the upgrade passed (its
journal says how), the rollback gave back the snapshot row for row."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def snapfile(host):
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed",
                        checks.instance_of(host) + ".snapshot.json")


def test_rolled_back_to_the_snapshot_row_for_row(host):
    checks.assert_rolled_back(checks.describe(checks.instance_of(host)), snapfile(host))


def test_the_realistic_lifecycle_was_met(host):
    d = checks.describe(checks.instance_of(host))
    assert d["profile"]["name"] == "realistic" and d["profile"]["boot_seconds"] >= 60
    steps = checks.journal(d)["steps"]
    # docker_init.sh took its realistic time (how many attempts the boot cost depends on the
    # machine's speed; the integration tests show the retry itself) and printed its line
    assert int(steps["init"]["data"]["init_attempts"]) >= 1
    assert float(steps["init"]["data"]["init_duration"]) >= d["profile"]["init_seconds"]
    with open(os.path.join(d["mounts"]["logs"], "docker_init.log"), encoding="utf-8") as handle:
        assert u"\u5168\u90e8\u521d\u59cb\u5316\u6b65\u9aa4\u6267\u884c\u6210\u529f" in handle.read()


def test_health_was_judged_without_oms_health(host):
    d = checks.describe(checks.instance_of(host))
    signals = checks.journal(d)["steps"]["health"]["data"]["health_signals"]
    assert any("OpenAPI ListProjects" in s and "404" in s for s in signals), signals
    assert any("written after" in s for s in signals), signals
