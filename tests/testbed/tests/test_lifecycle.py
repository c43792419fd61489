"""up / describe / reset / down / images: the interface of contract.md, on the real engine."""

import json
import os
import stat
import subprocess
import tarfile
import time

import docker
import pymysql
import pytest

from conftest import MAIN, SPARE, connect, healthy, query
from obtestbed import Testbed, images, naming
from obtestbed.naming import Instance

CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testbed")


def test_names_ports_and_databases_follow_the_contract():
    a, b, other = Instance("a", "/r"), Instance("b", "/r"), Instance("t1", "/r")
    assert (a.old_container, a.new_container) == ("oms_a_411", "oms_a_420")
    assert a.databases == ["rm_411", "cm_411", "cm_hb_411"] and a.console_port == 8089
    assert b.databases == ["b_rm_411", "b_cm_411", "b_cm_hb_411"] and b.console_port == 8189
    assert other.databases == ["t1_rm_411", "t1_cm_411", "t1_cm_hb_411"]
    assert other.console_port == Instance("t1", "/x").console_port
    assert other.console_port not in (8089, 8189)
    with pytest.raises(ValueError):
        Instance("A;drop", "/r")


def test_describe_has_every_agreed_key(fresh):
    info = fresh
    for key in ("instance", "old_container", "new_container", "host_dir", "config_file", "mounts",
                "backup_dir", "ssl_certificate", "ssl_key", "oms_host_ip", "console_url",
                "console_user", "console_password", "metadb", "metadb_root", "image_repository",
                "source_image", "target_image", "image_archive"):
        assert key in info, key
    assert info["old_container"] == "oms_%s_411" % MAIN
    assert info["new_container"] == "oms_%s_420" % MAIN
    assert set(info["mounts"]) == {"config", "logs", "store", "run"}
    assert info["mounts"]["config"] == info["config_file"].rstrip()
    assert info["config_file"] == os.path.join(info["host_dir"], "config.yaml")
    assert info["metadb"]["port"] == naming.metadb_spec(info["metadb"]["engine"]).port
    assert info["metadb"]["user"] == "oms_meta"
    assert info["metadb"]["rm_db"] == "%s_rm_411" % MAIN
    assert info["source_image"] == info["image_repository"] + ":feature_4.1.1-ce"
    assert info["target_image"] == info["image_repository"] + ":feature_4.2.0-ce"
    out = subprocess.run([CLI, "describe", MAIN], stdout=subprocess.PIPE, check=True).stdout
    assert json.loads(out)["console_password"] == info["console_password"]


def test_old_container_runs_as_the_docs_say_minus_privileged(bed, fresh):
    attrs = bed.client.containers.get(fresh["old_container"]).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["Privileged"] is False
    assert host["PidsLimit"] in (-1, 0, None) or host["PidsLimit"] < 0
    assert {"Name": "nproc", "Soft": 65535, "Hard": 65535} in host["Ulimits"]
    assert sorted(host["Binds"]) == sorted([
        "%s:/home/admin/conf/config.yaml" % fresh["mounts"]["config"],
        "%s:/home/admin/logs" % fresh["mounts"]["logs"],
        "%s:/home/ds/store" % fresh["mounts"]["store"],
        "%s:/home/ds/run" % fresh["mounts"]["run"]])
    assert "OMS_HOST_IP=127.0.0.1" in attrs["Config"]["Env"]
    assert attrs["Config"]["Image"] == fresh["source_image"]
    assert attrs["Config"]["Tty"] is True


