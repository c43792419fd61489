"""oms_rehearsal on the real engine and MetaDB (either engine: OMS_TESTBED_METADB): a rehearsal that
passes, one that finds docker_init.sh failing half way with the old container serving throughout,
the isolation proof (connection attempts counted), and a controller killed mid-rehearsal.

Run with OMS_TEST_INSTANCE set to your own instance. The rehearsal needs the 4.2.0 image loaded
(the upgrade's step 3 does it before the stop); each test loads it after its reset, which untags it.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import docker
import pytest
import yaml

from conftest import REPO, ansible_env

MODULE = "oms_rehearsal"
LABEL = "obtools.oms.rehearsal"


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def bed_instance(testbed, instance, engine):
    """The fresh 4.1.1 deployment with the 4.2.0 image loaded, as before the window's stop."""
    if not any(instance["target_image"] in (img.tags or []) for img in engine.images.list()):
        with open(instance["image_archive"], "rb") as f:
            engine.images.load(f.read())
    return instance


def args_for(desc, **extra):
    work = os.path.join(desc["host_dir"], "rehearse")
    os.makedirs(work, 0o700, exist_ok=True)
    args = {
        "config_file": desc["config_file"],
        "source_container": desc["old_container"],
        "image": desc["target_image"],
        # loaded again if another test run on this engine untagged it (scripts/test.sh's lanes)
        "image_archive": desc["image_archive"],
        "journal_path": os.path.join(desc["backup_dir"], "journal.json"),
        "work_dir": work,
        "admin_login_user": desc["metadb_root"]["user"],
        "admin_login_password": desc["metadb_root"]["password"],
        "login_host": desc["metadb"]["host"],
        "login_port": desc["metadb"]["port"],
        "memory": "1g",
        "init_retry_interval": 2,
        "health_timeout": 120,
    }
    args.update(extra)
    return args


