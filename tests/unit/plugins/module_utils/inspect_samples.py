"""Recorded `docker inspect` data (trimmed to the keys we read) shared by the container tests.

OLD_411 is an OMS 4.1.1 container as the docs run it, recorded from a Docker 20.10 engine (which
reports `--pids-limit -1` as PidsLimit null), without --privileged as on our test machines.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

OLD_411 = {
    "Id": "9e41da4670d3",
    "Name": "/oms_411",
    "Image": "sha256:576d7010b780b",
    "State": {"Status": "exited", "Running": False, "ExitCode": 137,
              "StartedAt": "2024-05-06T08:00:02.651187465Z",
              "FinishedAt": "2024-05-06T08:15:30.963333399Z"},
    "Config": {
        "Env": ["OMS_HOST_IP=10.0.0.5", "OMS_META_PASSWORD=s3cret",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=en_US.UTF-8"],
        "Cmd": ["/usr/bin/supervisord"],
        "Entrypoint": None,
        "Image": "reg.example.com/oms:feature_4.1.1-ce",
        "Labels": {},
        "Tty": True,
        "OpenStdin": True,
    },
    "HostConfig": {
        "Binds": ["/data/config.yaml:/home/admin/conf/config.yaml",
                  "/data/oms/oms_logs:/home/admin/logs",
                  "/data/oms/oms_store:/home/ds/store",
                  "/data/oms/oms_run:/home/ds/run"],
        "NetworkMode": "host",
        "Privileged": False,
        "CapAdd": None,
        "PidsLimit": None,
        "Ulimits": [{"Name": "nproc", "Hard": 65535, "Soft": 65535}],
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    },
    "Mounts": [
        {"Type": "bind", "Source": "/data/oms/oms_store", "Destination": "/home/ds/store",
         "Mode": "", "RW": True, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/data/oms/oms_run", "Destination": "/home/ds/run",
         "Mode": "", "RW": True, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/data/config.yaml",
         "Destination": "/home/admin/conf/config.yaml", "Mode": "", "RW": True,
         "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/data/oms/oms_logs", "Destination": "/home/admin/logs",
         "Mode": "", "RW": True, "Propagation": "rprivate"},
        {"Type": "volume", "Name": "a" * 64, "Source": "/var/lib/docker/volumes/x/_data",
         "Destination": "/var/lib/anon", "Driver": "local", "Mode": "", "RW": True},
    ],
}

OLD_IMAGE_411 = {
    "Id": "sha256:576d7010b780b",
    "RepoTags": ["reg.example.com/oms:feature_4.1.1-ce"],
    "Config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "LANG=en_US.UTF-8"],
               "Cmd": ["/usr/bin/supervisord"], "Entrypoint": None, "Labels": None},
}


def old_411(**changes):
    """A deep copy of OLD_411 with HostConfig/Config/State keys replaced: old_411(HostConfig={...})."""
    data = copy.deepcopy(OLD_411)
    for section, values in changes.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    return data
