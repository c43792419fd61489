# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rehearsal's sandbox: the 4.2.0 container in a network namespace that reaches nothing but
the MetaDB's scratch copy, through two relays, with scratch directories and a copy of config.yaml.

- `out` relay, on the host network: a Unix socket in the scratch directory to the MetaDB's address;
- `in` relay, network_mode none (loopback only): 127.0.0.1:<MetaDB port> to that socket;
- the OMS container in the `in` relay's namespace (network_mode container:<relay>), from the old
  container's run spec with the data mounts swapped for scratch ones, no restart policy, and
  memory and CPU limits; its console's /oms/health asked from inside the namespace.

Each function takes the Docker client and plain values; `record(kind, name)` records what is
about to be created (rehearsal_verdict.Cleanup.record), so that a killed run's leftovers are found.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    UPGRADED_FROM_LABEL,
)
from ansible_collections.obtools.oms.plugins.module_utils.container_spec import build_run_spec

LABEL = "obtools.oms.rehearsal"
RELAY_SOCKET = "metadb.sock"
# Defaults explained in the module's documentation.
DEFAULT_MEMORY = "4g"
DEFAULT_CPUS = 1.0

# A TCP relay for Python 2.7 and 3: `unix PATH - HOST PORT` listens on a Unix socket and connects
# each client to HOST:PORT; `tcp HOST PORT PATH -` listens on HOST:PORT and connects to the socket.
# It prints one line per connection, so the relays' logs say what passed.
RELAY_CODE = r'''
import socket, sys, threading
mode = sys.argv[1]
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except Exception:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
def serve(c):
    try:
        if mode == "unix":
            u = socket.create_connection((sys.argv[4], int(sys.argv[5])), 10)
            u.settimeout(None)
        else:
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(sys.argv[4])
    except Exception as e:
        sys.stdout.write("relay: upstream refused: %s\n" % e)
        sys.stdout.flush()
        c.close()
        return
    t = threading.Thread(target=pipe, args=(u, c))
    t.daemon = True
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()
if mode == "unix":
    import os
    try:
        os.unlink(sys.argv[2])
    except OSError:
        pass
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(sys.argv[2])
else:
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[2], int(sys.argv[3])))
l.listen(64)
sys.stdout.write("relay: listening (%s)\n" % mode)
sys.stdout.flush()
n = 0
while True:
    c, a = l.accept()
    n += 1
    sys.stdout.write("relay: connection %d\n" % n)
    sys.stdout.flush()
    t = threading.Thread(target=serve, args=(c,))
    t.daemon = True
    t.start()
'''
# The relay runs with whichever Python the image has (supervisord, which OMS runs under, is one).
RELAY_ENTRYPOINT = ["sh", "-c",
                    'for p in python3 python python2; do if command -v "$p" >/dev/null 2>&1; '
                    'then exec "$p" -c "$OBRH_RELAY" "$@"; fi; done; '
                    'echo "relay: no python in this image" >&2; exit 127', "relay"]


def _yaml_scalar(value):
    """A YAML double-quoted scalar (JSON's string syntax is YAML's) or a bare integer."""
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def rewrite_config(text, values, lists=None):
    """config.yaml `text` with the top-level `values` ({key: scalar}) and `lists` ({key: [items]})
    set; every other line as it was. A key absent is appended."""
    lines = text.splitlines()
    out = []
    done = set()
    skipping = False
    for line in lines:
        if skipping:
            if line.startswith((" ", "\t", "-")) and line.strip():
                continue
            skipping = False
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*:", line)
        key = match.group(1) if match else None
        if key in (values or {}):
            out.append("%s: %s" % (key, _yaml_scalar(values[key])))
            done.add(key)
            skipping = True  # a value continued on the next lines goes with it
            continue
        if key in (lists or {}):
            out.append("%s:" % key)
            out.extend("  - %s" % _yaml_scalar(item) for item in lists[key])
            done.add(key)
            skipping = True
            continue
        out.append(line)
    for key, value in (values or {}).items():
        if key not in done:
            out.append("%s: %s" % (key, _yaml_scalar(value)))
    for key, items in (lists or {}).items():
        if key not in done:
            out.append("%s:" % key)
            out.extend("  - %s" % _yaml_scalar(item) for item in items)
    return "\n".join(out) + "\n"


