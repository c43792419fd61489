"""oms_container_upgrade on the real engine and the test bed: every state, check -> real -> check
-> real, and the failures that must change nothing.

Run with OMS_TEST_INSTANCE set to your own instance (the docker helper uses `d`).

The test bed's 4.2.0 tag is shared by every instance and each instance's reset untags it (so that
an upgrade really loads), which races with a test that loads it and then uses it. So the tests
that must keep the image between calls use a copy of the 4.2.0 tarball whose only change is the
repository name (`<repo>-<instance>`, same tag, same image id), a tag no other suite touches.
"""

import datetime
import io
import json
import tarfile
import threading
import time

import docker
import pytest

from conftest import INSTANCE

MODULE = "oms_container_upgrade"
UPGRADED_FROM = "obtools.oms.upgraded_from"


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    yield client
    client.close()


def rhythm(run_module, args, diff=True):
    """check -> real -> check -> real; returns the four results."""
    return [run_module(MODULE, args, check=check, diff=diff)
            for check in (True, False, True, False)]


def assert_ok(result):
    assert not result.failed, result.get("msg")


def container_or_none(engine, name):
    try:
        return engine.containers.get(name)
    except docker.errors.NotFound:
        return None


def image_or_none(engine, ref):
    try:
        return engine.images.get(ref)
    except docker.errors.ImageNotFound:
        return None


def retag_tarball(source, dest, new_repo):
    """Copy a docker-save tarball, renaming the repository in manifest.json and repositories."""
    def rename(ref):
        return "%s:%s" % (new_repo, ref.rsplit(":", 1)[1])

    with tarfile.open(source) as tin, tarfile.open(dest, "w") as tout:
        for member in tin:
            name = member.name.lstrip("./")
            if name in ("manifest.json", "repositories"):
                data = json.loads(tin.extractfile(member).read().decode("utf-8"))
                if name == "manifest.json":
                    for entry in data:
                        entry["RepoTags"] = [rename(t) for t in entry.get("RepoTags") or []]
                else:
                    data = dict((new_repo, tags) for tags in data.values())
                raw = json.dumps(data).encode("utf-8")
                member.size = len(raw)
                tout.addfile(member, io.BytesIO(raw))
            elif member.isfile():
                tout.addfile(member, tin.extractfile(member))
            else:
                tout.addfile(member)


@pytest.fixture(scope="module")
def private_target(testbed, engine, tmp_path_factory):
    """(image, tarball): the 4.2.0 image under a repository only this instance uses."""
    described = testbed.describe(INSTANCE)
    repo = "%s-%s" % (described["image_repository"], INSTANCE)
    tag = described["target_image"].rsplit(":", 1)[1]
    path = str(tmp_path_factory.mktemp("image") / "oms_private.tar")
    retag_tarball(described["image_archive"], path, repo)
    return "%s:%s" % (repo, tag), path


@pytest.fixture
def mine(instance, private_target, engine):
    """The instance's description with the private 4.2.0 image and tarball, tag not loaded."""
    image, path = private_target
    try:
        # Never force: when our tag is the last name of an image another suite's stopped
        # container uses, a forced removal would delete that image. Then the tag stays.
        engine.images.remove(image, force=False)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError:
        pass
    return dict(instance, target_image=image, image_archive=path)


def stop_old(run_module, instance):
    result = run_module(MODULE, {"name": instance["old_container"], "state": "stopped",
                                 "stop_timeout": 10})
    assert_ok(result)
    return result


def load_target(run_module, instance):
    result = run_module(MODULE, {"name": instance["old_container"], "state": "image_loaded",
                                 "image": instance["target_image"],
                                 "image_archive": instance["image_archive"]})
    assert_ok(result)
    return result


def upgrade_args(instance, **extra):
    args = {"name": instance["new_container"], "state": "upgraded",
            "source_container": instance["old_container"], "image": instance["target_image"]}
    args.update(extra)
    return args


