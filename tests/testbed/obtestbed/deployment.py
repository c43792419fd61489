"""One OMS 4.1.1 deployment: its config.yaml, host directories and container, run as the
deployment docs say (`docker run -dit --net host`, the four mounts, OMS_HOST_IP,
`--pids-limit -1 --ulimit nproc=65535:65535`) minus `--privileged`, which these machines refuse."""

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.request

import docker
import yaml

from obtestbed import naming
from obtestbed.errors import TestbedError

FAULT_TOKENS = ("init_fail_halfway", "init_no_success_line", "never_online", "openapi_refuse",
                "slow_start", "no_health_endpoint", "ha_config_cached", "envelope_strings",
                "describe_list", "sync_delay", "switchover_pending")
# Project controls (simulator/oms_sim/faults.py): sync_delay=ID:SECONDS/ID:SECONDS and
# switchover_pending=ID/ID.
PROJECT_VALUE = {"sync_delay": re.compile(r"^[\w.-]+:\d+(/[\w.-]+:\d+)*$"),
                 "switchover_pending": re.compile(r"^[\w.-]+(/[\w.-]+)*$")}
# The simulated container's durations (simulator/oms_sim/profile.py). Every profile has the same
# lifecycle (supervised, a boot phase answering 502, docker_init.sh restarting the components);
# only the durations differ. `realistic` is OMS's (boot >= 60 s as obd waits, docker_init.sh 2-4
# minutes as the docs say); `short` keeps the test suites inside CI's budget, never zero.
PROFILES = {
    "realistic": {"boot_seconds": 60, "init_seconds": 120},
    "short": {"boot_seconds": 3, "init_seconds": 6},
    # docker_init.sh long enough for a test to start a second controller while the window runs
    "slow_init": {"boot_seconds": 3, "init_seconds": 30},
}
DEFAULT_PROFILE = "short"


# The restart policy of every 4.1.1 deployment the test bed starts (docker run --restart).
OLD_RESTART_POLICY = "always"


def check_faults(tokens):
    for token in tokens:
        name, dummy, value = token.partition("=")
        if name in PROJECT_VALUE:
            if not PROJECT_VALUE[name].match(value):
                raise TestbedError("fault %r: use sync_delay=PROJECT_ID:SECONDS[/...] or "
                                   "switchover_pending=PROJECT_ID[/...]" % token)
            continue
        if name not in FAULT_TOKENS or (name == "slow_start") != bool(value) or (
                value and not value.isdigit()):
            raise TestbedError("unknown fault %r. Use: %s, slow_start=SECONDS" % (
                token, ", ".join(t for t in FAULT_TOKENS if t != "slow_start")))
    return list(tokens)


def profile_name(name=None):
    """The profile asked for, else OMS_TESTBED_PROFILE, else short."""
    name = name or os.environ.get("OMS_TESTBED_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILES:
        raise TestbedError("unknown profile %r. Use: %s" % (name, ", ".join(sorted(PROFILES))))
    return name


def write_profile(inst, name):
    """Written to the run mount, so the 4.2.0 container of an upgrade finds it too."""
    os.makedirs(os.path.dirname(inst.profile_file), exist_ok=True)
    with open(inst.profile_file, "w") as f:
        json.dump(dict(PROFILES[name], name=name), f)
    return PROFILES[name]


def read_profile(inst):
    try:
        with open(inst.profile_file) as f:
            return json.load(f)
    except (OSError, ValueError):
        return dict(PROFILES["realistic"], name="realistic")  # the simulator's own default


def write_faults(inst, tokens):
    check_faults(tokens)
    os.makedirs(os.path.dirname(inst.faults_file), exist_ok=True)
    if tokens:
        with open(inst.faults_file, "w") as f:
            f.write("\n".join(tokens) + "\n")
    elif os.path.exists(inst.faults_file):
        os.unlink(inst.faults_file)


def config_dict(inst, meta_pw, console_password, engine=None):
    spec = naming.metadb_spec(engine)
    return {
        # [doc] the keys of the single-node deployment guide
        "oms_meta_host": spec.host,
        "oms_meta_port": spec.port,
        "oms_meta_user": naming.METADB_USER,
        "oms_meta_password": meta_pw,
        "drc_rm_db": inst.rm_db,
        "drc_cm_db": inst.cm_db,
        "drc_cm_heartbeat_db": inst.cm_hb_db,
        "cm_url": "http://%s:8088" % naming.OMS_HOST_IP,
        "cm_location": 100,
        "cm_region": "cn-testbed",
        "cm_region_cn": "testbed",
        "cm_is_default": True,
        "cm_nodes": [naming.OMS_HOST_IP],
        "tsdb_enabled": False,
        # test-bed keys (FIDELITY.md): the console port, as later releases' obd writes it, and
        # the simulator's console admin password.
        "nginx_server_port": inst.console_port,
        "oms_sim_console_password": console_password,
    }


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def make_ssl(inst):
    os.makedirs(inst.ssl_dir, exist_ok=True)
    crt = os.path.join(inst.ssl_dir, "oms_server.crt")
    key = os.path.join(inst.ssl_dir, "oms_server.key")
    proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                           "30", "-subj", "/CN=%s" % naming.OMS_HOST_IP, "-addext",
                           "subjectAltName=IP:%s" % naming.OMS_HOST_IP, "-keyout", key, "-out", crt],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise TestbedError("openssl could not make a test certificate: %s" % proc.stdout)
    os.chmod(key, 0o600)
    return crt, key


