"""What the molecule verifiers check, over the test bed's real engine and MetaDB."""
import hashlib
import json
import os
import subprocess

import docker
import pymysql

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def describe(instance):
    out = subprocess.run([os.path.join(ROOT, "tests", "testbed", "testbed"), "describe", instance],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def instance_of(host):
    return host.backend.get_hostname()


def journal(d):
    with open(os.path.join(d["backup_dir"], "oms_upgrade_journal.json")) as handle:
        return json.load(handle)


def query(d, sql, args=None):
    m = d["metadb"]
    conn = pymysql.connect(host=m["host"], port=int(m["port"]), user=m["user"], password=m["password"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


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


def binds(c):
    return sorted(b.split(":")[0] + ":" + b.split(":")[1] for b in c.attrs["HostConfig"]["Binds"] or [])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot_diff(instance, snapfile):
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "molecule", "shared", "metadb_snapshot.py"),
                          "compare", instance, snapfile], capture_output=True, text=True)
    return out.stdout.splitlines() if out.returncode else []


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
    assert ha_config(d)["enable"] is True
    if snapfile:
        diff = snapshot_diff(d["instance"], snapfile)
        assert diff == [], diff
