# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The new OMS container's settings, derived from the old container's inspect data (pure).

The procedure's step 4 retypes `docker run`; we copy instead, so whatever the old container runs
with on this host (including flags the host refuses, like --privileged on our CI) carries over
unchanged, and the data mounts cannot drift. Only IS_UPGRADE=true, the SSL mounts, OMS_HOST_IP
(when given) and our label are added.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    UPGRADED_FROM_LABEL,
    bind_mounts,
    bind_string,
    deviations,
    env_to_dict,
    mask_env,
    normalize_pids_limit,
    normalize_ulimits,
)

# Environment the image or the engine sets (the engine adds a default PATH when the image has
# none); carried over it would pin the old image's values on the new one.
IMAGE_OWNED_ENV = ("PATH", "HOSTNAME", "HOME", "TERM")


def _norm(path):
    if path is None:
        return None
    return posixpath.normpath(path)


def mount_mismatches(actual, expected):
    """Sentences for each mount in `expected` ({config, logs, store, run}) that `actual` differs in."""
    unknown = sorted(set(expected or {}) - set(DATA_MOUNTS))
    if unknown:
        raise OmsError("Unknown key(s) in mounts: %s" % ", ".join(unknown),
                       "Use only config, logs, store and run (host paths)")
    found = []
    for key in DATA_MOUNTS:
        want = (expected or {}).get(key)
        if want is None:
            continue
        have = actual.get(key)
        if have is None:
            found.append("%s: expected %s mounted at %s, the old container has no such mount"
                         % (key, want, CONTAINER_PATHS[key]))
        elif _norm(have) != _norm(want):
            found.append("%s: expected %s, the old container mounts %s at %s"
                         % (key, want, have, CONTAINER_PATHS[key]))
    return found


def check_mounts(source_name, actual, expected):
    found = mount_mismatches(actual, expected)
    if found:
        raise OmsError("The mounts given do not match those of %s: %s"
                       % (source_name, "; ".join(found)),
                       "The new container must use the same host paths as the old one: fix oms_mounts "
                       "(the mounts option), or leave it out to take the old container's")


def check_data_mounts(source_name, actual):
    missing = [key for key in DATA_MOUNTS if not actual.get(key)]
    if missing:
        raise OmsError("The container %s has no bind mount for %s"
                       % (source_name, ", ".join(CONTAINER_PATHS[k] for k in missing)),
                       "OMS keeps its config, logs, store and run data in these mounts; recreate "
                       "the old container with them before upgrading")


def _carried_env(old_inspect, old_image_inspect):
    """The old container's environment minus what its image (or the engine) set by itself."""
    env = env_to_dict((old_inspect.get("Config") or {}).get("Env"))
    image_env = env_to_dict(((old_image_inspect or {}).get("Config") or {}).get("Env"))
    return dict((k, v) for k, v in env.items()
                if k not in IMAGE_OWNED_ENV and not (k in image_env and image_env[k] == v))


def _carried_labels(old_inspect, old_image_inspect, source_name):
    """Labels the user gave the old container (not its image's), plus ours."""
    labels = dict((old_inspect.get("Config") or {}).get("Labels") or {})
    image_labels = ((old_image_inspect or {}).get("Config") or {}).get("Labels") or {}
    carried = dict((k, v) for k, v in labels.items() if image_labels.get(k) != v)
    carried[UPGRADED_FROM_LABEL] = source_name
    return carried


def _overridden(old_inspect, old_image_inspect, key):
    """Config[key] (Cmd, Entrypoint) when the old container overrode its image's, else None."""
    value = (old_inspect.get("Config") or {}).get(key)
    if old_image_inspect is None:
        return None  # cannot tell: let the new image decide, as `docker run IMAGE` does
    if value and value != (old_image_inspect.get("Config") or {}).get(key):
        return list(value)
    return None


