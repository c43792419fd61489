"""The benchmark's own test-bed instance (default `bench`): describe, up, stop/start via docker."""

import json
import os
import subprocess
import time
import urllib.request

import docker

from .db import BenchFailure

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(REPO, "tests", "testbed", "testbed")
FORBIDDEN = ("a", "b", "c", "d", "m")  # the other helpers' instances (and r*, t*)


def check_instance_name(name):
    if name in FORBIDDEN or name[:1] in ("r", "t"):
        raise BenchFailure("instance %r belongs to someone else; the benchmark uses its own "
                           "(default: bench)" % name)


NAMING = os.path.join(REPO, "tests", "testbed", "obtestbed", "naming.py")
METADB_ENV = "OMS_TESTBED_METADB"  # the test bed's choice of MetaDB engine at instance creation
ENGINE_INSTANCE_SUFFIX = {"mariadb": "", "oceanbase": "ob"}


def engines_offered():
    """The MetaDB engines this checkout's test bed can deploy: MariaDB always, OceanBase when the
    test bed knows OMS_TESTBED_METADB (read from its source, so nothing is started to find out)."""
    try:
        with open(NAMING) as f:
            text = f.read()
    except OSError:
        return ["mariadb"]
    return ["mariadb", "oceanbase"] if METADB_ENV in text and "oceanbase" in text else ["mariadb"]


def instance_for(base, engine):
    """The benchmark's instance for one engine: `base` for MariaDB, `base`+"ob" for OceanBase."""
    return base + ENGINE_INSTANCE_SUFFIX[engine]


_ENGINE = {"name": None}


def use_engine(engine):
    """Later `up`/`reset` deploy on this MetaDB engine (OMS_TESTBED_METADB for the CLI)."""
    _ENGINE["name"] = engine


def cli(*args):
    env = dict(os.environ)
    if _ENGINE["name"]:
        env[METADB_ENV] = _ENGINE["name"]
    proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False, env=env)
    if proc.returncode != 0:
        raise BenchFailure("testbed %s failed: %s" % (" ".join(args),
                                                      proc.stderr.decode(errors="replace")[-1500:]))
    return proc.stdout.decode()


def available():
    return os.path.exists(CLI)


def describe(name):
    return json.loads(cli("describe", name))


def up(name):
    cli("up", name)
    return describe(name)


def reset(name):
    cli("reset", name)
    return describe(name)


class Containers(object):
    """The instance's containers through the docker SDK."""

    def __init__(self, desc):
        self.desc = desc
        self.client = docker.from_env(timeout=120)

    def get(self, name):
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def status(self, name):
        c = self.get(name)
        return c.status if c else None

    def stop(self, name, timeout=60):
        c = self.get(name)
        if c is not None and c.status == "running":
            c.stop(timeout=timeout)

    def remove(self, name):
        c = self.get(name)
        if c is not None:
            c.remove(force=True)

    def start_old(self, timeout=120):
        """Start the 4.1.1 container and wait until its console says healthy."""
        c = self.get(self.desc["old_container"])
        if c is None:
            raise BenchFailure("container %s is gone" % self.desc["old_container"])
        if c.status != "running":
            c.start()
        deadline = time.monotonic() + timeout
        url = self.desc["console_url"].rstrip("/") + "/oms/health"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=3) as r:
                    if json.load(r).get("data", {}).get("healthy"):
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise BenchFailure("%s did not become healthy within %d s"
                           % (self.desc["old_container"], timeout))