def test_target_image_only_as_tarball(bed, fresh):
    # Other developers' upgraded containers may hold the shared tag: use a repository of our own.
    own = Testbed(image_repo="obtools-testbed/oms-selftest")
    source, archive = own.images()
    assert source == "obtools-testbed/oms-selftest:feature_4.1.1-ce"
    assert archive != fresh["image_archive"]
    with pytest.raises(docker.errors.ImageNotFound):
        bed.client.images.get(own.target_image)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [own.target_image]
    with open(archive, "rb") as f:
        bed.client.images.load(f.read())
    own.images()  # loaded but unused: up/images untag it again
    with pytest.raises(docker.errors.ImageNotFound):
        bed.client.images.get(own.target_image)
    with tarfile.open(fresh["image_archive"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [fresh["target_image"]]


def test_images_are_cached_by_source_hash(bed):
    before = bed.client.images.get(bed.source_image).id
    mtime = os.path.getmtime(images.archive_path(bed.root, bed.image_repo))
    started = time.monotonic()
    bed.images()
    assert time.monotonic() - started < 10
    assert bed.client.images.get(bed.source_image).id == before
    assert os.path.getmtime(images.archive_path(bed.root, bed.image_repo)) == mtime
    assert bed.client.images.get(bed.source_image).labels[images.HASH_LABEL] == \
        images.source_hash(bed.client.images.get(naming.BASE_DEBIAN).id, bed.image_repo)


def test_metadb_user_is_named_with_private_password_files(bed, fresh):
    assert fresh["metadb"]["user"] != "root" and fresh["metadb"]["password"]
    for name in ("oms_meta.password", "root.password"):
        mode = os.stat(os.path.join(bed.root, naming.metadb_spec(fresh["metadb"]["engine"]).subdir,
                                    name)).st_mode
        assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(fresh["config_file"]).st_mode) == 0o600
    # oms_meta may drop and create its own databases (the rollback does) ...
    conn = connect(fresh)
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE t1_cm_hb_411")
        cur.execute("CREATE DATABASE t1_cm_hb_411")
    conn.close()
    # ... but not touch other databases
    conn = connect(fresh)
    with pytest.raises(pymysql.MySQLError):
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE t1xrm_411")
    conn.close()
    with pytest.raises(pymysql.MySQLError):
        query(fresh, "SELECT 1", database="mysql")


def test_reset_is_fresh_and_fast(bed, fresh):
    info = fresh
    query(info, "INSERT INTO t1_rm_411.oms_normal_config (cfg_name, cfg_value, gmt_created, "
          "gmt_modified) VALUES ('marker', 'x', NOW(), NOW())")
    with open(os.path.join(info["mounts"]["store"], "leftover"), "w") as f:
        f.write("x")
    started = time.monotonic()
    info2 = bed.reset(MAIN)
    assert time.monotonic() - started < 20
    assert healthy(info2) and bed.host_status(MAIN) == "ONLINE"
    assert not query(info2, "SELECT 1 FROM t1_rm_411.oms_normal_config WHERE cfg_name='marker'")
    assert not os.path.exists(os.path.join(info["mounts"]["store"], "leftover"))
    assert info2["console_password"] != info["console_password"]


def test_reset_removes_upgraded_containers(bed, fresh):
    extra = bed.client.containers.run(
        fresh["source_image"], ["sleep", "60"], name="obtb_t1_extra", detach=True,
        labels={"obtools.oms.upgraded_from": fresh["old_container"]})
    bed.reset(MAIN)
    with pytest.raises(docker.errors.NotFound):
        bed.client.containers.get(extra.id)


def test_two_instances_side_by_side_and_down_removes_only_its_own(spare, fresh):
    bed = spare
    bed.up([SPARE])
    other = bed.describe(SPARE)
    assert other["console_url"] != fresh["console_url"]
    assert healthy(other) and healthy(fresh)
    assert bed.host_status(SPARE) == "ONLINE"
    subprocess.run([CLI, "down", SPARE], check=True)
    with pytest.raises(docker.errors.NotFound):
        bed.client.containers.get(other["old_container"])
    assert not os.path.exists(other["host_dir"])
    assert not query(fresh, "SELECT 1 FROM information_schema.schemata WHERE schema_name LIKE "
                     "'t2\\_%%'")
    assert healthy(fresh) and bed.client.containers.get(fresh["old_container"]).status == "running"
    assert os.path.exists(fresh["image_archive"])
    bed.client.images.get(fresh["source_image"])


def test_fault_cli_writes_and_clears_the_file(fresh):
    subprocess.run([CLI, "fault", MAIN, "never_online", "slow_start=3"], check=True)
    path = os.path.join(fresh["mounts"]["run"], "oms_sim_faults")
    with open(path) as f:
        assert f.read().split() == ["never_online", "slow_start=3"]
    bad = subprocess.run([CLI, "fault", MAIN, "explode"], stderr=subprocess.PIPE, check=False)
    assert bad.returncode != 0 and b"unknown fault" in bad.stderr
    subprocess.run([CLI, "fault", MAIN, "--clear"], check=True)
    assert not os.path.exists(path)


def test_status_reports_instances(bed, fresh):
    out = json.loads(subprocess.run([CLI, "status"], stdout=subprocess.PIPE, check=True).stdout)
    assert out["engine"] is True and out["metadb"] == "running"
    assert out["instances"][MAIN]["containers"][fresh["old_container"]] == "running"
    assert out["instances"][MAIN]["healthy"] is True


def test_engine_step_answers_or_fails_clearly():
    assert subprocess.run([CLI, "engine"], check=False).returncode == 0
    bad = subprocess.run([CLI, "engine"], stderr=subprocess.PIPE, universal_newlines=True,
                         env=dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock"),
                         check=False)
    assert bad.returncode != 0 and "does not answer" in bad.stderr