def prepare_dirs(inst, meta_pw, ssl_enabled=False, faults=(), engine=None, profile=None):
    """Fresh host directories, config.yaml and the instance's state file; returns the state.
    The state remembers the MetaDB engine, for describe, status, down and later resets."""
    if os.path.isdir(inst.host_dir):
        shutil.rmtree(inst.host_dir)
    for path in list(inst.mounts.values())[1:] + [inst.backup_dir]:
        os.makedirs(path, exist_ok=True)
    password = secrets.token_urlsafe(12)
    _write_private(inst.config_file, yaml.safe_dump(config_dict(inst, meta_pw, password, engine),
                                                    default_flow_style=False, sort_keys=False))
    crt = key = None
    if ssl_enabled:
        crt, key = make_ssl(inst)
    write_faults(inst, list(faults))
    write_profile(inst, profile_name(profile))
    state = {"instance": inst.name, "console_port": inst.console_port,
             "console_user": "admin", "console_password": password,
             "ssl_certificate": crt, "ssl_key": key,
             "metadb_engine": naming.metadb_spec(engine).engine}
    _write_private(inst.state_file, json.dumps(state, indent=2) + "\n")
    return state


def read_state(inst):
    try:
        with open(inst.state_file) as f:
            return json.load(f)
    except (OSError, ValueError):
        raise TestbedError("instance %s is not deployed (no %s). Run: tests/testbed/testbed up %s"
                           % (inst.name, inst.state_file, inst.name))


def metadb_engine(state):
    """The instance's MetaDB engine (deployments made before engines were remembered: MariaDB)."""
    return state.get("metadb_engine") or naming.MARIADB


def remembered_engine(inst):
    """The engine the instance was last deployed on, or None when it is not deployed."""
    try:
        return metadb_engine(read_state(inst))
    except TestbedError:
        return None


def console_url(inst, state):
    scheme = "https" if state.get("ssl_certificate") else "http"
    return "%s://%s:%d" % (scheme, naming.OMS_HOST_IP, inst.console_port)


def run_kwargs(inst, image, name=None, env=None, state=None, extra_binds=()):
    """docker SDK kwargs for a container of this instance, as the docs run OMS (minus
    --privileged)."""
    state = state or {}
    binds = ["%s:/home/admin/conf/config.yaml" % inst.mounts["config"],
             "%s:/home/admin/logs" % inst.mounts["logs"],
             "%s:/home/ds/store" % inst.mounts["store"],
             "%s:/home/ds/run" % inst.mounts["run"]]
    if state.get("ssl_certificate"):
        binds += ["%s:/etc/pki/nginx/oms_server.crt" % state["ssl_certificate"],
                  "%s:/etc/pki/nginx/oms_server.key" % state["ssl_key"]]
    environment = {"OMS_HOST_IP": naming.OMS_HOST_IP}
    environment.update(env or {})
    return dict(image=image, name=name or inst.old_container, detach=True, tty=True,
                stdin_open=True, network_mode="host", volumes=binds + list(extra_binds),
                environment=environment, pids_limit=-1,
                ulimits=[docker.types.Ulimit(name="nproc", soft=65535, hard=65535)],
                labels={naming.INSTANCE_LABEL: inst.name})


def instance_containers(client, inst):
    """Every container the test bed or an upgrade made for this instance."""
    found = {}
    for flt in ({"label": "%s=%s" % (naming.INSTANCE_LABEL, inst.name)},
                {"label": "%s=%s" % (naming.UPGRADED_FROM_LABEL, inst.old_container)}):
        for c in client.containers.list(all=True, filters=flt):
            found[c.id] = c
    for name in (inst.old_container, inst.new_container):
        try:
            c = client.containers.get(name)
            found[c.id] = c
        except docker.errors.NotFound:
            pass
    return list(found.values())


def health(url, timeout=3):
    context = ssl._create_unverified_context()  # the test certificate is self-signed
    try:
        with urllib.request.urlopen(url + "/oms/health", timeout=timeout,
                                    context=context) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except Exception:  # pylint: disable=broad-except
        return None


def wait_serving(client, container_name, url, host_online, timeout):
    """Until health says healthy, the host is ONLINE and the start line is logged."""
    deadline = time.monotonic() + timeout
    while True:
        container = client.containers.get(container_name)
        if container.status in ("exited", "dead"):
            raise TestbedError("container %s exited (%s); its log ends with:\n%s" % (
                container_name, container.attrs["State"].get("ExitCode"),
                container.logs(tail=20).decode("utf-8", "replace")))
        answer = health(url)
        if answer and answer.get("data", {}).get("healthy") and host_online() and \
                b"OMS service start successfully" in container.logs(tail=50):
            return
        if time.monotonic() > deadline:
            raise TestbedError("container %s did not come up healthy within %d s (health: %s); "
                               "its log ends with:\n%s" % (
                                   container_name, timeout, answer,
                                   container.logs(tail=20).decode("utf-8", "replace")))
        time.sleep(0.3)
