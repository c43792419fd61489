# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an OMS container is, read from `docker inspect` data (pure: no engine, no docker SDK).

The upgrade copies the old container's settings instead of retyping them, so everything here is
about reading inspect data the way every engine version writes it (PidsLimit is null, 0 or -1 for
"unlimited" depending on the engine), and about saying where it differs from the deployment docs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Fixed paths inside the OMS container (deployment docs: "cannot be modified").
CONTAINER_PATHS = {
    "config": "/home/admin/conf/config.yaml",
    "logs": "/home/admin/logs",
    "store": "/home/ds/store",
    "run": "/home/ds/run",
    "ssl_certificate": "/etc/pki/nginx/oms_server.crt",
    "ssl_key": "/etc/pki/nginx/oms_server.key",
}
DATA_MOUNTS = ("config", "logs", "store", "run")

# The docs' `docker run` flags: --net host --privileged --pids-limit -1 --ulimit nproc=65535:65535.
DOCS_NETWORK_MODE = "host"
DOCS_NPROC = 65535
UNLIMITED_PIDS = -1

UPGRADED_FROM_LABEL = "obtools.oms.upgraded_from"
VERSION_LABELS = ("org.opencontainers.image.version", "version", "oms.version", "VERSION")

SECRET_KEY_PATTERN = re.compile(r"PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH",
                                re.IGNORECASE)
MASK = "********"

# feature_4.1.1-ce, 4.2.0-CE, 4.2.0_ce, v4.2.0: numbers, then an optional edition.
VERSION_PATTERN = re.compile(r"(\d+\.\d+\.\d+(?:\.\d+)?)(?:[-_]?(ce|ee))?(?![0-9.])",
                             re.IGNORECASE)


def parse_version(text):
    """`feature_4.1.1-ce` -> `4.1.1-CE`; a bare number stays bare; None when there is none."""
    if not text:
        return None
    tag = text.rsplit("/", 1)[-1]
    if ":" in tag:
        tag = tag.split(":", 1)[1]
    match = VERSION_PATTERN.search(tag)
    if not match:
        return None
    number, edition = match.group(1), match.group(2)
    return "%s-%s" % (number, edition.upper()) if edition else number


def image_version(image_ref, image_inspect=None):
    """(version, source): from the image reference's tag first, then the image's tags or labels."""
    version = parse_version(image_ref)
    if version:
        return version, "tag"
    image_inspect = image_inspect or {}
    for tag in image_inspect.get("RepoTags") or []:
        version = parse_version(tag)
        if version:
            return version, "tag"
    labels = (image_inspect.get("Config") or {}).get("Labels") or {}
    for key in VERSION_LABELS:
        version = parse_version(labels.get(key)) or (labels.get(key) or None)
        if version:
            return version, "label"
    return None, None


def is_secret_key(key):
    return bool(SECRET_KEY_PATTERN.search(key or ""))


def env_to_dict(env_list):
    """["A=1", "B"] -> {"A": "1", "B": None}, in order (a later duplicate wins, as in docker)."""
    result = {}
    for item in env_list or []:
        if "=" in item:
            key, value = item.split("=", 1)
        else:
            key, value = item, None
        result[key] = value
    return result


def mask_env(env):
    return dict((k, MASK if is_secret_key(k) and v is not None else v) for k, v in env.items())


def normalize_pids_limit(value):
    """-1 for unlimited however the engine reports it (null, 0, -1); else the limit."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return UNLIMITED_PIDS
    return value if value > 0 else UNLIMITED_PIDS


def normalize_ulimits(ulimits):
    return [{"name": u.get("Name"), "soft": u.get("Soft"), "hard": u.get("Hard")}
            for u in ulimits or []]


def bind_mounts(inspect):
    """[{type, source, destination, mode, rw}] for every bind and named volume.

    HostConfig.Binds keeps the order and mode string the user typed; `Mounts` adds what came from
    `--mount`. Anonymous volumes (64 hex digits) belong to the image and are not listed.
    """
    result = []
    seen = set()
    for bind in (inspect.get("HostConfig") or {}).get("Binds") or []:
        parts = bind.split(":")
        if len(parts) < 2:
            continue
        mode = ":".join(parts[2:])
        kind = "bind" if parts[0].startswith("/") else "volume"
        result.append({"type": kind, "source": parts[0], "destination": parts[1],
                       "mode": mode, "rw": "ro" not in mode.split(",")})
        seen.add(parts[1])
    for mount in inspect.get("Mounts") or []:
        destination = mount.get("Destination")
        if destination in seen:
            continue
        kind = mount.get("Type") or "bind"
        if kind == "bind":
            source = mount.get("Source")
        elif kind == "volume" and mount.get("Name") and len(mount.get("Name")) != 64:
            source = mount.get("Name")
        else:
            continue
        rw = mount.get("RW", True)
        result.append({"type": kind, "source": source, "destination": destination,
                       "mode": "" if rw else "ro", "rw": rw})
        seen.add(destination)
    return result


def bind_string(mount):
    text = "%s:%s" % (mount["source"], mount["destination"])
    return text + (":" + mount["mode"] if mount.get("mode") else "")


def oms_mounts(binds):
    """{config, logs, store, run, ssl_certificate, ssl_key}: host path, or None where absent."""
    by_destination = dict((m["destination"].rstrip("/") or "/", m["source"]) for m in binds)
    return dict((key, by_destination.get(path)) for key, path in CONTAINER_PATHS.items())


RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def restart_policy_string(host_config):
    """A container's restart policy as `docker run --restart` writes it: no, always,
    unless-stopped, on-failure or on-failure:N."""
    policy = (host_config or {}).get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name == "on-failure" and policy.get("MaximumRetryCount"):
        return "on-failure:%d" % policy["MaximumRetryCount"]
    return name


def parse_restart_policy(text):
    """{"Name", "MaximumRetryCount"} for the engine from `--restart` syntax; None when invalid."""
    name, _sep, count = (text or "no").partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        return None
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _time(value):
    """Docker's nanosecond RFC 3339 time in the journal's format (UTC ISO 8601, milliseconds, Z);
    None for the zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
    if not match:
        return value
    if match.group(3) in (None, "Z", "+00:00"):
        return "%s.%sZ" % (match.group(1), ((match.group(2) or "") + "000")[:3])
    return value  # the engine always answers in UTC; keep anything else as it came


