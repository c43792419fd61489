"""The OceanBase MetaDB: seekdb (OceanBase 4.3's SQL engine, single node, MySQL mode) from the
pinned `pylibseekdb` wheel, run as the MariaDB one is: container `obtb-seekdb` made from the local
Debian base image, `--net host`, 127.0.0.1:22881, the wheel's directories bind-mounted read-only,
its base dir under `<root>/seekdb/base`. Root and `oms_meta` get generated passwords (0600 files);
oms_meta gets ALL on each instance's three databases only, and no PROCESS.
"""

import importlib.util
import os
import sys
import time

import docker
import pymysql

from obtestbed import images, metadb, naming
from obtestbed.errors import TestbedError
from obtestbed.locks import locked

SPEC = naming.METADBS[naming.OCEANBASE]
WHEEL_MOUNT = "/opt/seekdb"
BASE_MOUNT = "/var/lib/seekdb"
# Small on purpose (several developers share one 2-core machine): about 280 MB resident and
# 2.2 GB of disk. log_disk_size below 2G is refused at boot (OB_RESOURCE_UNIT_VALUE_INVALID).
PARAMETERS = ("memory_limit=2G", "datafile_size=2G", "log_disk_size=2G")
# About a minute on a busy machine (10 s on an idle one): never tuned to what one machine does.
BOOT_TIMEOUT = 600


def wheel_dirs():
    """(pylibseekdb, pylibseekdb.libs) of the Python that runs the test bed (the project's venv)."""
    spec = importlib.util.find_spec("pylibseekdb")
    if spec is None or not spec.submodule_search_locations:
        raise TestbedError("pylibseekdb is not installed for %s: the OceanBase MetaDB is the "
                           "seekdb server of the pinned wheel (requirements.txt). Run the test "
                           "bed with the project's venv (tests/testbed/testbed does)"
                           % sys.executable)
    package = os.path.realpath(list(spec.submodule_search_locations)[0])
    libs = package + ".libs"
    if not os.access(os.path.join(package, "seekdb"), os.X_OK) or not os.path.isdir(libs):
        raise TestbedError("%s holds no seekdb server (or %s is missing): reinstall "
                           "pylibseekdb==1.4.0.post1" % (package, libs))
    return package, libs


def _mounts_this_wheel(container):
    """Whether the container mounts the wheel of the Python that runs the test bed now."""
    package, libs = wheel_dirs()
    mounted = dict((m.get("Destination"), m.get("Source")) for m in container.attrs.get("Mounts") or [])
    return (mounted.get(WHEEL_MOUNT + "/pylibseekdb") == package
            and mounted.get(WHEEL_MOUNT + "/pylibseekdb.libs") == libs)


def base_dir(root):
    return os.path.join(metadb.metadb_dir(root, naming.OCEANBASE), "base")


def command():
    cmd = [WHEEL_MOUNT + "/pylibseekdb/seekdb", "--nodaemon", "--base-dir", BASE_MOUNT,
           "--port", str(SPEC.port)]
    for parameter in PARAMETERS:
        cmd += ["--parameter", parameter]
    return cmd


def _run(client, root, say):
    package, libs = wheel_dirs()
    base = base_dir(root)
    os.makedirs(base, exist_ok=True)
    with locked(root, "images"):
        images.ensure_base(client, naming.BASE_DEBIAN, say)
    say("starting OceanBase MetaDB (seekdb) container %s on %s:%d; its first boot takes about "
        "a minute" % (SPEC.container, SPEC.host, SPEC.port))
    client.containers.run(
        naming.BASE_DEBIAN, command(), name=SPEC.container, detach=True, network_mode="host",
        working_dir=BASE_MOUNT,
        environment={"LD_LIBRARY_PATH": "%s/pylibseekdb:%s/pylibseekdb.libs"
                                        % (WHEEL_MOUNT, WHEEL_MOUNT)},
        volumes=["%s:%s/pylibseekdb:ro" % (package, WHEEL_MOUNT),
                 "%s:%s/pylibseekdb.libs:ro" % (libs, WHEEL_MOUNT),
                 "%s:%s" % (base, BASE_MOUNT)],
        labels={"obtools.testbed.role": "metadb", "obtools.testbed.metadb_engine": SPEC.engine})


