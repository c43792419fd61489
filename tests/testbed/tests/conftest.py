"""Fixtures for the test bed's own tests: real engine, real MariaDB, the simulator images.

They use instances t1 and t2 only, so that other developers' instances (a, b, c, d, m, r*) are
never touched.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import base64
import ssl

import docker
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from obtestbed import Testbed, naming  # noqa: E402  pylint: disable=wrong-import-position
from obtestbed.access import connect, query  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

# Engineers sharing one engine give their own names (OMS_TESTBED_TEST_MAIN, ..._SPARE).
MAIN = os.environ.get("OMS_TESTBED_TEST_MAIN") or "t1"
SPARE = os.environ.get("OMS_TESTBED_TEST_SPARE") or "t2"


@pytest.fixture(scope="session")
def bed():
    """The test bed with t1 up, on OMS_TESTBED_METADB's engine (MariaDB when unset: never the
    engine t1 happened to be left on by an earlier run)."""
    testbed = Testbed(metadb_engine=naming.metadb_engine_env() or naming.MARIADB)
    testbed.up([MAIN])
    return testbed


@pytest.fixture
def fresh(bed):
    """Instance t1 reset to a fresh 4.1.1 deployment; its description."""
    return bed.reset(MAIN)


@pytest.fixture
def spare(bed):
    """Instance t2 (for tests that break their deployment), removed afterwards."""
    yield bed
    bed.down([SPARE])


def wait_for(predicate, timeout=30, interval=0.3, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def http(url, method="GET", body=None, auth=None, timeout=5):
    """(status, parsed JSON or None); never raises for HTTP errors."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % auth).encode()).decode())
    context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, json.loads(resp.read().decode() or "null")
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode()
        return exc.code, json.loads(raw) if raw else None


def health(info):
    try:
        status, body = http(info["console_url"] + "/oms/health", timeout=2)
    except (OSError, ValueError):
        return None
    return body if status == 200 else None


def healthy(info):
    body = health(info)
    return bool(body and body["data"]["healthy"])


def openapi(info, action, body=None, auth=None):
    auth = auth or (info["console_user"], info["console_password"])
    return http("%s/api/v2?Action=%s" % (info["console_url"], action), "POST", body or {}, auth)


def refusal(bed, name, needle, timeout=60):
    """Under the supervisor a refusing server never ends the container: wait until its log shows
    `needle`, check it still runs and is not serving; return its log."""
    def logged():
        text = bed.client.containers.get(name).logs().decode()
        return text if needle in text else None
    logs = wait_for(logged, timeout, what="%r in the log of %s" % (needle, name))
    assert bed.client.containers.get(name).status == "running"
    return logs


def container_exit(bed, name, timeout=40):
    """Wait until the container stopped; return (exit code, its log)."""
    def stopped():
        c = bed.client.containers.get(name)
        return c if c.status in ("exited", "dead") else None
    c = wait_for(stopped, timeout, what="%s to exit" % name)
    return c.attrs["State"]["ExitCode"], c.logs().decode()


def load_target(bed, info):
    with open(info["image_archive"], "rb") as f:
        bed.client.images.load(f.read())


def run_new(bed, info, env=None):
    """The 4.2.0 container as the upgrade runs it: same mounts and settings, IS_UPGRADE=true."""
    kwargs = bed.run_kwargs(info["instance"], image=info["target_image"],
                            container_name=info["new_container"], env=env)
    kwargs["labels"]["obtools.oms.upgraded_from"] = info["old_container"]
    bed.client.containers.get(info["old_container"]).stop(timeout=10)
    for attempt in range(3):
        # Another developer's `up` may untag 4.2.0 between our load and run: load again.
        load_target(bed, info)
        try:
            return bed.client.containers.run(**kwargs)
        except docker.errors.APIError:
            if attempt == 2:
                raise
            try:
                bed.client.containers.get(info["new_container"]).remove(force=True)
            except docker.errors.NotFound:
                pass


NOT_READY = "supervisor.sock no such file"
SUCCESS_LINE = u"\u3010\u7ed3\u675f\u3011\u5168\u90e8\u521d\u59cb\u5316\u6b65\u9aa4\u6267\u884c\u6210\u529f"


def docker_init(bed, info, container=None, wait_ready=True, timeout=120):
    """Run docker_init.sh; with wait_ready, again while the container still boots."""
    deadline = time.monotonic() + timeout
    while True:
        result = bed.client.containers.get(container or info["new_container"]).exec_run(
            ["bash", "/root/docker_init.sh"])
        out = result.output.decode("utf-8", "replace")
        if not wait_ready or NOT_READY not in out or time.monotonic() > deadline:
            return result.exit_code, out
        time.sleep(0.5)


def versions(info):
    m = info["metadb"]
    return [query(info, "SELECT version FROM `%s`.oms_meta_version" % m[k])[0][0]
            for k in ("rm_db", "cm_db", "cm_hb_db")]


def mysql_cli(info, *args, stdin=None):
    m = info["metadb_root"]
    cmd = ["mysql", "-h", m["host"], "-P", str(m["port"]), "-u", m["user"]] + list(args)
    return subprocess.run(cmd, input=stdin, env=dict(os.environ, MYSQL_PWD=m["password"]),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout
