"""preflight: three refusals, nothing changed: containers, MetaDB, files."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_nothing_changed(host):
    inst = checks.instance_of(host)
    d = checks.describe(inst)
    eph = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed")
    assert checks.container(d["old_container"]).status == "running"
    assert checks.container(d["new_container"]) is None
    assert set(checks.versions(d).values()) == {"4.1.1-CE"}
    assert checks.ha_config(d)["enable"] is False
    assert checks.snapshot_diff(inst, os.path.join(eph, inst + ".snapshot.json")) == []
    with open(os.path.join(eph, inst + ".before.json")) as handle:
        before = json.load(handle)
    backup = host.file(d["backup_dir"])
    assert ("%04o" % backup.mode if backup.exists else None) == before["backup_dir_mode"]
    assert not host.file(os.path.join(d["backup_dir"], "oms_upgrade_journal.json")).exists
    assert [f for f in os.listdir(d["backup_dir"])] == [] if backup.exists else True


def test_the_other_version_container_untouched(host):
    other = checks.container("oms_%s_402" % checks.instance_of(host))
    assert other is not None and other.status == "created"