# stopped ---------------------------------------------------------------------------------------
def test_read_the_411_container_then_stop_it_twice(instance, run_module, engine):
    old = instance["old_container"]
    seen = run_module("oms_container_info", {"name": old})
    assert_ok(seen)
    assert not seen.changed
    c = seen["container"]
    assert c["exists"] and c["running"] and c["status"] == "running"
    assert c["version"] == "4.1.1-CE" and c["image"] == instance["source_image"]
    assert dict((k, c["mounts"][k]) for k in instance["mounts"]) == instance["mounts"]
    assert c["mounts"]["ssl_certificate"] is None
    assert c["network_mode"] == "host" and c["pids_limit"] == -1
    assert c["ulimits"] == [{"name": "nproc", "soft": 65535, "hard": 65535}]
    assert c["oms_host_ip"] == instance["oms_host_ip"] and c["is_upgrade"] is False
    # the test bed cannot run --privileged: reported, not failed
    assert seen["deviations"] == ["not privileged, the docs run OMS with --privileged=true"]
    assert instance["metadb"]["password"] not in seen.output

    stop = {"name": old, "state": "stopped", "stop_timeout": 10}
    check1, real1, check2, real2 = rhythm(run_module, stop)
    for r in (check1, real1, check2, real2):
        assert_ok(r)
    assert check1.changed and check1["stopped_at"] is None
    assert check1["diff"] == {"before": {"running": True}, "after": {"running": False}}
    assert real1.changed and real1["stopped_at"].endswith("Z")
    assert not check2.changed and not real2.changed
    assert real2["stopped_at"] == real1["stopped_at"] == check2["stopped_at"]
    assert engine.containers.get(old).status == "exited"


def test_name_is_required_by_the_states_that_act_on_a_container(run_module):
    for state in ("stopped", "started", "initialized", "upgraded"):
        result = run_module(MODULE, {"state": state, "image": "x:y", "source_container": "x"})
        assert result.failed and "name" in result["msg"], state
    gone = run_module(MODULE, {"name": "x", "state": "inspected"})
    assert gone.failed and "inspected" in gone["msg"]


def test_stop_a_missing_container_fails_clearly(run_module):
    result = run_module(MODULE, {"name": "no_such_container_%s" % INSTANCE, "state": "stopped"})
    assert result.failed and "No container named no_such_container" in result["msg"]


# image_loaded ------------------------------------------------------------------------------------
def test_the_shared_420_tarball_is_read_without_loading(instance, run_module):
    # Other suites load and untag this tag concurrently: assert only on what the module read.
    target = instance["target_image"]
    check = run_module(MODULE, {"name": instance["old_container"], "state": "image_loaded",
                                "image": target, "image_archive": instance["image_archive"]},
                       check=True, diff=True)
    assert_ok(check)
    assert check["archive_tags"] == [target] and not check["loaded"]
    assert check["image_id"].startswith("sha256:")


def test_load_the_420_tarball_twice(mine, run_module, engine):
    target = mine["target_image"]
    present_before = image_or_none(engine, target)  # only when another suite's container pins it
    args = {"name": mine["old_container"], "state": "image_loaded", "image": target,
            "image_archive": mine["image_archive"]}
    check1, real1, check2, real2 = rhythm(run_module, args)
    for r in (check1, real1, check2, real2):
        assert_ok(r)
        assert r["archive_tags"] == [target]
    if present_before is None:
        assert check1.changed and not check1["loaded"] and not check1["present"]
        assert check1["diff"]["before"]["image_id"] is None
        assert real1.changed and real1["loaded"]
        assert real1["image_id"] == check1["image_id"] == check1["diff"]["after"]["image_id"]
    else:
        assert not check1.changed and not real1.changed
    assert not check2.changed and not real2.changed and not real2["loaded"]
    assert check2["present"] and real2["present"]
    assert real2["image_id"] == real1["image_id"] == engine.images.get(target).id


@pytest.fixture
def private_tarball(engine, tmp_path):
    """A tiny image saved as a tarball under a tag nobody else uses, and removed afterwards."""
    tag = "obtools-testbed/oms-%s-load:feature_4.2.0-ce" % INSTANCE
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY marker /marker\n"),
                           ("marker", ("%s %f\n" % (INSTANCE, time.time())).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image = engine.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)[0]
    path = str(tmp_path / "private.tar")
    with open(path, "wb") as f:
        for chunk in image.save(named=True):
            f.write(chunk)
    engine.images.remove(image.id, force=True)
    yield tag, image.id, path
    for ref in (tag, image.id):
        try:
            engine.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass


def test_load_really_loads_and_replaces_a_tag_with_another_id(private_tarball, run_module,
                                                              engine):
    tag, image_id, path = private_tarball
    repo, version = tag.split(":")
    # the tag points at some other image: the tarball's must replace it
    engine.images.get("obtools-testbed/debian:bookworm").tag(repo, version)
    args = {"state": "image_loaded", "image": tag, "image_archive": path}  # no container: no name
    check1, real1, check2, real2 = rhythm(run_module, args)
    for r in (check1, real1, check2, real2):
        assert_ok(r)
    assert check1.changed and not check1["loaded"] and check1["image_id"] == image_id
    assert real1.changed and real1["loaded"] and real1["image_id"] == image_id
    assert not check2.changed and not real2.changed and not real2["loaded"]
    assert engine.images.get(tag).id == image_id


def test_missing_tarball_fails_and_changes_nothing(mine, run_module, engine):
    pinned = image_or_none(engine, mine["target_image"])  # see the `mine` fixture
    result = run_module(MODULE, {"name": mine["old_container"], "state": "image_loaded",
                                 "image": mine["target_image"],
                                 "image_archive": mine["image_archive"] + ".missing"})
    assert result.failed
    assert "does not exist" in result["msg"] and "image_archive" in result["msg"]
    assert (image_or_none(engine, mine["target_image"]) is None) == (pinned is None)


def test_tarball_without_the_tag_fails_and_changes_nothing(mine, run_module, engine):
    wanted = mine["target_image"].replace("feature_4.2.0-ce", "feature_9.9.9-ce")
    pinned = image_or_none(engine, mine["target_image"])
    result = run_module(MODULE, {"name": mine["old_container"], "state": "image_loaded",
                                 "image": wanted, "image_archive": mine["image_archive"]})
    assert result.failed
    assert "does not hold %s" % wanted in result["msg"]
    assert mine["target_image"] in result["msg"]  # says what it does hold
    assert image_or_none(engine, wanted) is None
    assert (image_or_none(engine, mine["target_image"]) is None) == (pinned is None)


# upgraded: refusals before anything is created -----------------------------------------------
def test_mount_mismatch_fails_before_any_container_is_created(mine, run_module, engine):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    wrong = dict(mine["mounts"], store=mine["mounts"]["store"] + "_elsewhere")
    for check in (True, False):
        result = run_module(MODULE, upgrade_args(mine, mounts=wrong), check=check)
        assert result.failed
        assert "do not match" in result["msg"] and "_elsewhere" in result["msg"]
        assert container_or_none(engine, mine["new_container"]) is None
    # the right mounts pass the comparison (check mode: still nothing created)
    ok = run_module(MODULE, upgrade_args(mine, mounts=mine["mounts"]), check=True)
    assert_ok(ok)
    assert container_or_none(engine, mine["new_container"]) is None


def test_a_running_source_is_refused(mine, run_module, engine):
    load_target(run_module, mine)
    result = run_module(MODULE, upgrade_args(mine))
    assert result.failed and "still running" in result["msg"]
    assert container_or_none(engine, mine["new_container"]) is None
    assert engine.containers.get(mine["old_container"]).status == "running"


def test_a_name_clash_fails_and_leaves_the_other_container_alone(mine, run_module, engine):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    other = engine.containers.create("obtools-testbed/debian:bookworm", "true",
                                     name=mine["new_container"])
    try:
        result = run_module(MODULE, upgrade_args(mine))
        assert result.failed
        assert "already exists" in result["msg"] and "another name" in result["msg"]
        same = engine.containers.get(mine["new_container"])
        assert same.id == other.id and same.status == "created"
    finally:
        other.remove(force=True)


# the upgrade, then rollback --------------------------------------------------------------------
def test_upgrade_initialise_and_roll_back(mine, testbed, run_module, engine):
    old, new = mine["old_container"], mine["new_container"]
    old_id = engine.containers.get(old).id
    stop_old(run_module, mine)
    load_target(run_module, mine)

    check1, real1, check2, real2 = rhythm(run_module, upgrade_args(mine))
    for r in (check1, real1, check2, real2):
        assert_ok(r)
    assert check1.changed and check1["container"] == {"exists": False, "name": new}
    assert check1["diff"]["before"] == {}
    planned = check1["diff"]["after"]
    assert planned["environment"]["IS_UPGRADE"] == "true"
    assert planned["labels"][UPGRADED_FROM] == old
    assert any("privileged" in w for w in check1.get("warnings", []))
    assert real1.changed and real1["planned"] == planned
    assert not check2.changed and not real2.changed

    old_c, new_c = engine.containers.get(old), engine.containers.get(new)
    assert sorted(new_c.attrs["HostConfig"]["Binds"]) == \
        sorted(old_c.attrs["HostConfig"]["Binds"])
    assert "IS_UPGRADE=true" in new_c.attrs["Config"]["Env"]
    assert "OMS_HOST_IP=%s" % mine["oms_host_ip"] in new_c.attrs["Config"]["Env"]
    assert new_c.attrs["Config"]["Labels"][UPGRADED_FROM] == old
    assert new_c.attrs["HostConfig"]["NetworkMode"] == "host"
    assert new_c.status == "running" and new_c.image.id == engine.images.get(
        mine["target_image"]).id
    c = real2["container"]
    assert c["version"] == "4.2.0-CE" and c["is_upgrade"] and c["upgraded_from"] == old
    assert c["mounts"] == dict(mine["mounts"], ssl_certificate=None, ssl_key=None)

    init = rhythm(run_module, {"name": new, "state": "initialized", "init_timeout": 300})
    for r in init:
        assert_ok(r)
    assert init[0].changed and "rc" not in init[0].result
    assert init[1].changed and init[1]["rc"] == 0 and init[1]["stdout_tail"]
    assert init[1]["duration"] >= 0 and init[1]["marker"]["rc"] == 0
    assert not init[2].changed and not init[3].changed and init[3]["rc"] == 0
    deadline = time.time() + 60
    while testbed.host_status(INSTANCE) != "ONLINE" and time.time() < deadline:
        time.sleep(2)
    assert testbed.host_status(INSTANCE) == "ONLINE"

    # the old container cannot start while the new one uses the same data
    refused = run_module(MODULE, {"name": old, "state": "started"})
    assert refused.failed and new in refused["msg"]
    assert engine.containers.get(old).status == "exited"

    # rollback begins: stop the new one (T3); neither container is ever removed
    t3 = run_module(MODULE, {"name": new, "state": "stopped", "stop_timeout": 10})
    assert_ok(t3)
    assert t3.changed and t3["stopped_at"]
    assert engine.containers.get(old).id == old_id
    assert container_or_none(engine, new) is not None


def test_start_the_stopped_411_container_twice(instance, run_module, engine):
    old = instance["old_container"]
    stop_old(run_module, instance)
    start = rhythm(run_module, {"name": old, "state": "started"})
    for r in start:
        assert_ok(r)
    assert start[0].changed and start[0]["started_at"] is None
    assert start[0]["diff"] == {"before": {"running": False}, "after": {"running": True}}
    assert engine.containers.get(old).status in ("running", "exited")
    assert start[1].changed and start[1]["started_at"] and start[1]["container"]["running"]
    assert not start[2].changed and not start[3].changed
    assert start[3]["started_at"] == start[1]["started_at"]
    assert engine.containers.get(old).status == "running"


def test_a_411_container_refusing_its_metadata_is_caught_through_health(
        mine, run_module, engine):
    """After docker_init.sh migrated the databases, 4.1.1 refuses them. As under OMS's
    supervisord, the container stays up (the refusing server is restarted again and again): the
    refusal shows only through health, which must fail, even though the heartbeat the 4.2.0
    container wrote a moment ago is still young."""
    old, new = mine["old_container"], mine["new_container"]
    stop_old(run_module, mine)
    load_target(run_module, mine)
    assert_ok(run_module(MODULE, upgrade_args(mine)))
    assert_ok(run_module(MODULE, {"name": new, "state": "initialized", "init_timeout": 300,
                                  "init_retry_interval": 1}))
    assert_ok(run_module(MODULE, {"name": new, "state": "stopped", "stop_timeout": 10}))
    started = run_module(MODULE, {"name": old, "state": "started"})
    assert_ok(started)
    assert engine.containers.get(old).status == "running"
    meta = mine["metadb"]
    health = run_module("oms_server_health", {
        "login_host": meta["host"], "login_port": meta["port"], "login_user": meta["user"],
        "login_password": meta["password"], "cm_db": meta["cm_db"], "cm_hb_db": meta["cm_hb_db"],
        "console_url": mine["console_url"], "console_user": mine["console_user"],
        "console_password": mine["console_password"], "timeout": 20, "interval": 2,
        "started_after": started["started_at"]})
    assert health.failed and "not all online" in health["msg"]
    # not online: its host row, a heartbeat from before its start, or one gone stale
    assert health["servers"] and not health["servers"][0]["online"]
    assert health["console_healthy"] is False
    assert engine.containers.get(old).status == "running"
    logs = engine.containers.get(old).logs().decode()
    assert "refusing" in logs or "cannot run on" in logs