def loopback_url(url):
    """cm_url with its host replaced by 127.0.0.1 (the rehearsing OMS is its own CM node)."""
    return re.sub(r"^(\w+://)(\[[^\]]*\]|[^:/]+)", r"\g<1>127.0.0.1", url or "")


def rehearsal_config(text, port, user, password, scratch):
    """The copy of config.yaml the rehearsing container mounts."""
    parsed = re.search(r"^cm_url\s*:\s*['\"]?([^'\"\s#]+)", text, re.M)
    values = {"oms_meta_host": "127.0.0.1", "oms_meta_port": int(port), "oms_meta_user": user,
              "oms_meta_password": password, "drc_rm_db": scratch["rm"],
              "drc_cm_db": scratch["cm"], "drc_cm_heartbeat_db": scratch["cm_hb"]}
    if parsed:
        values["cm_url"] = loopback_url(parsed.group(1))
    return rewrite_config(text, values, {"cm_nodes": ["127.0.0.1"]})


# Memory (pure) -----------------------------------------------------------------------------------
def parse_memory(text):
    """Bytes of a Docker memory size (512m, 4g, 1073741824)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", str(text).lower())
    if not match:
        raise OmsError("%r is not a memory size" % (text,),
                       "Write oms_upgrade_rehearsal_memory (memory) as Docker does: 512m, 4g")
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2)]
    return int(float(match.group(1)) * factor)


def mem_available(meminfo_text):
    """MemAvailable of /proc/meminfo text, in bytes (None when absent)."""
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", meminfo_text, re.M)
    return int(match.group(1)) * 1024 if match else None


def check_memory(limit_bytes, available_bytes, rehearsal_host=None):
    """OmsError when the host that rehearses has less memory available than the limit asks."""
    if available_bytes is not None and available_bytes < limit_bytes:
        where = ("the rehearsal host %s (oms_rehearsal_host)" % rehearsal_host if rehearsal_host
                 else "the host")
        raise OmsError("The rehearsal asks for %d MiB of memory but %s has %d MiB available"
                       % (limit_bytes // 1048576, where, available_bytes // 1048576),
                       "Lower oms_upgrade_rehearsal_memory, rehearse at a quieter time, or "
                       "rehearse on another Docker host that reaches the MetaDB "
                       "(oms_rehearsal_host)")


# A GET of the console's /oms/health from inside the rehearsal's namespace (run in the `in` relay,
# which shares it): prints the HTTP status and whether data.healthy is true.
HEALTH_PROBE = r'''
import json, sys
try:
    import http.client as client
except ImportError:
    import httplib as client
try:
    c = client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", "/oms/health")
    r = c.getresponse()
    body = json.loads(r.read().decode("utf-8"))
    sys.stdout.write("%s %s\n" % (r.status, bool((body.get("data") or {}).get("healthy"))))
except Exception as e:
    sys.stdout.write("0 %s\n" % type(e).__name__)
'''
PY_EXEC = ('code="$1"; shift; for p in python3 python python2; do if command -v "$p" >/dev/null '
           '2>&1; then exec "$p" -c "$code" "$@"; fi; done; echo "no python" >&2; exit 127')


def scratch_dirs(workdir, origin, port, user, password, scratch):
    """config.yaml's copy (pointing at 127.0.0.1 and the `scratch` databases), empty logs, store
    and relay directories, and a copy of run under `workdir`. Returns the console's port."""
    text = origin.config_text
    conf = os.path.join(workdir, "config.yaml")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(rehearsal_config(text, port, user, password, scratch))
    m = re.search(r"^nginx_server_port\s*:\s*['\"]?(\d+)", text, re.M)
    for key in ("logs", "store", "relay"):
        os.makedirs(os.path.join(workdir, key), 0o755)
    # run holds OMS's runtime state, which an upgrade's docker_init.sh finds there: a copy
    origin.copy_run(os.path.join(workdir, "run"))
    return int(m.group(1)) if m else 8089


