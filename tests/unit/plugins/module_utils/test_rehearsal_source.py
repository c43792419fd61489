"""The serving deployment carried to another rehearsal host: the bundle the OMS host exports holds
what a local rehearsal reads (inspect data, config.yaml, run's regular files), is private, and is
gone once the rehearsal host has read it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import socket
import stat
import tarfile

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_source
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

from inspect_samples import OLD_IMAGE_411, old_411

CONFIG = "oms_meta_host: 10.0.0.5\noms_meta_password: 's3cret'\n"


class FakeEngine(object):
    def __init__(self, containers, images):
        self.containers = containers
        self.images = images

    def inspect_container(self, name):
        return self.containers.get(name)

    def inspect_image(self, ref):
        return self.images.get(ref)


def deployment(tmp_path):
    """An old container whose config and run mounts are real files under tmp_path."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    run = tmp_path / "oms_run"
    (run / "sub").mkdir(parents=True)
    (run / "oms_sim_faults").write_text("init_fail_halfway\n")
    (run / "sub" / "state.json").write_text("{}")
    os.chmod(str(run / "sub" / "state.json"), 0o640)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(run / "supervisor.sock"))
    binds = ["%s:/home/admin/conf/config.yaml" % config, "/data/oms/oms_logs:/home/admin/logs",
             "/data/oms/oms_store:/home/ds/store", "%s:/home/ds/run" % run]
    mounts = [{"Type": "bind", "Source": b.split(":")[0], "Destination": b.split(":")[1]} for b in binds]
    old = old_411(HostConfig={"Binds": binds}, Mounts=mounts)
    return FakeEngine({"oms_411": old}, {old["Image"]: OLD_IMAGE_411}), sock


def test_local_reads_the_old_container_config_and_run(tmp_path):
    engine, sock = deployment(tmp_path)
    try:
        source = rehearsal_source.local(engine, "oms_411")
    finally:
        sock.close()
    assert source.config_text == CONFIG
    assert source.image == OLD_IMAGE_411
    assert source.mounts["run"] == str(tmp_path / "oms_run")
    with pytest.raises(OmsError, match="No container named gone exists"):
        rehearsal_source.local(engine, "gone")


def test_the_bundle_carries_what_a_local_rehearsal_reads_and_is_removed_once_read(tmp_path):
    engine, sock = deployment(tmp_path)
    try:
        source = rehearsal_source.local(engine, "oms_411")
        bundle = str(tmp_path / "backup" / "export.tar.gz")
        info = rehearsal_source.export(source, bundle)
    finally:
        sock.close()
    assert info["run_files"] == 2 and info["bytes"] == os.path.getsize(bundle)
    # the MetaDB password is in it: private, and nothing of a half-written one beside it
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600
    assert os.listdir(str(tmp_path / "backup")) == ["export.tar.gz"]
    read = rehearsal_source.read_bundle(bundle)
    assert not os.path.exists(bundle)
    assert read.container == source.container and read.image == OLD_IMAGE_411
    assert read.config_text == CONFIG
    assert "exported from %s" % socket.gethostname() in read.config_label
    assert read.mounts == source.mounts
    copy = tmp_path / "copy"
    read.copy_run(str(copy))
    assert (copy / "oms_sim_faults").read_text() == "init_fail_halfway\n"
    assert stat.S_IMODE(os.stat(str(copy / "sub" / "state.json")).st_mode) == 0o640
    assert sorted(os.listdir(str(copy))) == ["oms_sim_faults", "sub"]  # no socket


def tar_with(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_a_bundle_member_cannot_leave_the_run_directory(tmp_path):
    bundle = str(tmp_path / "b.tar.gz")
    manifest = json.dumps({"format": 1, "container": old_411(), "image": None}).encode()
    tar_with(bundle, [("source.json", manifest), ("config.yaml", b"x: 1\n"),
                      ("run/../../escaped", b"no"), ("run/ok", b"yes")])
    read = rehearsal_source.read_bundle(bundle)
    assert [rel for rel, _mode, _content in read.run_files] == ["ok"]


def test_what_is_not_a_bundle_is_refused_and_removed(tmp_path):
    bundle = str(tmp_path / "b.tar.gz")
    tar_with(bundle, [("config.yaml", b"x: 1\n")])
    with pytest.raises(OmsError, match="not a rehearsal bundle"):
        rehearsal_source.read_bundle(bundle)
    assert not os.path.exists(bundle)
    with open(bundle, "w") as f:
        f.write("not a tar")
    with pytest.raises(OmsError, match="cannot be read"):
        rehearsal_source.read_bundle(bundle)
    assert not os.path.exists(bundle)
    with pytest.raises(OmsError, match="does not exist"):
        rehearsal_source.read_bundle(bundle)
