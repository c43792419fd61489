"""Bad inputs: each refused by the preflight BEFORE anything changes, with a message that says what to do.

One `ansible-playbook playbooks/upgrade.yml` per input, as an operator runs it, against this run's
test-bed instance (OMS_TEST_INSTANCE). Each input is an inventory value, an -e string, a file or a
state of the host. Before and after the run, the test reads by its own means (preflight_state.py)
the instance's containers and target image, the rows of its three MetaDB databases, and the
listing of every backup directory involved: they must be identical, the run must fail, and its
output must hold both what failed and what to do. docs/troubleshooting.md's "Inputs the preflight refuses" lists
the same inputs; docs/development/what-the-tests-prove.md the figures of this test's runs.
OMS_BAD_INPUTS_SAMPLE=N runs a seeded sample of N of them (OMS_BAD_INPUTS_SEED), for CI.

`-e oms_upgrade_preflight_only=true` is a safety net: an input the preflight wrongly accepted ends
the run after the preflight instead of upgrading (and the test then fails on the changes it made).
"""

import io
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from conftest import INSTANCE, REPO, ansible_env
from preflight_state import Snapshot

PLAYBOOK = os.path.join(REPO, "playbooks", "upgrade.yml")


def inventory_for(info):
    """The inventory an operator would write for the instance (as molecule's testbed_vars.py)."""
    sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
    from testbed_vars import inventory_vars  # pylint: disable=import-outside-toplevel
    values = inventory_vars(info)
    values.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
    return values


def write_private(path, text):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return str(path)


def image_tarball(path, tag, labels=None):
    """A docker-save tarball index (manifest.json + image config) naming `tag`; no layers needed,
    since the preflight reads only the index."""
    config_hex = "c" * 64
    members = {
        "%s.json" % config_hex: {"architecture": "amd64", "config": {"Labels": labels or {}}},
        "manifest.json": [{"Config": "%s.json" % config_hex, "RepoTags": [tag], "Layers": []}],
    }
    with tarfile.open(str(path), "w") as tar:
        for name, content in members.items():
            data = json.dumps(content).encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def fake_client(path, stderr, rc, stdout=""):
    """An executable standing in for mysqldump, to make the dump's rehearsal fail."""
    write_private(path, "#!/bin/sh\nprintf '%%s' '%s'\necho '%s' >&2\nexit %d\n" % (stdout, stderr, rc))
    os.chmod(str(path), stat.S_IRWXU)
    return str(path)


def path_without(tmp, *names):
    """A PATH directory holding links to everything on PATH but `names` (a host without them)."""
    bindir = tmp / "path-bin"
    bindir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        if not os.path.isdir(directory):
            continue
        for entry in os.listdir(directory):
            link = bindir / entry
            if entry in names or os.path.lexists(str(link)):
                continue
            os.symlink(os.path.join(directory, entry), str(link))
    return "%s:%s" % (os.path.join(REPO, ".venv", "bin"), bindir)


def docker(*args):
    return subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=True).stdout


class Case(object):
    """One bad input: how to make it, and the two things its refusal must say."""

    def __init__(self, case_id, what, todo, extra=None, inventory=None, setup=None, env=None,
                 secret=None):
        self.id = case_id
        self.what = what          # text that says what failed
        self.todo = todo          # text that says what to do
        self.extra = extra or {}  # -e strings
        self.inventory = inventory or {}
        self.setup = setup        # setup(ctx) -> dict of inventory/extra changes, optional undo
        self.env = env
        self.secret = secret      # a string that must NOT appear in the output


class Ctx(object):
    def __init__(self, info, tmp):
        self.info = info
        self.tmp = tmp
        self.undo = []
        self.paths = [info["backup_dir"]]
        self.hosts = {}
        self.extra = {}
        self.inventory = {}
        self.env = {}


# -- setups that need files or a state of the host --------------------------------------------

def old_stopped(ctx):
    docker("stop", "-t", "5", ctx.info["old_container"])
    ctx.undo.append("reset")