def relay_spec(name, image, workdir, source, network_mode, args):
    return {"name": name, "image": image, "tty": False, "stdin_open": False,
            "environment": {"OBRH_RELAY": RELAY_CODE}, "network_mode": network_mode,
            "binds": ["%s:/obrh_relay" % os.path.join(workdir, "relay")],
            "privileged": False, "cap_add": [], "pids_limit": None, "ulimits": [],
            "labels": {LABEL: source}, "restart_policy": None,
            "entrypoint": RELAY_ENTRYPOINT, "command": args,
            "mem_limit": "128m", "nano_cpus": int(0.5 * 1e9)}


def start_relays(client, containers, image, workdir, source, metadb_host, metadb_port, record):
    """The `out` and `in` relays started, and the socket between them there."""
    sock = "/obrh_relay/" + RELAY_SOCKET
    for name, mode, args in (
            (containers["relay_out"], "host", ["unix", sock, "-", metadb_host, str(metadb_port)]),
            (containers["relay_in"], "none", ["tcp", "127.0.0.1", str(metadb_port), sock, "-"])):
        record("containers", name)
        client.create_container(relay_spec(name, image, workdir, source, mode, args))
        client.start_container(name)
        client.wait_still_running(name, 0.5)
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(workdir, "relay", RELAY_SOCKET)):
        if time.time() > deadline:
            raise OmsError("The relay to the MetaDB did not start within 30 s: %s"
                           % " / ".join(client.logs_tail(containers["relay_out"], 5)),
                           "Check that the image %s has python" % image)
        time.sleep(0.2)


def oms_spec(client, old, old_image, containers, image, workdir, source, memory, cpus, warn,
             elsewhere=None):
    """The run spec of the rehearsing OMS: the old container's, in the `in` relay's namespace,
    with scratch data mounts. A mount the rehearsal host lacks (elsewhere) is left out, warned."""
    spec = build_run_spec(old, containers["oms"], image, old_image_inspect=old_image,
                          oms_host_ip="127.0.0.1")
    scratch = {"config": os.path.join(workdir, "config.yaml"),
               "logs": os.path.join(workdir, "logs"),
               "store": os.path.join(workdir, "store"),
               "run": os.path.join(workdir, "run")}
    binds = []
    for bind in spec["binds"]:
        parts = bind.split(":")
        data = False
        for key in DATA_MOUNTS:
            if len(parts) > 1 and os.path.normpath(parts[1]) == CONTAINER_PATHS[key]:
                parts[0] = scratch[key]
                data = True
        if not data and elsewhere and client.is_local and not os.path.exists(parts[0]):
            # another mount of the OMS host's (the SSL files, say) that this host lacks: the
            # engine would create an empty directory in its place
            warn("The rehearsal on %s runs without the old container's mount %s: %s is "
                 "not on that host" % (elsewhere, bind, parts[0]))
            continue
        binds.append(":".join(parts))
    labels = dict(spec["labels"])
    labels.pop(UPGRADED_FROM_LABEL, None)
    labels[LABEL] = source
    spec.update(binds=binds, labels=labels, network_mode="container:%s" % containers["relay_in"],
                restart_policy=None, mem_limit=memory, nano_cpus=int(float(cpus) * 1e9))
    return spec


def start_oms(client, spec, settle_seconds, record):
    """The rehearsing OMS created and started (running for settle_seconds)."""
    record("containers", spec["name"])
    client.create_container(spec)
    client.start_container(spec["name"])
    client.wait_still_running(spec["name"], float(settle_seconds))


def wait_healthy(client, relay_in, console_port, timeout):
    """Seconds until the rehearsing console answers /oms/health healthy (asked from the `in`
    relay, which shares its namespace)."""
    began = time.time()
    deadline = began + float(timeout)
    last = None
    while time.time() < deadline:
        probe = client.exec_command(
            relay_in, ["sh", "-c", PY_EXEC, "sh", HEALTH_PROBE, str(console_port)], 15)
        last = " ".join(probe["stdout_tail"])
        if last.startswith("200 True"):
            return round(time.time() - began, 1)
        time.sleep(1)
    raise OmsError("The rehearsing OMS did not report healthy within %s s after docker_init.sh "
                   "(last answer: %s)" % (timeout, last),
                   "Read its logs (they are removed with it: rehearse again with a larger "
                   "oms_upgrade_health_timeout, health_timeout)")
