"""The rehearsal's pure logic: scratch names, the copy of config.yaml, memory, the predicted
window, the window's verdict on the last rehearsal, the relay (run for real on loopback)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from ansible_collections.obtools.oms.plugins.module_utils import rehearsal, rehearsal_source
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_copy, rehearsal_sandbox, rehearsal_verdict
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

CONFIG = """# OMS config
oms_meta_host: 10.0.0.5
oms_meta_port: 3306
oms_meta_user: oms
oms_meta_password: 'se#cret: "x"'
drc_rm_db: oms_rm
drc_cm_db: oms_cm
drc_cm_heartbeat_db: oms_cm_hb
cm_url: http://10.0.0.9:8088
cm_location: 1
cm_nodes:
  - 10.0.0.9
  - 10.0.0.10
tsdb_enabled: false
"""
SCRATCH = {"rm": "obrh_oms_rm", "cm": "obrh_oms_cm", "cm_hb": "obrh_oms_cm_hb"}


def test_names_never_collide_with_oms_and_fit():
    found = rehearsal.names("oms_411", [("rm", "oms_rm"), ("cm", "oms_cm"), ("cm_hb", "oms_cm_hb")])
    assert found["databases"] == SCRATCH
    assert found["containers"] == {"oms": "obrh_oms_411", "relay_in": "obrh_oms_411_relay_in",
                                   "relay_out": "obrh_oms_411_relay_out"}
    assert found["user"].startswith("obrh_") and len(found["user"]) <= 32
    long_name = "x" * 64
    scratch = rehearsal_copy.scratch_database(long_name)
    assert len(scratch) == 64 and scratch.startswith("obrh_")
    assert scratch != rehearsal_copy.scratch_database("x" * 63 + "y")


def test_grant_pattern_escapes_wildcards():
    assert rehearsal_copy.grant_pattern("obrh_a%b") == "`obrh\\_a\\%b`"


def test_rehearsal_config_points_at_the_relay_and_keeps_the_rest():
    text = rehearsal_sandbox.rehearsal_config(CONFIG, 3306, "obrh_u", "p'w\"d: #1", SCRATCH)
    data = yaml.safe_load(text)
    assert data["oms_meta_host"] == "127.0.0.1" and data["oms_meta_port"] == 3306
    assert data["oms_meta_user"] == "obrh_u" and data["oms_meta_password"] == "p'w\"d: #1"
    assert (data["drc_rm_db"], data["drc_cm_db"], data["drc_cm_heartbeat_db"]) == (
        "obrh_oms_rm", "obrh_oms_cm", "obrh_oms_cm_hb")
    assert data["cm_url"] == "http://127.0.0.1:8088"
    assert data["cm_nodes"] == ["127.0.0.1"]
    assert data["cm_location"] == 1 and data["tsdb_enabled"] is False
    assert text.startswith("# OMS config\n")
    assert "10.0.0" not in text


def test_rewrite_config_appends_missing_keys():
    text = rehearsal_sandbox.rewrite_config("a: 1\n", {"b": "x"}, {"c": ["y"]})
    assert yaml.safe_load(text) == {"a": 1, "b": "x", "c": ["y"]}


@pytest.mark.parametrize("url,expected", [
    ("http://10.1.2.3:8088", "http://127.0.0.1:8088"),
    ("https://oms.example/x", "https://127.0.0.1/x"),
    ("http://[fe80::1]:8088", "http://127.0.0.1:8088"),
])
def test_loopback_url(url, expected):
    assert rehearsal_sandbox.loopback_url(url) == expected


def test_memory():
    assert rehearsal_sandbox.parse_memory("4g") == 4 * 1024 ** 3
    assert rehearsal_sandbox.parse_memory("512m") == 512 * 1024 ** 2
    assert rehearsal_sandbox.parse_memory("1073741824") == 1024 ** 3
    with pytest.raises(OmsError):
        rehearsal_sandbox.parse_memory("lots")
    assert rehearsal_sandbox.mem_available("MemTotal: 100 kB\nMemAvailable:   2048 kB\n") == 2 * 1024 * 1024
    assert rehearsal_sandbox.mem_available("MemTotal: 100 kB\n") is None
    rehearsal_sandbox.check_memory(1024, 2048)
    rehearsal_sandbox.check_memory(1024, None)
    with pytest.raises(OmsError, match="oms_rehearsal_host"):
        rehearsal_sandbox.check_memory(4096, 2048)
    with pytest.raises(OmsError, match="but the rehearsal host box1 \\(oms_rehearsal_host\\) has 0 MiB"):
        rehearsal_sandbox.check_memory(4096, 2048, "box1")


def test_predicted_window_adds_the_parts():
    window = rehearsal_verdict.predict_window({"dump_seconds": 20, "boot_seconds": 60.04, "init_seconds": 120,
                                               "health_seconds": 5}, stop_seconds=10, prune_seconds=1)
    assert window == {"total": 216.0, "parts": {"stop": 10.0, "prune": 1.0, "dump": 20.0,
                                                "boot": 60.0, "init": 120.0, "health": 5.0}}
    assert rehearsal_verdict.predict_window({})["total"] == rehearsal_verdict.DEFAULT_STOP_SECONDS + \
        rehearsal_verdict.DEFAULT_PRUNE_SECONDS


NOW = datetime.datetime(2026, 1, 10, 12, 0, tzinfo=datetime.timezone.utc)


def record(status, outcome, finished="2026-01-10T10:00:00.000Z", error=None):
    return {"status": status, "finished_at": finished, "started_at": finished, "error": error,
            "data": {"rehearsal_outcome": outcome, "rehearsal_error": error}}


def test_verdict():
    assert rehearsal_verdict.verdict({}, NOW, 72) == (False, "no rehearsal of this deployment is recorded")
    ok, why = rehearsal_verdict.verdict(record("done", "passed"), NOW, 72)
    assert ok and "2.0 h ago" in why
    ok, why = rehearsal_verdict.verdict(record("done", "passed"), NOW, 1)
    assert not ok and "more than 1 h" in why
    ok, why = rehearsal_verdict.verdict(record("failed", "failed", error="docker_init.sh failed"), NOW, 72)
    assert not ok and "failed: docker_init.sh failed" in why
    ok, why = rehearsal_verdict.verdict(record("started", None), NOW, 72)
    assert not ok and "did not finish" in why


def test_summary():
    window = rehearsal_verdict.predict_window({"init_seconds": 6})
    assert rehearsal_verdict.summarize("passed", 20.4, window).startswith(
        "migration rehearsed on a copy: passed in 20 s; predicted window 17 s (stop 10 s")
    assert rehearsal_verdict.summarize("passed", 20.4, window, user_limited=False).endswith(
        "isolated by its network only: the login cannot create a user limited to the scratch databases")
    text = rehearsal_verdict.summarize("failed", 9, window, "docker_init.sh failed", ["a", "b"])
    assert text == "migration rehearsed on a copy: FAILED after 9 s: docker_init.sh failed\na\nb"
    assert rehearsal_verdict.summarize("passed", 20.4, window, rehearsal_host="box1").startswith(
        "migration rehearsed on a copy (on box1): passed in 20 s")


def test_diff_schemas():
    before = {"a": "CREATE TABLE a (x int)", "b": "CREATE TABLE b (y int)"}
    after = {"a": "CREATE TABLE a (x int, z int)", "c": "CREATE TABLE c (y int)"}
    assert rehearsal_copy.diff_schemas(before, after) == {"tables_created": ["c"], "tables_dropped": ["b"],
                                                          "tables_altered": ["a"]}


def test_copy_regular_tree_skips_sockets():
    src = tempfile.mkdtemp()
    dst = os.path.join(tempfile.mkdtemp(), "copy")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "sub", "f"), "w") as f:
        f.write("x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(src, "s.sock"))
    try:
        rehearsal_source.copy_regular_tree(src, dst)
    finally:
        sock.close()
    assert sorted(os.listdir(dst)) == ["sub"]
    with open(os.path.join(dst, "sub", "f")) as f:
        assert f.read() == "x"


def _serve_once(server, reply):
    conn, _addr = server.accept()
    data = conn.recv(100)
    conn.sendall(reply + data)
    conn.close()


def test_relay_pair_carries_a_connection_on_loopback():
    """The two relays as the rehearsal runs them (tcp -> Unix socket -> tcp), here as processes."""
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    threading.Thread(target=_serve_once, args=(server, b"hello "), daemon=True).start()
    work = tempfile.mkdtemp()
    path = os.path.join(work, "r.sock")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ, OBRH_RELAY=rehearsal_sandbox.RELAY_CODE)
    procs = [subprocess.Popen(rehearsal_sandbox.RELAY_ENTRYPOINT + args, env=env, stdout=subprocess.DEVNULL)
             for args in (["unix", path, "-", "127.0.0.1", str(server.getsockname()[1])],
                          ["tcp", "127.0.0.1", str(port), path, "-"])]
    try:
        deadline = time.time() + 10
        # as the module does before it starts OMS: the outer relay's socket exists
        while not os.path.exists(path):
            assert time.time() < deadline
            time.sleep(0.05)
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), 2)
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.1)
        client.sendall(b"world")
        got = b""
        while not got.endswith(b"world"):
            chunk = client.recv(100)
            assert chunk, got
            got += chunk
        assert got == b"hello world"
        client.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        server.close()
    assert sys.version_info[0] == 3