def old_wrong_version(ctx):
    tag = "%s:feature_4.0.2-ce" % ctx.info["source_image"].rsplit(":", 1)[0]
    name = "oms_%s_402" % INSTANCE
    docker("tag", ctx.info["source_image"], tag)
    docker("create", "--name", name, tag)
    ctx.undo.append(lambda: docker("rm", "-f", name))
    ctx.undo.append(lambda: docker("rmi", tag))
    ctx.inventory["oms_old_container"] = name


def archive_dir(ctx):
    ctx.extra["oms_image_archive"] = str(ctx.tmp)


def archive_not_tar(ctx):
    ctx.extra["oms_image_archive"] = write_private(ctx.tmp / "oms.tar", "not a tarball\n")


def archive_no_index(ctx):
    path = ctx.tmp / "oms.tar"
    with tarfile.open(str(path), "w") as tar:
        data = b"hello"
        info = tarfile.TarInfo("readme.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ctx.extra["oms_image_archive"] = str(path)


def target_tag(tag_suffix):
    def setup(ctx):
        ctx.extra["oms_target_image"] = "%s:%s" % (ctx.info["target_image"].rsplit(":", 1)[0], tag_suffix)
    return setup


def archive_version(tag_suffix, labels=None):
    def setup(ctx):
        tag = "%s:%s" % (ctx.info["target_image"].rsplit(":", 1)[0], tag_suffix)
        ctx.extra["oms_image_archive"] = image_tarball(ctx.tmp / "oms.tar", tag, labels)
        ctx.extra["oms_target_image"] = tag
    return setup


def config_text(text):
    def setup(ctx):
        ctx.extra["oms_config_file"] = write_private(ctx.tmp / "config.yaml", text)
    return setup


def config_edited(key, value):
    def setup(ctx):
        with open(ctx.info["config_file"]) as handle:
            data = yaml.safe_load(handle)
        data[key] = value
        ctx.extra["oms_config_file"] = write_private(ctx.tmp / "config.yaml", yaml.safe_dump(data))
    return setup


def backup_in_mount(key, sub):
    def setup(ctx):
        path = os.path.join(ctx.info["mounts"][key], sub) if sub else ctx.info["mounts"][key]
        ctx.extra["oms_backup_dir"] = path
        if sub:  # the mount itself is OMS's own data: the running OMS writes there all the time
            ctx.paths.append(path)
    return setup


def backup_is_file(ctx):
    path = write_private(ctx.tmp / "backup", "")
    ctx.extra["oms_backup_dir"] = path
    ctx.paths.append(path)


def backup_shared(ctx):
    # A second deployment of the same run, on the same machine, with the same backup directory
    ctx.hosts["%s_twin" % INSTANCE] = dict(ctx.inventory_vars)


def mysqldump_fails(ctx):
    ctx.extra["oms_upgrade_mysqldump_path"] = fake_client(
        ctx.tmp / "mysqldump", "mysqldump: Got error: 1044: Access denied to database", 2)


def mysqldump_truncated(ctx):
    ctx.extra["oms_upgrade_mysqldump_path"] = fake_client(
        ctx.tmp / "mysqldump", "", 0, stdout="-- MariaDB dump 10.19")


def without_zstd(ctx):
    ctx.env["PATH"] = path_without(ctx.tmp, "zstd")
    ctx.extra["oms_upgrade_dump_compress"] = "zstd"


def mounts_differ(ctx):
    mounts = dict(ctx.info["mounts"])
    mounts["logs"] = str(ctx.tmp / "logs")
    ctx.inventory["oms_mounts"] = mounts


SECRET_IN_CONFIG = "Pa55-in-the-broken-line"

CASES = [
    # The old container
    Case("old_container_missing", "No container named oms_nope_411", "Set oms_old_container",
         inventory={"oms_old_container": "oms_nope_411"}),
    Case("old_container_stopped", "is not running", "docker start", setup=old_stopped),
    Case("old_container_not_4.1.1", "only 4.1.1-CE -> 4.2.0-CE is supported", "Upgrade it to 4.1.1-CE first",
         setup=old_wrong_version),
    Case("old_container_empty_name", "oms_old_container is empty", "Set it in the inventory or with -e",
         extra={"oms_old_container": ""}),
    # The new container's name
    Case("new_name_taken", "already exists", "Choose another oms_new_container",
         extra={"oms_new_container": "oms_%s_411" % INSTANCE}),
    # The image tarball and the target version
    Case("tarball_missing", "does not exist", "Copy the OMS image tarball",
         extra={"oms_image_archive": "/nonexistent/oms_feature_4.2.0-ce.tar"}),
    Case("tarball_is_a_directory", "is not a regular file", "the tarball itself", setup=archive_dir),
    Case("tarball_not_a_tar", "cannot be read as a tar file", "copied completely", setup=archive_not_tar),
    Case("tarball_without_index", "holds neither manifest.json", "written by docker save",
         setup=archive_no_index),
    Case("target_tag_not_in_tarball", "does not hold", "point oms_image_archive (image_archive) at the right tarball",
         setup=target_tag("feature_4.2.1-ce")),
    Case("target_tag_version_4.3.0", "version 4.3.0-CE (from its tag)", "Point oms_image_archive at the OMS 4.2.0-CE",
         setup=archive_version("feature_4.3.0-ce")),
    Case("target_label_version_4.1.1", "version 4.1.1-CE (from its label)",
         "Point oms_image_archive at the OMS 4.2.0-CE",
         setup=archive_version("latest", {"org.opencontainers.image.version": "4.1.1-CE"})),
    Case("target_without_version", "of no version its tag or labels say", "Point oms_image_archive",
         setup=archive_version("latest")),
    Case("image_without_room_where_docker_keeps_images", "where Docker keeps its images (docker info: DockerRootDir)",
         "Free space there", setup=archive_version("feature_4.2.0-ce"),
         extra={"oms_upgrade_image_space_factor": "1e15"}),
    # config.yaml and the MetaDB
    Case("config_missing", "Cannot read the OMS config file", "Give config_file",
         extra={"oms_config_file": "/nonexistent/config.yaml"}),
    Case("config_not_yaml", "is not valid YAML (line 2, column", "Fix the file at that place",
         setup=config_text("oms_meta_host: 127.0.0.1\noms_meta_password: %s: x\n" % SECRET_IN_CONFIG),
         secret=SECRET_IN_CONFIG),
    Case("config_not_a_mapping", "does not hold a YAML mapping", "Point config_file",
         setup=config_text("- oms_meta_host\n- oms_meta_port\n")),
    Case("config_port_not_a_number", "is not a port number", "Fix oms_meta_port",
         setup=config_edited("oms_meta_port", "twentythree")),
    Case("config_database_name_with_dot", "drc_cm_db in", "without '.', '/', backticks",
         setup=config_edited("drc_cm_db", "%s.cm" % INSTANCE)),
    Case("metadb_wrong_password", "refused the login", "Check the user and password",
         inventory={"oms_metadb_password": "not-the-password"}),
    Case("metadb_port_closed", "Cannot reach the MetaDB", "Check that the MetaDB runs",
         extra={"oms_metadb_port": "1"}),
    Case("metadb_host_unknown", "Cannot reach the MetaDB", "Check that the MetaDB runs",
         extra={"oms_metadb_host": "no-such-host.invalid"}),
    Case("database_missing", "%s_rm_nope" % INSTANCE, "Check the database name",
         extra={"oms_metadb_rm_db": "%s_rm_nope" % INSTANCE}),
    Case("database_name_with_dot", "holds '.'", "without '.', '/', backticks",
         extra={"oms_metadb_rm_db": "%s.rm" % INSTANCE}),
    Case("database_name_with_slash", "holds '/'", "without '.', '/', backticks",
         extra={"oms_metadb_cm_db": "%s/cm" % INSTANCE}),
    Case("database_name_leading_dash", "holds a leading -", "without '.', '/', backticks",
         extra={"oms_metadb_cm_hb_db": "-%s_cm_hb" % INSTANCE}),
    Case("database_name_with_backtick", "holds '`'", "without '.', '/', backticks",
         inventory={"oms_metadb_rm_db": "%s`rm" % INSTANCE}),
    # The backup directory
    Case("backup_dir_inside_logs_mount", "lies inside", "outside every mount",
         setup=backup_in_mount("logs", "oms_backup")),
    Case("backup_dir_is_store_mount", "lies inside", "outside every mount",
         setup=backup_in_mount("store", None)),
    Case("backup_dir_is_a_file", "is not a writable directory", "set oms_backup_dir to a writable place",
         setup=backup_is_file),
    Case("backup_dir_parent_missing", "cannot be created in its parent", "mkdir -p",
         extra={"oms_backup_dir": "/nonexistent/oms/backup"}),
    Case("backup_dir_shared_by_two_deployments", "is also the backup directory of",
         "Give every deployment its own oms_backup_dir", setup=backup_shared),
    Case("backup_dir_without_room", "the three dumps", "Free space there or set oms_backup_dir elsewhere",
         extra={"oms_upgrade_backup_space_factor": "1e15"}),
    # Clients and compressor on the OMS host
    Case("mysqldump_missing", "mysqldump and mysql must be on the OMS host", "Install the MySQL or MariaDB client",
         extra={"oms_upgrade_mysqldump_path": "/nonexistent/mysqldump"}),
    Case("mysql_missing", "mysqldump and mysql must be on the OMS host", "Install the MySQL or MariaDB client",
         extra={"oms_upgrade_mysql_path": "/nonexistent/mysql"}),
    Case("compressor_missing", "zstd is not on the OMS host's PATH", "set oms_upgrade_dump_compress to",
         setup=without_zstd),
    Case("compressor_unknown", "oms_upgrade_dump_compress", "none, gzip, zstd",
         extra={"oms_upgrade_dump_compress": "bzip2"}),
    Case("dump_rehearsal_refused", "The rehearsal of the dump failed", "Fix what mysqldump says",
         setup=mysqldump_fails),
    Case("dump_rehearsal_incomplete", "did not end with mysqldump's '-- Dump completed' line",
         "Check that mysqldump_path is mysqldump", setup=mysqldump_truncated),
    # The console
    Case("console_wrong_password", "did not list the migration projects", "Check oms_console_url",
         inventory={"oms_console_password": "not-the-password"}),
    Case("console_port_closed", "did not list the migration projects", "Check oms_console_url",
         extra={"oms_console_url": "http://127.0.0.1:1"}),
    Case("console_url_without_scheme", "is not an http:// or https:// URL", "Write it as http(s)://",
         extra={"oms_console_url": "127.0.0.1:8089"}),
    # Mounts and the new container's settings
    Case("mounts_differ", "oms_mounts does not match the old container", "fix oms_mounts or leave it unset",
         setup=mounts_differ),
    Case("ssl_certificate_missing", "is not a file", "Copy the certificate and key to the host",
         extra={"oms_ssl_certificate": "/nonexistent/oms_server.crt",
                "oms_ssl_key": "/nonexistent/oms_server.key"}),
    # Tunables given with -e as strings
    Case("tunable_not_a_number", "oms_upgrade_health_timeout", "int",
         extra={"oms_upgrade_health_timeout": "ten"}),
]


def chosen_cases():
    """Every case, or a seeded sample of OMS_BAD_INPUTS_SAMPLE of them (seed OMS_BAD_INPUTS_SEED,
    default 1) for a shorter CI run; the seed and the sample are printed at collection."""
    size = int(os.environ.get("OMS_BAD_INPUTS_SAMPLE") or 0)
    if not size or size >= len(CASES):
        return CASES
    seed = int(os.environ.get("OMS_BAD_INPUTS_SEED") or 1)
    chosen = random.Random(seed).sample(CASES, size)
    print("bad inputs: %d of %d, seed %d: %s" % (size, len(CASES), seed, ", ".join(c.id for c in chosen)))
    return chosen


def test_there_are_at_least_30_distinct_bad_inputs():
    assert len(set(c.id for c in CASES)) == len(CASES) >= 30
    assert len(set((tuple(sorted(c.extra.items())), tuple(sorted((k, str(v)) for k, v in c.inventory.items())),
                    c.setup) for c in CASES)) == len(CASES)


@pytest.fixture(scope="module")
def deployment(testbed):
    testbed.reset(INSTANCE)
    return testbed.describe(INSTANCE)


def run_preflight(ctx, case, inventory_vars, playbook=PLAYBOOK):
    host_vars = dict(inventory_vars)
    host_vars.update(case.inventory)
    host_vars.update(ctx.inventory)
    hosts = {INSTANCE: host_vars}
    for name, values in ctx.hosts.items():
        hosts[name] = values
    inventory = write_private(ctx.tmp / "inventory.yml",
                              yaml.safe_dump({"all": {"children": {"oms": {"hosts": hosts}}}}))
    extra = dict(case.extra)
    extra.update(ctx.extra)
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory, playbook,
           "-e", "oms_upgrade_preflight_only=true"]
    for key, value in sorted(extra.items()):
        cmd += ["-e", "%s=%s" % (key, value)]
    env = ansible_env()
    env.update(ctx.env)
    start = time.time()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    return proc, time.time() - start


