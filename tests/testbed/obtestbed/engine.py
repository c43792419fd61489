"""Make sure a Docker engine answers: install docker.io if missing, start dockerd if it is not
running, wait for its socket, and say clearly what went wrong."""

import os
import shutil
import socket
import subprocess
import time

from obtestbed.errors import TestbedError

SOCKET = "/var/run/docker.sock"
DOCKERD_LOG = "/var/log/obtools-testbed-dockerd.log"


def client(timeout=120):
    import docker
    return docker.DockerClient(base_url=os.environ.get("DOCKER_HOST") or "unix://" + SOCKET,
                               timeout=timeout)


def answers():
    """True when the engine answers GET /_ping (plain socket: works before the venv exists)."""
    host = os.environ.get("DOCKER_HOST")
    if host and not host.startswith("unix://"):
        try:
            c = client(timeout=10)
            try:
                return bool(c.ping())
            finally:
                c.close()
        except Exception:  # pylint: disable=broad-except
            return False
    path = host[len("unix://"):] if host else SOCKET
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b"\r\n")[0].endswith(b"200 OK")
    except OSError:
        return False


def apt_install(*packages):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + list(packages),
                          env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        proc = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"]
                              + list(packages), env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise TestbedError("apt-get install %s failed:\n%s\nInstall the package(s) by hand and "
                           "run again" % (" ".join(packages), proc.stdout[-2000:]))


def ensure(timeout=60, say=print):
    """Return once the engine answers; raise TestbedError otherwise."""
    if answers():
        return
    if os.environ.get("DOCKER_HOST"):
        raise TestbedError("the Docker engine at DOCKER_HOST=%s does not answer. Start it, or "
                           "unset DOCKER_HOST to use the local one" % os.environ["DOCKER_HOST"])
    if os.geteuid() != 0:
        raise TestbedError("the Docker engine does not answer and starting it needs root. Run "
                           "the test bed as root")
    if not shutil.which("dockerd"):
        say("dockerd not found: installing Debian's docker.io")
        apt_install("docker.io")
    say("starting dockerd in the background (log: %s)" % DOCKERD_LOG)
    # Detached (setsid --fork): dockerd must not be a child of this process. A test that stops it
    # (the daemon restart test) would otherwise leave a zombie that never leaves /proc until a
    # long-lived pytest exits, and wait for it forever.
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.run(["setsid", "--fork", "dockerd"], stdin=subprocess.DEVNULL, stdout=log,
                       stderr=log, close_fds=True, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(SOCKET) and answers():
            say("dockerd answers on %s" % SOCKET)
            return
        time.sleep(1)
    tail = ""
    try:
        with open(DOCKERD_LOG, "rb") as f:
            tail = f.read()[-3000:].decode("utf-8", "replace")
    except OSError:
        pass
    raise TestbedError("dockerd did not answer on %s within %d s. Its log (%s) ends with:\n%s"
                       % (SOCKET, timeout, DOCKERD_LOG, tail))