def leftovers(engine, testbed, desc):
    """Everything of a rehearsal that still exists: containers, scratch databases, users, dirs."""
    found = [c.name for c in engine.containers.list(all=True, filters={"label": "%s=%s" % (
        LABEL, desc["old_container"])})]
    conn = testbed.root_connect(engine=desc["metadb"]["engine"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                        "WHERE SCHEMA_NAME LIKE 'obrh\\_%%'")
            found += ["db:" + r[0] for r in cur.fetchall() if desc["instance"] in r[0]]
            # this deployment's own user only: other test runs on the engine rehearse beside it
            own = "obrh_" + hashlib.sha256(desc["old_container"].encode()).hexdigest()[:10]
            cur.execute("SELECT user FROM mysql.user WHERE user = %s", (own,))
            found += ["user:" + r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    work = os.path.join(desc["host_dir"], "rehearse")
    if os.path.isdir(work):
        # the deployment's lock file stays, empty of anything but its holder's pid
        found += ["dir:" + n for n in os.listdir(work) if not n.endswith(".lock")]
    return found


def old_state(engine, desc):
    c = engine.containers.get(desc["old_container"])
    return c.status, c.attrs["State"]["StartedAt"]


def test_rehearsal_passes_predicts_and_leaves_nothing(bed_instance, testbed, engine, run_module):
    desc = bed_instance
    before = old_state(engine, desc)
    result = run_module(MODULE, args_for(desc))
    assert not result.failed, result.get("msg")
    assert result["outcome"] == "passed"
    assert result["summary"].startswith("migration rehearsed on a copy: passed in ")
    window = result["predicted_window"]
    assert window["total"] > 0
    assert set(window["parts"]) == {"stop", "prune", "dump", "boot", "init", "health"}
    assert window["parts"]["init"] > 0 and window["parts"]["boot"] > 0
    assert result["user_limited"] is True
    # the simulator's 4.2.0 migration adds tables and columns, in every database
    assert any(c["tables_created"] or c["tables_altered"] for c in result["changes"].values()), \
        result["changes"]
    assert "network_mode" in result["container_spec"] and \
        result["container_spec"]["network_mode"].startswith("container:")
    assert leftovers(engine, testbed, desc) == []
    assert old_state(engine, desc) == before
    # check mode reads the record: ready for the window
    read = run_module(MODULE, args_for(desc), check=True)
    assert read["ready"] is True and read["outcome"] == "passed", read.result
    with open(os.path.join(desc["backup_dir"], "journal.json")) as f:
        step = json.load(f)["steps"]["rehearsal"]
    assert step["status"] == "done" and step["data"]["rehearsal_predicted_window"] == window


def test_failing_migration_is_found_with_the_old_container_serving(testbed, engine, run_module):
    from conftest import INSTANCE
    testbed.reset(INSTANCE, faults=["init_fail_halfway"])
    desc = testbed.describe(INSTANCE)
    with open(desc["image_archive"], "rb") as f:
        engine.images.load(f.read())
    before = old_state(engine, desc)
    assert before[0] == "running"
    result = run_module(MODULE, args_for(desc))
    assert result.failed
    assert result["outcome"] == "failed"
    assert "FAILED" in result["summary"] and "docker_init.sh" in result["summary"]
    assert any("init_fail_halfway" in line for line in result["init_output_tail"]), \
        result["init_output_tail"]
    assert leftovers(engine, testbed, desc) == []
    # zero downtime: the serving container was never stopped nor restarted
    assert old_state(engine, desc) == before
    read = run_module(MODULE, args_for(desc), check=True)
    assert read["ready"] is False and "failed" in read["ready_reason"], read.result


class Listener(object):
    """A TCP listener on the host (all addresses) standing for a project's source database;
    counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def test_isolation_reaches_nothing_but_the_scratch_databases(bed_instance, testbed, engine,
                                                             run_module):
    desc = bed_instance
    listener = Listener()
    try:
        # control: an ordinary container (default bridge) reaches the listener through its
        # default gateway (the host), so a count of 0 below is the isolation's doing
        control = ("import socket, struct\n"
                   "for line in open('/proc/net/route').read().splitlines()[1:]:\n"
                   "    f = line.split()\n"
                   "    if f[1] == '00000000':\n"
                   "        gw = socket.inet_ntoa(struct.pack('<L', int(f[2], 16)))\n"
                   "socket.create_connection((gw, %d), 5)\n"
                   "print(gw)\n" % listener.port)
        gateway = engine.containers.run(desc["source_image"], ["python3", "-c", control],
                                        entrypoint=[], remove=True,
                                        network_mode="bridge").decode().strip()
        targets = ["127.0.0.1:%d" % listener.port, "%s:%d" % (gateway, listener.port)]
        deadline = time.time() + 5
        while listener.accepted < 1 and time.time() < deadline:
            time.sleep(0.1)
        assert listener.accepted == 1
        production = [desc["metadb"]["rm_db"], desc["metadb"]["cm_db"], desc["metadb"]["cm_hb_db"]]
        with open(desc["faults_file"], "w") as f:
            f.write("reach_out=%s\nreach_out_dbs=%s\n" % ("/".join(targets), "/".join(production)))
        result = run_module(MODULE, args_for(desc))
        assert not result.failed, result.get("msg")
        lines = [line for line in result["init_output_tail"] if "reach_out:" in line]
        failed = [line for line in lines if " failed (" in line]
        connected = [line for line in lines if "CONNECTED" in line]
        # every attempt was made and failed: 2 addresses, 3 production databases
        assert len(failed) == 5 and connected == [], lines
        assert listener.accepted == 1  # the control's connection only
        assert leftovers(engine, testbed, desc) == []
    finally:
        listener.close()
        if os.path.exists(desc["faults_file"]):
            os.unlink(desc["faults_file"])


def test_killed_controller_leaves_nothing_after_the_next_run(bed_instance, testbed, engine,
                                                             run_module):
    desc = bed_instance
    args = args_for(desc)
    work = os.path.join(desc["host_dir"], "kill-test")
    os.makedirs(work, 0o700, exist_ok=True)
    args_file = os.path.join(work, "args.yml")
    fd = os.open(args_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"module_args": args}, f)
    play = os.path.join(work, "play.yml")
    with open(play, "w") as f:
        yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "vars_files": [args_file],
                         "tasks": [{"obtools.oms.oms_rehearsal": "{{ module_args }}"}]}], f)
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c",
           "local", "-e", "ansible_python_interpreter=%s" % sys.executable, play]
    with open(os.path.join(work, "out.txt"), "w") as out:
        proc = subprocess.Popen(cmd, env=ansible_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.time() + 300
        oms = None
        while time.time() < deadline and proc.poll() is None:
            names = [c.name for c in engine.containers.list(filters={"label": "%s=%s" % (
                LABEL, desc["old_container"])})]
            oms = [n for n in names if not n.endswith(("_relay_in", "_relay_out"))]
            if oms:
                break
            time.sleep(0.2)
        assert oms, "the rehearsal's OMS container never appeared"
        # the controller and the module's own process (which would outlive a lost controller
        # and clean up: the lock file names it), as a lost host would
        with open(os.path.join(args["work_dir"], ".obrh_%s.lock" % desc["old_container"])) as f:
            module_pid = json.load(f)["pid"]
        os.killpg(proc.pid, signal.SIGKILL)
        try:
            os.kill(module_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    left = leftovers(engine, testbed, desc)
    assert any(n.startswith("db:") for n in left) and oms[0] in left, left
    result = run_module(MODULE, args)
    assert not result.failed, result.get("msg")
    assert oms[0] in result["removed_before"]["containers"]
    assert result["removed_before"]["databases"]
    assert leftovers(engine, testbed, desc) == []


def test_a_login_that_cannot_grant_is_said_to_isolate_by_network_only(bed_instance, testbed,
                                                                      engine, run_module):
    """The deployment's own login, allowed the scratch databases but not CREATE USER: the rehearsal
    passes, and the result and summary say the isolation is by network only."""
    desc = bed_instance
    pattern = "`obrh\\_%s\\_%%`.*" % desc["instance"]
    conn = testbed.root_connect(engine=desc["metadb"]["engine"])
    try:
        with conn.cursor() as cur:
            cur.execute("GRANT ALL PRIVILEGES ON %s TO '%s'@'%%'" % (pattern, desc["metadb"]["user"]))
        conn.commit()
        args = args_for(desc)
        del args["admin_login_user"], args["admin_login_password"]
        result = run_module(MODULE, args)
        assert not result.failed, result.get("msg")
        assert result["user_limited"] is False
        assert result["summary"].endswith("isolated by its network only: the login cannot create a "
                                          "user limited to the scratch databases")
        assert leftovers(engine, testbed, desc) == []
    finally:
        with conn.cursor() as cur:
            cur.execute("REVOKE ALL PRIVILEGES ON %s FROM '%s'@'%%'" % (pattern, desc["metadb"]["user"]))
        conn.commit()
        conn.close()