def test_upgraded_starts_its_own_stopped_container_again(mine, run_module, engine):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    assert_ok(run_module(MODULE, upgrade_args(mine)))
    engine.containers.get(mine["new_container"]).stop(timeout=5)
    check = run_module(MODULE, upgrade_args(mine), check=True)
    assert_ok(check)
    assert check.changed and engine.containers.get(mine["new_container"]).status == "exited"
    real = run_module(MODULE, upgrade_args(mine))
    assert_ok(real)
    assert real.changed and real["container"]["running"]
    again = run_module(MODULE, upgrade_args(mine))
    assert_ok(again)
    assert not again.changed


def test_failing_docker_init_fails_with_its_output_then_succeeds(mine, testbed, run_module,
                                                                 engine):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    assert_ok(run_module(MODULE, upgrade_args(mine)))
    testbed.set_faults(INSTANCE, ["init_fail_halfway"])
    try:
        failed = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                     "init_timeout": 300})
        assert failed.failed
        assert failed["rc"] not in (0, None)
        assert "failed" in failed["msg"] and "exit code" in failed["msg"]
        assert failed["stdout_tail"] and failed["stdout_tail"][-1] in failed["msg"]
        assert "docker_init" in failed["msg"]
    finally:
        testbed.set_faults(INSTANCE, [])
    retried = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                  "init_timeout": 300})
    assert_ok(retried)
    assert retried.changed and retried["rc"] == 0


def test_init_waits_for_a_booting_container_and_checks_the_success_line(
        mine, testbed, run_module, engine):
    """Right after docker run the container boots: docker_init.sh runs once supervisorctl answers
    (or is retried while it finds the container booting); an exit 0 without the documented
    success line fails the task."""
    stop_old(run_module, mine)
    load_target(run_module, mine)
    assert_ok(run_module(MODULE, upgrade_args(mine, settle_seconds=0)))
    testbed.set_faults(INSTANCE, ["init_no_success_line"])
    try:
        silent = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                     "init_timeout": 300, "init_retry_interval": 1})
        assert silent.failed and silent["rc"] == 0
        assert "did not print its success line" in silent["msg"]
        # how many attempts the boot costs depends on the host's speed: the retry itself is
        # shown by test_init_gives_up_on_a_container_that_keeps_booting
        assert silent["attempts"] >= 1
    finally:
        testbed.set_faults(INSTANCE, [])
    done = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                               "init_timeout": 300, "init_retry_interval": 1})
    assert_ok(done)
    assert done.changed and done["rc"] == 0
    assert any(u"\u5168\u90e8\u521d\u59cb\u5316\u6b65\u9aa4\u6267\u884c\u6210\u529f" in line
               for line in done["stdout_tail"])


def test_init_gives_up_on_a_container_that_keeps_booting(mine, testbed, run_module):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    testbed.set_profile(INSTANCE, "realistic")  # a 60 s boot
    try:
        assert_ok(run_module(MODULE, upgrade_args(mine, settle_seconds=0)))
        result = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                     "init_ready_timeout": 20, "init_retry_interval": 1})
    finally:
        testbed.set_profile(INSTANCE, "short")
    assert result.failed and "still starting" in result["msg"]
    assert "init_ready_timeout" in result["msg"] and result["attempts"] >= 1
    # the wait was supervisorctl's, which never answered; docker_init.sh then had the last word
    assert "supervisorctl status did not answer" in result["msg"]
    assert result["ready_probe"] == "supervisorctl" and result["ready_at"] is None
    assert result["ready_wait_seconds"] >= 15


def set_boot(testbed, boot_seconds, init_seconds=6):
    """The durations of the instance's next container start (the profile file in its run mount,
    which the 4.2.0 container inherits); the next reset writes the default again."""
    with open(testbed.describe(INSTANCE)["profile_file"], "w") as f:
        json.dump({"boot_seconds": boot_seconds, "init_seconds": init_seconds, "name": "custom"}, f)


