"""The _info modules on the test bed: they read what the action modules read, and change nothing."""

import json
import os


def test_container_info_reads_the_old_container_like_the_deployment_has_it(instance, run_module):
    for check in (False, True):
        result = run_module("oms_container_info", {"name": instance["old_container"]}, check=check)
        assert not result.failed and not result.changed, result.get("msg")
        c = result["container"]
        assert c["exists"] and c["running"] and c["version"] == "4.1.1-CE"
        assert c["image"] == instance["source_image"]
        assert dict((k, c["mounts"][k]) for k in instance["mounts"]) == instance["mounts"]
        assert isinstance(result["deviations"], list)
        assert result.get("image") is None and result.get("archive") is None


def test_container_info_reports_a_missing_container_without_failing(instance, run_module):
    result = run_module("oms_container_info", {"name": instance["old_container"] + "_nope"})
    assert not result.failed and not result.changed
    assert result["container"] == {"exists": False, "name": instance["old_container"] + "_nope"}
    assert result["deviations"] == []


def test_container_info_reads_the_tarball_without_loading_it(instance, testbed, run_module):
    testbed.unload_target()
    target = instance["target_image"]
    result = run_module("oms_container_info", {"image": target,
                                               "image_archive": instance["image_archive"]})
    assert not result.failed and not result.changed, result.get("msg")
    assert target in result["archive"]["tags"]
    assert result["archive"]["image_id"].startswith("sha256:")
    assert result["image"]["version"] == "4.2.0-CE"
    # unload_target keeps the tag while a container uses it; otherwise it is gone and stays gone
    assert result["image"]["present"] == (result["image"]["id"] == result["archive"]["image_id"])


def test_container_info_says_where_docker_keeps_its_images_and_the_space_there(instance, run_module):
    """What the preflight compares before docker load: DockerRootDir (as `docker info` says) and
    its free space (as `df` says), and the tarball's uncompressed content (as tar lists it)."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import tarfile  # pylint: disable=import-outside-toplevel
    result = run_module("oms_container_info", {"image": instance["target_image"],
                                               "image_archive": instance["image_archive"]})
    assert not result.failed, result.get("msg")
    root = subprocess.run(["docker", "info", "-f", "{{.DockerRootDir}}"], stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.strip()
    assert result["engine"]["root_dir"] == root
    df = subprocess.run(["df", "-B1", "--output=avail", root], stdout=subprocess.PIPE,
                        universal_newlines=True, check=True).stdout.split()[-1]
    assert abs(result["engine"]["free_bytes"] - int(df)) < 512 * 1024 * 1024  # others write meanwhile
    with tarfile.open(instance["image_archive"]) as tar:
        content = sum(m.size for m in tar.getmembers() if m.isfile())
    assert result["archive"]["content_bytes"] == content > 0
    assert result["archive"]["file_bytes"] == os.path.getsize(instance["image_archive"])


def test_container_info_refuses_a_tarball_without_the_image(instance, run_module):
    result = run_module("oms_container_info", {"image": "oms:feature_9.9.9-ce",
                                               "image_archive": instance["image_archive"]})
    assert result.failed and "does not hold oms:feature_9.9.9-ce" in result["msg"]


def test_journal_info_reads_what_oms_journal_wrote_and_changes_nothing(tmp_path, run_module):
    path = str(tmp_path / "backup" / "journal.json")
    steps = ["preflight", "ha_off", "stop_old"]
    none = run_module("oms_journal_info", {"path": path, "steps": steps})
    assert not none.failed and not none.changed
    assert none["exists"] is False and none["journal"] == {} and none["next_step"] == "preflight"
    assert not os.path.exists(path)

    written = run_module("oms_journal", {"path": path, "state": "step", "step": "preflight",
                                         "status": "done", "data": {"t1": "2024-05-01T10:00:03Z"}})
    assert written.changed
    mtime = os.stat(path).st_mtime_ns
    for check in (False, True):
        read = run_module("oms_journal_info", {"path": path, "steps": steps}, check=check)
        assert not read.failed and not read.changed
        assert read["journal"] == json.load(open(path)) == written["journal"]
        assert read["done_steps"] == ["preflight"] and read["pending_steps"] == ["ha_off", "stop_old"]
        assert read["next_step"] == "ha_off"
    assert os.stat(path).st_mtime_ns == mtime