def build_run_spec(old_inspect, name, image, old_image_inspect=None, oms_host_ip=None,
                   ssl_certificate=None, ssl_key=None):
    """Settings for the new container: an engine-neutral dict that docker_client turns into a run.

    Keys: name, image, tty, stdin_open, environment (dict), binds (list of "src:dst[:mode]"),
    network_mode, privileged, cap_add, pids_limit (-1 = unlimited), ulimits [{name, soft, hard}],
    labels (the old container's own plus obtools.oms.upgraded_from), restart_policy ({Name, MaximumRetryCount} or None), command and entrypoint (lists,
    or None to use the new image's: the docs run the image without a command).
    """
    source_name = (old_inspect.get("Name") or "").lstrip("/")
    host = old_inspect.get("HostConfig") or {}
    if bool(ssl_certificate) != bool(ssl_key):
        raise OmsError("Only one of oms_ssl_certificate and oms_ssl_key (ssl_certificate, ssl_key) is set",
                       "Give both (HTTPS) or neither (keep the old container's setting)")

    binds = []
    replaced = set()
    if ssl_certificate:
        replaced = set([CONTAINER_PATHS["ssl_certificate"], CONTAINER_PATHS["ssl_key"]])
    for mount in bind_mounts(old_inspect):
        if _norm(mount["destination"]) in replaced:
            continue
        binds.append(bind_string(mount))
    if ssl_certificate:
        binds.append("%s:%s:ro" % (ssl_certificate, CONTAINER_PATHS["ssl_certificate"]))
        binds.append("%s:%s:ro" % (ssl_key, CONTAINER_PATHS["ssl_key"]))

    environment = _carried_env(old_inspect, old_image_inspect)
    if oms_host_ip:
        environment["OMS_HOST_IP"] = oms_host_ip
    if not environment.get("OMS_HOST_IP"):
        raise OmsError("The container %s has no OMS_HOST_IP and none was given" % source_name,
                       "Set oms_host_ip to the IP address of this host")
    environment["IS_UPGRADE"] = "true"

    restart = host.get("RestartPolicy") or {}
    restart_policy = None
    if restart.get("Name") and restart.get("Name") != "no":
        restart_policy = {"Name": restart["Name"],
                          "MaximumRetryCount": restart.get("MaximumRetryCount") or 0}

    return {
        "name": name,
        "image": image,
        # The docs run `docker run -dit`: OMS's entrypoint expects a terminal and open stdin.
        "tty": True,
        "stdin_open": True,
        "environment": environment,
        "binds": binds,
        "network_mode": host.get("NetworkMode") or "default",
        "privileged": bool(host.get("Privileged")),
        "cap_add": list(host.get("CapAdd") or []),
        "pids_limit": normalize_pids_limit(host.get("PidsLimit")),
        "ulimits": normalize_ulimits(host.get("Ulimits")),
        "labels": _carried_labels(old_inspect, old_image_inspect, source_name),
        "restart_policy": restart_policy,
        "command": _overridden(old_inspect, old_image_inspect, "Cmd"),
        "entrypoint": _overridden(old_inspect, old_image_inspect, "Entrypoint"),
    }


def planned(spec):
    """The spec as shown in diff and check mode: secrets masked."""
    shown = dict(spec)
    shown["environment"] = mask_env(spec["environment"])
    return shown


def spec_deviations(spec):
    """Deviations of a run spec from the docs' flags (uses the same sentences as for a container)."""
    mounts = dict((key, None) for key in CONTAINER_PATHS)
    for bind in spec["binds"]:
        parts = bind.split(":")
        for key, path in CONTAINER_PATHS.items():
            if len(parts) > 1 and _norm(parts[1]) == path:
                mounts[key] = parts[0]
    return deviations({
        "network_mode": spec["network_mode"],
        "privileged": spec["privileged"],
        "pids_limit": spec["pids_limit"],
        "ulimits": spec["ulimits"],
        "oms_host_ip": spec["environment"].get("OMS_HOST_IP"),
        "mounts": mounts,
    })