def utc(text):
    head, _sep, frac = text.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(head + "." + (frac + "000000")[:6] + "+00:00")


def test_init_waits_for_supervisorctl_then_runs_docker_init_once(
        mine, testbed, run_module, engine, tmp_path):
    """On a container still booting, state=initialized asks supervisorctl until it answers, so
    docker_init.sh runs once, on a booted container, without idling a retry interval (10 s)."""
    boot = 10
    stop_old(run_module, mine)
    load_target(run_module, mine)
    set_boot(testbed, boot)
    assert_ok(run_module(MODULE, upgrade_args(mine)))  # the default settle: 1 s of the boot
    journal = str(tmp_path / "journal.json")
    result = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                 "init_timeout": 300, "journal_path": journal,
                                 "journal_step": "init"})
    assert_ok(result)
    assert result["rc"] == 0 and result["attempts"] == 1
    assert result["ready_probe"] == "supervisorctl" and result["ready_wait_seconds"] > 0
    started = engine.containers.get(mine["new_container"]).attrs["State"]["StartedAt"]
    # supervisord's socket opens `boot` seconds after its start: the probe waited for it
    assert (utc(result["ready_at"]) - utc(started)).total_seconds() >= boot - 0.5
    assert not any("no such file" in line for line in result["stdout_tail"])
    with open(journal) as f:
        data = json.load(f)["steps"]["init"]["data"]
    assert data["init_attempts"] == 1 and data["init_rc"] == 0
    assert data["init_duration"] == result["duration"]
    assert data["ready_probe"] == "supervisorctl" and data["ready_at"] == result["ready_at"]
    assert data["ready_wait_seconds"] == result["ready_wait_seconds"]


def stop_at_first_exec(engine, container, command):
    """Stop CONTAINER as soon as the module runs COMMAND in it (Docker's exec_start event), in a
    thread: a fixed delay met a loaded machine's ansible-playbook still starting (CI: the module
    then found the container already stopped) or missed the boot it was meant to land in."""
    events = engine.events(decode=True, since=int(time.time()) - 1,
                           filters={"container": container.id, "event": "exec_start"})
    seen = []

    def watch():
        for event in events:
            if command in event.get("Action", ""):
                seen.append(event["Action"])
                container.stop(timeout=5)
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, events, seen


def test_init_fails_with_how_the_container_ended_when_it_exits_while_booting(
        mine, testbed, run_module, engine):
    boot = 240
    stop_old(run_module, mine)
    load_target(run_module, mine)
    set_boot(testbed, boot)
    assert_ok(run_module(MODULE, upgrade_args(mine)))
    new = engine.containers.get(mine["new_container"])
    # stopped while the module asks supervisorctl, the first thing it runs in a booting container
    watcher, events, seen = stop_at_first_exec(engine, new, "supervisorctl")
    began = time.time()
    try:
        result = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                     "init_timeout": 600})
    finally:
        events.close()
        watcher.join(30)
    assert seen, "the module never ran supervisorctl in the booting container"
    assert result.failed and "exited (exit code" in result["msg"], result["msg"]
    assert "not running" in result["msg"] and "docker logs" in result["msg"]
    assert "attempts" not in result  # docker_init.sh never ran
    assert time.time() - began < boot / 2  # noticed at once, not at the end of the boot


def test_init_without_supervisorctl_in_the_image_runs_docker_init_again_while_booting(
        mine, testbed, run_module, engine):
    # long enough that a loaded machine's ansible-playbook start (10-20 s in CI) leaves some boot
    # for the first docker_init.sh runs to meet
    set_boot_seconds = 60
    stop_old(run_module, mine)
    load_target(run_module, mine)
    set_boot(testbed, set_boot_seconds)
    assert_ok(run_module(MODULE, upgrade_args(mine)))
    moved = engine.containers.get(mine["new_container"]).exec_run(
        ["mv", "/usr/bin/supervisorctl", "/usr/bin/supervisorctl.hidden"])
    assert moved.exit_code == 0, moved.output
    result = run_module(MODULE, {"name": mine["new_container"], "state": "initialized",
                                 "init_timeout": 600, "init_retry_interval": 1})
    assert_ok(result)
    assert result["ready_probe"] == "none" and result["ready_at"] is None
    assert any("has no supervisorctl" in w for w in result.get("warnings", []))
    # the first runs met the booting container and were run again, as before the probe
    assert result["rc"] == 0 and result["attempts"] >= 2