def _log_tail(client, root, lines=20):
    """The container's output and the last errors of seekdb's own log, for an error message."""
    out = ""
    try:
        out = client.containers.get(SPEC.container).logs(tail=lines).decode("utf-8", "replace")
    except docker.errors.NotFound:
        pass
    path = os.path.join(base_dir(root), "log", "seekdb.log")
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4000000))
            errors = [line for line in f.read().decode("utf-8", "replace").splitlines()
                      if " ERROR " in line or " EDIAG " in line]
        out += "\n%s (errors, last %d):\n%s" % (path, lines, "\n".join(
            line[:400] for line in errors[-lines:]))
    except OSError:
        pass
    return out


def _connect_root(root_pw):
    """Root's connection, setting root's password on a fresh server (which has none)."""
    try:
        return metadb.root_connect(root_pw, engine=SPEC.engine)
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != 1045:
            raise
    conn = pymysql.connect(host=SPEC.host, port=SPEC.port, user="root", password="",
                           autocommit=True, connect_timeout=10)
    with conn.cursor() as cur:
        cur.execute("ALTER USER root IDENTIFIED BY %s", (root_pw,))
    conn.close()
    return metadb.root_connect(root_pw, engine=SPEC.engine)


def _wait_ready(client, root, root_pw, timeout=BOOT_TIMEOUT):
    started = time.monotonic()
    last = None
    while True:
        container = client.containers.get(SPEC.container)
        if container.status not in ("running", "created", "restarting"):
            raise TestbedError("OceanBase MetaDB container %s is %s; its log ends with:\n%s" % (
                SPEC.container, container.status, _log_tail(client, root)))
        try:
            conn = _connect_root(root_pw)
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
            return conn
        except pymysql.MySQLError as exc:
            last = exc
        if time.monotonic() - started > timeout:
            raise TestbedError("OceanBase MetaDB (seekdb) did not answer on %s:%d within %d s "
                               "(last: %s); its log ends with:\n%s" % (
                                   SPEC.host, SPEC.port, timeout, last, _log_tail(client, root)))
        time.sleep(1)


def ensure(client, root, say=print):
    """seekdb running, UTC, root's password and oms_meta set; returns (oms_meta_pw, root_pw)."""
    with locked(root, "seekdb"):
        meta_pw, root_pw = metadb.passwords(root, SPEC.engine)
        try:
            container = client.containers.get(SPEC.container)
        except docker.errors.NotFound:
            container = None
        if container is not None and not _mounts_this_wheel(container):
            # made by another checkout's venv (a clone since removed, an older Python): its server
            # binary may be gone; the data stays in the base directory
            say("recreating %s: it mounts another venv's seekdb wheel" % SPEC.container)
            container.remove(force=True)
            container = None
        if container is not None and container.status != "running":
            container.start()
        if container is None:
            _run(client, root, say)
        started = time.monotonic()
        conn = _wait_ready(client, root, root_pw)
        if container is None or container.status != "running":
            say("OceanBase MetaDB answers (%.0f s)" % (time.monotonic() - started))
        try:
            with conn.cursor() as cur:
                # seekdb answers NOW() in UTC+8 by default; MariaDB's container runs in UTC.
                cur.execute("SET GLOBAL time_zone = '+00:00'")
                # The password goes as a parameter (PyMySQL quotes it), so '%' is doubled.
                for verb in ("CREATE USER IF NOT EXISTS", "ALTER USER"):
                    cur.execute("%s %s@'%%%%' IDENTIFIED BY %%s" % (verb, naming.METADB_USER),
                                (meta_pw,))
        finally:
            conn.close()
        return meta_pw, root_pw
