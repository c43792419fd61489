"""Reading an image tarball's tags and image ids without loading it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import tarfile

import pytest


from ansible_collections.obtools.oms.plugins.module_utils import image_archive  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

CONFIG_HEX = "09f09006bced5ceb8703efc8894a30dfc6606ed05fe0ff9c536e514809dad549"
LAYER_HEX = "df039e355bd78fcc3ffe8090012a46972ed0b2ad4460a4762d267842734d0e18"
MANIFEST_HEX = "7" * 64


def write_tar(path, members, compress=None):
    """members: {name: bytes or JSON-able}; a name ending in / is a directory."""
    mode = "w:gz" if compress == "gz" else "w"
    with tarfile.open(path, mode) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            if not isinstance(content, bytes):
                content = json.dumps(content).encode("utf-8")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return str(path)


def docker_save_members(tags=("obtools-testbed/oms:feature_4.2.0-ce",)):
    return {
        "%s/" % LAYER_HEX: None,
        "%s/layer.tar" % LAYER_HEX: b"\0" * 1024,
        "%s.json" % CONFIG_HEX: {"architecture": "amd64"},
        "manifest.json": [{"Config": "%s.json" % CONFIG_HEX, "RepoTags": list(tags),
                           "Layers": ["%s/layer.tar" % LAYER_HEX]}],
        "repositories": {"obtools-testbed/oms": {"feature_4.2.0-ce": LAYER_HEX}},
    }


def test_docker_save_tarball_gives_tag_and_image_id(tmp_path):
    path = write_tar(tmp_path / "oms.tar", docker_save_members())
    archive = image_archive.read_archive(path)
    assert archive["format"] == "docker-save"
    assert archive["tags"] == ["obtools-testbed/oms:feature_4.2.0-ce"]
    assert image_archive.require_tag(archive, "obtools-testbed/oms:feature_4.2.0-ce") == \
        "sha256:" + CONFIG_HEX


def test_gzip_compressed_tarball_is_read_like_docker_load_does(tmp_path):
    path = write_tar(tmp_path / "oms.tar.gz", docker_save_members(), compress="gz")
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    assert image_archive.read_archive(path)["tags"] == ["obtools-testbed/oms:feature_4.2.0-ce"]


def test_newer_docker_save_names_config_by_blob_path(tmp_path):
    members = docker_save_members()
    members["manifest.json"][0]["Config"] = "blobs/sha256/%s" % CONFIG_HEX
    archive = image_archive.read_archive(write_tar(tmp_path / "oms.tar", members))
    assert archive["image_ids"]["obtools-testbed/oms:feature_4.2.0-ce"] == "sha256:" + CONFIG_HEX


def test_repositories_file_alone_gives_tags_without_image_id(tmp_path):
    members = docker_save_members()
    del members["manifest.json"]
    archive = image_archive.read_archive(write_tar(tmp_path / "old.tar", members))
    assert archive["tags"] == ["obtools-testbed/oms:feature_4.2.0-ce"]
    assert image_archive.require_tag(archive, "obtools-testbed/oms:feature_4.2.0-ce") is None


def test_oci_layout_names_from_annotations_and_id_from_manifest_blob(tmp_path):
    members = {
        "oci-layout": {"imageLayoutVersion": "1.0.0"},
        "index.json": {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + MANIFEST_HEX, "size": 100,
            "annotations": {"io.containerd.image.name": "docker.io/library/oms:feature_4.2.0-ce",
                            "org.opencontainers.image.ref.name": "feature_4.2.0-ce"}}]},
        "blobs/sha256/" + MANIFEST_HEX: {"schemaVersion": 2,
                                         "config": {"digest": "sha256:" + CONFIG_HEX}},
    }
    archive = image_archive.read_archive(write_tar(tmp_path / "oci.tar", members))
    assert archive["format"] == "oci"
    assert archive["tags"] == ["oms:feature_4.2.0-ce"]
    assert image_archive.require_tag(archive, "oms:feature_4.2.0-ce") == "sha256:" + CONFIG_HEX
    assert image_archive.require_tag(archive, "docker.io/oms:feature_4.2.0-ce") == \
        "sha256:" + CONFIG_HEX


def test_oci_ref_name_with_full_reference_is_used_when_no_containerd_name(tmp_path):
    members = {"index.json": {"manifests": [{
        "digest": "sha256:" + MANIFEST_HEX,
        "annotations": {"org.opencontainers.image.ref.name": "reg.example.com/oms:feature_4.2.0-ce"}}]}}
    archive = image_archive.read_archive(write_tar(tmp_path / "oci.tar", members))
    assert archive["tags"] == ["reg.example.com/oms:feature_4.2.0-ce"]
    assert archive["image_ids"]["reg.example.com/oms:feature_4.2.0-ce"] is None


def test_tag_not_in_tarball_fails_naming_what_it_holds(tmp_path):
    archive = image_archive.read_archive(write_tar(tmp_path / "oms.tar", docker_save_members()))
    with pytest.raises(OmsError) as err:
        image_archive.require_tag(archive, "obtools-testbed/oms:feature_4.3.0-ce")
    assert "does not hold obtools-testbed/oms:feature_4.3.0-ce" in err.value.msg
    assert "feature_4.2.0-ce" in err.value.msg
    assert err.value.hint


def test_missing_tarball_fails_clearly(tmp_path):
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(str(tmp_path / "nope.tar"))
    assert "does not exist" in err.value.msg


def test_directory_is_refused(tmp_path):
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(str(tmp_path))
    assert "not a regular file" in err.value.msg


def test_file_that_is_not_a_tar_is_refused(tmp_path):
    path = tmp_path / "junk.tar"
    path.write_bytes(b"this is not a tarball" * 100)
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(str(path))
    assert "cannot be read as a tar file" in err.value.msg


def test_truncated_gzip_is_refused(tmp_path):
    path = write_tar(tmp_path / "oms.tar.gz", docker_save_members(), compress="gz")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(OmsError):
        image_archive.read_archive(path)


def test_tar_without_any_index_is_refused(tmp_path):
    path = write_tar(tmp_path / "plain.tar", {"hello.txt": b"hi"})
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(path)
    assert "neither manifest.json" in err.value.msg


def test_untagged_save_is_refused(tmp_path):
    path = write_tar(tmp_path / "untagged.tar", {
        "manifest.json": [{"Config": "%s.json" % CONFIG_HEX, "RepoTags": None, "Layers": []}]})
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(path)
    assert "names no image tag" in err.value.msg


def test_damaged_manifest_json_is_refused(tmp_path):
    path = write_tar(tmp_path / "bad.tar", {"manifest.json": b"[{not json"})
    with pytest.raises(OmsError) as err:
        image_archive.read_archive(path)
    assert "not valid JSON" in err.value.msg


def test_members_with_dot_slash_prefix_are_found(tmp_path):
    members = dict(("./" + k, v) for k, v in docker_save_members().items())
    archive = image_archive.read_archive(write_tar(tmp_path / "dot.tar", members))
    assert archive["tags"] == ["obtools-testbed/oms:feature_4.2.0-ce"]


@pytest.mark.parametrize("ref,expected", [
    ("oms:feature_4.2.0-ce", "oms:feature_4.2.0-ce"),
    ("docker.io/library/oms:feature_4.2.0-ce", "oms:feature_4.2.0-ce"),
    ("library/oms:1", "oms:1"),
    ("docker.io/obtools/oms:1", "obtools/oms:1"),
    ("oms", "oms:latest"),
    ("reg.example.com:5000/oms", "reg.example.com:5000/oms:latest"),
    ("reg.example.com:5000/oms:feature_4.2.0-ce", "reg.example.com:5000/oms:feature_4.2.0-ce"),
])
def test_normalize_reference(ref, expected):
    assert image_archive.normalize_reference(ref) == expected


def test_the_image_config_labels_are_read_without_loading(tmp_path):
    members = docker_save_members(tags=("oms:latest",))
    members["%s.json" % CONFIG_HEX] = {"architecture": "amd64", "config": {"Labels": {"version": "4.2.0-CE"}}}
    archive = image_archive.read_archive(write_tar(tmp_path / "oms.tar", members))
    assert archive["labels"]["oms:latest"] == {"version": "4.2.0-CE"}


def test_a_tarball_without_the_config_gives_no_labels(tmp_path):
    members = docker_save_members()
    del members["%s.json" % CONFIG_HEX]
    archive = image_archive.read_archive(write_tar(tmp_path / "oms.tar", members))
    assert archive["labels"] == {"obtools-testbed/oms:feature_4.2.0-ce": {}}


def test_content_bytes_is_what_docker_load_unpacks_compressed_or_not(tmp_path):
    """The uncompressed size of the tarball's files (what docker load writes), not the file's size:
    a gzip of a zero-filled layer is a hundred times smaller than what it unpacks to."""
    members = docker_save_members()
    members["%s/layer.tar" % LAYER_HEX] = b"\0" * (4 * 1024 * 1024)
    expected = sum(len(v) if isinstance(v, bytes) else len(json.dumps(v).encode("utf-8"))
                   for k, v in members.items() if not k.endswith("/"))
    plain = image_archive.read_archive(write_tar(tmp_path / "oms.tar", members))
    packed = image_archive.read_archive(write_tar(tmp_path / "oms.tar.gz", members, compress="gz"))
    assert plain["content_bytes"] == packed["content_bytes"] == expected
    assert packed["file_bytes"] < expected / 100 < plain["file_bytes"]