@pytest.mark.parametrize("case", chosen_cases(), ids=lambda c: c.id)
def test_a_bad_input_is_refused_before_anything_changes(testbed, deployment, tmp_path, case):
    ctx = Ctx(deployment, tmp_path)
    ctx.inventory_vars = inventory_for(deployment)
    try:
        if case.setup:
            case.setup(ctx)
        before = Snapshot(deployment, ctx.paths)
        proc, took = run_preflight(ctx, case, ctx.inventory_vars)
        changed = before.differences()
    finally:
        for undo in reversed(ctx.undo):
            if undo == "reset":
                testbed.reset(INSTANCE)
            else:
                undo()
    output = proc.stdout
    print("%s: rc=%s in %.1f s" % (case.id, proc.returncode, took))
    if changed and "reset" not in ctx.undo:
        testbed.reset(INSTANCE)  # the next input must start from an untouched deployment
    assert proc.returncode != 0, "the preflight accepted %s:\n%s" % (case.id, output[-3000:])
    assert not changed, "%s changed things before being refused:\n%s" % (case.id, "\n".join(changed))
    assert case.what in output, "'%s' not in the output:\n%s" % (case.what, output[-3000:])
    assert case.todo in output, "'%s' not in the output:\n%s" % (case.todo, output[-3000:])
    if case.secret:
        assert case.secret not in output


def test_the_rollback_refuses_a_backup_directory_two_deployments_share(testbed, deployment, tmp_path):
    """The rollback restores from the journal and dumps in oms_backup_dir: shared by two hosts of
    one run, one of them would get the other's databases. Refused before the journal is read."""
    ctx = Ctx(deployment, tmp_path)
    ctx.inventory_vars = inventory_for(deployment)
    backup_shared(ctx)
    # the rollback acts only on hosts the user names (-l or oms_target_hosts): name both
    ctx.extra["oms_target_hosts"] = "oms"
    case = Case("rollback_backup_dir_shared", "is also the backup directory of",
                "Give every deployment its own oms_backup_dir")
    before = Snapshot(deployment, ctx.paths)
    proc, took = run_preflight(ctx, case, ctx.inventory_vars,
                               playbook=os.path.join(REPO, "playbooks", "rollback.yml"))
    changed = before.differences()
    print("%s: rc=%s in %.1f s" % (case.id, proc.returncode, took))
    assert proc.returncode != 0 and not changed, (changed, proc.stdout[-3000:])
    assert case.what in proc.stdout and case.todo in proc.stdout, proc.stdout[-3000:]