def describe(inspect, image_inspect=None):
    """The `container` return value of oms_container_upgrade, from inspect data."""
    config = inspect.get("Config") or {}
    host = inspect.get("HostConfig") or {}
    state = inspect.get("State") or {}
    env = env_to_dict(config.get("Env"))
    binds = bind_mounts(inspect)
    image_ref = config.get("Image")
    version, version_source = image_version(image_ref, image_inspect)
    labels = config.get("Labels") or {}
    return {
        "exists": True,
        "name": (inspect.get("Name") or "").lstrip("/"),
        "id": inspect.get("Id"),
        "status": state.get("Status"),
        "running": bool(state.get("Running")),
        "exit_code": state.get("ExitCode"),
        "image": image_ref,
        "image_id": inspect.get("Image"),
        "version": version,
        "version_source": version_source,
        "mounts": oms_mounts(binds),
        "binds": [bind_string(m) for m in binds],
        "env": mask_env(env),
        "network_mode": host.get("NetworkMode"),
        "privileged": bool(host.get("Privileged")),
        "cap_add": list(host.get("CapAdd") or []),
        "pids_limit": normalize_pids_limit(host.get("PidsLimit")),
        "ulimits": normalize_ulimits(host.get("Ulimits")),
        "oms_host_ip": env.get("OMS_HOST_IP"),
        "is_upgrade": (env.get("IS_UPGRADE") or "").lower() == "true",
        "upgraded_from": labels.get(UPGRADED_FROM_LABEL),
        "labels": labels,
        "tty": bool(config.get("Tty")),
        "stdin_open": bool(config.get("OpenStdin")),
        "restart_policy": restart_policy_string(host),
        "started_at": _time(state.get("StartedAt")),
        "finished_at": _time(state.get("FinishedAt")),
    }


def absent(name):
    return {"exists": False, "name": name}


def deviations(container):
    """Where a described container differs from the docs' run flags, one sentence each."""
    found = []
    if container.get("network_mode") != DOCS_NETWORK_MODE:
        found.append("network mode is %r, the docs run OMS with --net host"
                     % container.get("network_mode"))
    if not container.get("privileged"):
        found.append("not privileged, the docs run OMS with --privileged=true")
    if container.get("pids_limit") != UNLIMITED_PIDS:
        found.append("pids limit is %s, the docs run OMS with --pids-limit -1"
                     % container.get("pids_limit"))
    nproc = [u for u in container.get("ulimits") or [] if u.get("name") == "nproc"]
    if not nproc:
        found.append("no nproc ulimit, the docs run OMS with --ulimit nproc=65535:65535")
    elif (nproc[0].get("soft"), nproc[0].get("hard")) != (DOCS_NPROC, DOCS_NPROC):
        found.append("ulimit nproc is %s:%s, the docs run OMS with --ulimit nproc=65535:65535"
                     % (nproc[0].get("soft"), nproc[0].get("hard")))
    if not container.get("oms_host_ip"):
        found.append("no OMS_HOST_IP in the environment, the docs set -e OMS_HOST_IP")
    missing = [key for key in DATA_MOUNTS if not (container.get("mounts") or {}).get(key)]
    if missing:
        found.append("no bind mount for %s, the docs mount all of config, logs, store and run"
                     % ", ".join(CONTAINER_PATHS[key] for key in missing))
    return found