def test_initialize_a_stopped_container_fails_with_what_to_do(instance, run_module):
    stop_old(run_module, instance)
    result = run_module(MODULE, {"name": instance["old_container"], "state": "initialized"})
    assert result.failed and "not running" in result["msg"] and "state=started" in result["msg"]


def test_plan_in_check_mode_before_anything_happened(mine, run_module, engine):
    """`--check` of the whole upgrade: old still running, image not loaded: prerequisites, no change."""
    pinned = image_or_none(engine, mine["target_image"])  # see the `mine` fixture
    result = run_module(MODULE, upgrade_args(mine), check=True, diff=True)
    assert_ok(result)
    assert result.changed and result["container"]["exists"] is False
    # what must happen before the container can be created comes back as prerequisites
    prerequisites = result["prerequisites"]
    assert "stop %s" % mine["old_container"] in prerequisites
    assert any(p.startswith("load ") for p in prerequisites) == (pinned is None)
    assert container_or_none(engine, mine["new_container"]) is None
    assert (image_or_none(engine, mine["target_image"]) is None) == (pinned is None)
    assert engine.containers.get(mine["old_container"]).status == "running"


def test_ssl_files_are_mounted_in_the_new_container(mine, testbed, run_module, engine):
    https = testbed.reset(INSTANCE, ssl=True)
    assert https["ssl_certificate"] and https["ssl_key"]
    stop_old(run_module, mine)
    load_target(run_module, mine)
    missing = run_module(MODULE, upgrade_args(mine, ssl_certificate="/nonexistent.crt",
                                              ssl_key=https["ssl_key"]), check=True)
    assert missing.failed and "/nonexistent.crt" in missing["msg"]
    result = run_module(MODULE, upgrade_args(mine, ssl_certificate=https["ssl_certificate"],
                                             ssl_key=https["ssl_key"],
                                             mounts=https["mounts"]))
    assert_ok(result)
    binds = engine.containers.get(mine["new_container"]).attrs["HostConfig"]["Binds"]
    assert "%s:/etc/pki/nginx/oms_server.crt:ro" % https["ssl_certificate"] in binds
    assert "%s:/etc/pki/nginx/oms_server.key:ro" % https["ssl_key"] in binds
    assert len([b for b in binds if "/etc/pki/nginx/" in b]) == 2  # replaced, not doubled
    assert result["container"]["mounts"]["ssl_key"] == https["ssl_key"]


def test_upgraded_loads_the_image_it_needs_and_settles_briefly(mine, run_module, engine):
    """With image_archive, `upgraded` loads an absent image itself (no separate image_loaded
    task in the downtime window) and reads nothing from the tarball when the image is there."""
    stop_old(run_module, mine)
    args = upgrade_args(mine, image_archive=mine["image_archive"], settle_seconds=0.5)
    check = run_module(MODULE, args, check=True)
    assert_ok(check)
    assert check.changed and container_or_none(engine, mine["new_container"]) is None
    absent_before = image_or_none(engine, mine["target_image"]) is None
    assert check["loaded"] is False
    began = time.time()
    real = run_module(MODULE, args)
    assert_ok(real)
    assert real.changed and real["container"]["running"]
    assert real["loaded"] == absent_before
    assert image_or_none(engine, mine["target_image"]) is not None
    again = run_module(MODULE, dict(args, image_archive="/nonexistent/not-read.tar",
                                    image_id=engine.images.get(mine["target_image"]).id))
    assert_ok(again)
    assert not again.changed
    assert time.time() - began < 60


def test_initialize_an_exited_container_says_how_it_ended(mine, run_module, engine):
    stop_old(run_module, mine)
    load_target(run_module, mine)
    assert_ok(run_module(MODULE, upgrade_args(mine, settle_seconds=0)))
    engine.containers.get(mine["new_container"]).stop(timeout=5)
    result = run_module(MODULE, {"name": mine["new_container"], "state": "initialized"})
    assert result.failed and "exited (exit code" in result["msg"]
    assert "not running" in result["msg"] and "docker logs" in result["msg"]
