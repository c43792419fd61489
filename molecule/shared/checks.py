"""What the molecule verifiers check, over the test bed's real engine and MetaDB."""
import hashlib
import json
import os
import subprocess
import sys

import docker

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "testbed"))
from obtestbed.access import describe, query  # noqa: E402  pylint: disable=wrong-import-position


def instance_of(host):
    return host.backend.get_hostname()


def journal(d):
    with open(os.path.join(d["backup_dir"], "oms_upgrade_journal.json")) as handle:
        return json.load(handle)


def container(name):
    client = docker.from_env()
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def versions(d):
    m = d["metadb"]
    return {m[k]: query(d, "SELECT version FROM `%s`.oms_meta_version" % m[k])[0][0] for k in ("rm_db", "cm_db", "cm_hb_db")}


def ha_config(d):
    row = query(d, "SELECT cfg_value FROM `%s`.oms_normal_config WHERE cfg_name='ha.config'" % d["metadb"]["rm_db"])
    return json.loads(row[0][0])


def assert_ha_as_found(d):
    """ha.config as the upgrade's step 1 found it (issue 20.1): without HA before, byte for byte the
    same; with HA, on again, and only perceiveStoreClientCheckpoint and refetchStoreIntervalMin
    (the procedure's steps 8 and 9.6) may differ."""
    facts = journal(d)["facts"]
    before, now = facts["ha_config_before"], ha_config(d)
    if not before.get("enable"):
        assert now == before, (before, now)
        raw = query(d, "SELECT cfg_value FROM `%s`.oms_normal_config WHERE cfg_name='ha.config'"
                    % d["metadb"]["rm_db"])[0][0]
        assert raw == facts["ha_config_before_raw"]
    else:
        procedure = ("perceiveStoreClientCheckpoint", "refetchStoreIntervalMin")
        assert {k: v for k, v in now.items() if k not in procedure} == \
            {k: v for k, v in before.items() if k not in procedure}, (before, now)


def binds(c):
    return sorted(b.split(":")[0] + ":" + b.split(":")[1] for b in c.attrs["HostConfig"]["Binds"] or [])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot_diff(instance, snapfile):
    """The differences from a snapshot, one line each; [] when equal. A crash is an error, not []."""
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"),
                          os.path.join(ROOT, "molecule", "shared", "metadb_snapshot.py"),
                          "compare", instance, snapfile], capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1) or (out.returncode == 1 and not out.stdout.strip()):
        raise AssertionError("metadb_snapshot.py compare failed (rc=%d): %s" % (out.returncode, out.stderr))
    return out.stdout.splitlines() if out.returncode else []


def assert_nothing_changed(host):
    """Containers, versions, ha.config, the MetaDB (against the snapshot) and the backup dir as before."""
    inst = instance_of(host)
    d = describe(inst)
    eph = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed")
    assert container(d["old_container"]).status == "running"
    assert container(d["new_container"]) is None
    assert set(versions(d).values()) == {"4.1.1-CE"}
    assert ha_config(d)["enable"] is False
    assert snapshot_diff(inst, os.path.join(eph, inst + ".snapshot.json")) == []
    with open(os.path.join(eph, inst + ".before.json")) as handle:
        before = json.load(handle)
    backup = host.file(d["backup_dir"])
    assert ("%04o" % backup.mode if backup.exists else None) == before["backup_dir_mode"]
    if backup.exists:
        assert os.listdir(d["backup_dir"]) == []


def assert_upgraded(d):
    new, old = container(d["new_container"]), container(d["old_container"])
    assert new is not None and new.status == "running"
    # Config.Image, not the image's current tags: another instance's `testbed up` may untag the shared image.
    assert new.attrs["Config"]["Image"] == d["target_image"]
    assert "IS_UPGRADE=true" in new.attrs["Config"]["Env"]
    assert old is not None and old.status == "exited", "the old container must be kept, stopped"
    assert binds(new) == binds(old)
    assert set(versions(d).values()) == {"4.2.0-CE"}


def assert_rolled_back(d, snapfile=None):
    new, old = container(d["new_container"]), container(d["old_container"])
    assert old is not None and old.status == "running"
    assert new is None or new.status != "running"
    assert set(versions(d).values()) == {"4.1.1-CE"}
    assert_ha_as_found(d)
    if snapfile:
        diff = snapshot_diff(d["instance"], snapfile)
        assert diff == [], diff
