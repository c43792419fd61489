# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one client every module uses to talk to the Docker engine, over the docker SDK.

It connects once, checks the SDK version, and turns every SDK or engine error into an OmsError
that says which operation failed and what to do. Callers get plain inspect dicts back; deciding
what to change is theirs (see container_facts and container_spec).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import threading
import time
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import host_libraries

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    from docker.types import Ulimit
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):  # keeps the except clauses below valid without the SDK
        pass

    APIError = NotFound = DockerException

try:
    from requests.exceptions import RequestException
except ImportError:
    class RequestException(Exception):
        pass

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 60
TAIL_LINES = 50
# Bytes of exec output kept in memory to cut the tail from; docker_init.sh can be chatty.
TAIL_BYTES = 256 * 1024

# `docker exec` has no timeout of its own: run the command under coreutils `timeout` when the
# image has it ($1 is the limit in seconds, the rest the command), so it dies inside the container.
_TIMEOUT_WRAPPER = ('if command -v timeout >/dev/null 2>&1; then exec timeout -k 30 "$@"; '
                    'else shift; exec "$@"; fi')
TIMEOUT_EXIT_CODES = (124, 137)


def docker_argument_spec():
    """Options of the docker doc fragment, for AnsibleModule(argument_spec=...)."""
    return dict(
        docker_host=dict(type="str", fallback=(env_fallback, ["DOCKER_HOST"])),
        docker_timeout=dict(type="int", default=DEFAULT_TIMEOUT),
    )


def fail_without_sdk(module):
    """fail_json when the docker SDK is absent or older than 7.1, naming every library the
    collection needs that this host's Python lacks (host_libraries)."""
    host_libraries.fail_if_missing(module, ["docker"])
    if not HAS_DOCKER:  # cannot happen after the check above; keeps the traceback when it does
        module.fail_json(msg=missing_required_lib("docker>=7.1"), exception=DOCKER_IMPORT_ERROR)


def _explain(exc):
    if isinstance(exc, APIError) and getattr(exc, "explanation", None):
        return exc.explanation if isinstance(exc.explanation, str) else str(exc.explanation)
    return str(exc)


def docker_host_source(docker_host):
    """Where the engine's address came from, in the user's words."""
    env = os.environ.get("DOCKER_HOST")
    if docker_host and docker_host != env:
        return "the docker_host option (the inventory's oms_docker_host)"
    if env:
        return ("the DOCKER_HOST environment variable on the OMS host (or the docker_host option, "
                "the inventory's oms_docker_host)")
    return "the default address (neither the inventory's oms_docker_host nor DOCKER_HOST is set)"


class DockerClient(object):
    """A connection to one Docker engine. Every method raises OmsError on failure."""

    def __init__(self, docker_host=None, timeout=DEFAULT_TIMEOUT):
        self.docker_host = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
        self.timeout = timeout
        try:
            self.api = docker.APIClient(base_url=self.docker_host, version="auto",
                                        timeout=timeout)
        except (DockerException, RequestException, OSError) as exc:
            raise OmsError("Cannot reach the Docker engine at %s, given by %s: %s"
                           % (self.docker_host, docker_host_source(docker_host), _explain(exc)),
                           "Check that dockerd runs on the OMS host and that this user may use "
                           "its socket; if the engine listens elsewhere, set oms_docker_host in "
                           "the inventory (the modules' docker_host) to its address")

    @property
    def is_local(self):
        """True when the engine is on this host, so host paths can be checked from here."""
        return self.docker_host.startswith("unix://")

    def _fail(self, what, exc, hint):
        raise OmsError("%s failed: %s" % (what, _explain(exc)), hint)

    # Reading -----------------------------------------------------------------------------------
    def inspect_container(self, name):
        """The container's inspect data, or None when no container has that name."""
        try:
            return self.api.inspect_container(name)
        except NotFound:
            return None
        except (DockerException, RequestException) as exc:
            self._fail("Inspecting container %s" % name, exc, "Check the Docker engine's state")

    def root_dir_space(self):
        """{root_dir, free_bytes}: where the engine keeps its images (docker info's DockerRootDir)
        and the bytes free there, as this host sees the directory (free_bytes None when the engine
        is not local or the directory is not visible from here)."""
        try:
            root_dir = self.api.info().get("DockerRootDir")
        except (DockerException, RequestException) as exc:
            self._fail("Reading the Docker engine's information", exc, "Check the Docker engine's state")
        free = None
        if root_dir and self.is_local and os.path.isdir(root_dir):
            st = os.statvfs(root_dir)
            free = st.f_bavail * st.f_frsize
        return dict(root_dir=root_dir, free_bytes=free)

    def inspect_image(self, ref):
        """The image's inspect data, or None when the engine has no such image."""
        try:
            return self.api.inspect_image(ref)
        except NotFound:
            return None
        except (DockerException, RequestException) as exc:
            self._fail("Inspecting image %s" % ref, exc, "Check the Docker engine's state")

    # Changing ----------------------------------------------------------------------------------
    def stop_container(self, name, timeout):
        try:
            self.api.stop(name, timeout=timeout)
        except (DockerException, RequestException) as exc:
            self._fail("Stopping container %s" % name, exc,
                       "Look at `docker logs %s` and the engine's log, then try again" % name)
        return self.inspect_container(name)

    def update_restart_policy(self, name, policy):
        """docker update --restart: `policy` is {"Name", "MaximumRetryCount"}."""
        try:
            self.api.update_container(name, restart_policy=policy)
        except (DockerException, RequestException) as exc:
            self._fail("Setting the restart policy of %s" % name, exc,
                       "Check the Docker engine's state (docker update --restart)")
        return self.inspect_container(name)

    def start_container(self, name):
        try:
            self.api.start(name)
        except (DockerException, RequestException) as exc:
            self._fail("Starting container %s" % name, exc,
                       "Look at `docker logs %s`; a mount source that no longer exists or a port "
                       "in use are the usual causes" % name)
        return self.inspect_container(name)

    def load_image(self, path, timeout):
        """docker load of the tarball at `path`; returns the engine's "Loaded image" lines."""
        previous = self.api.timeout
        self.api.timeout = max(timeout, self.timeout)
        messages = []
        try:
            with open(path, "rb") as data:
                for event in self.api.load_image(data, quiet=True):
                    if isinstance(event, dict) and event.get("error"):
                        raise OmsError("Loading the image archive %s failed: %s"
                                       % (path, event["error"]),
                                       "Check that the tarball is complete and that the engine's "
                                       "data directory has room for the image")
                    stream = event.get("stream") if isinstance(event, dict) else None
                    if stream and stream.strip():
                        messages.append(stream.strip())
        except (DockerException, RequestException, IOError, OSError) as exc:
            self._fail("Loading the image archive %s" % path, exc,
                       "Check that the tarball is complete and that the engine's data directory "
                       "has room for the image")
        finally:
            self.api.timeout = previous
        return messages

    def create_container(self, spec):
        """Create (not start) a container from a container_spec.build_run_spec() dict."""
        try:
            host_config = self.api.create_host_config(
                binds=spec["binds"],
                network_mode=spec["network_mode"],
                privileged=spec["privileged"],
                cap_add=spec["cap_add"] or None,
                pids_limit=spec["pids_limit"],
                ulimits=[Ulimit(name=u["name"], soft=u["soft"], hard=u["hard"])
                         for u in spec["ulimits"]] or None,
                restart_policy=spec.get("restart_policy"),
                # bounds of a rehearsal's containers (oms_rehearsal); None: unbounded
                mem_limit=spec.get("mem_limit"),
                nano_cpus=spec.get("nano_cpus"),
            )
            created = self.api.create_container(
                spec["image"],
                name=spec["name"],
                command=spec.get("command"),
                entrypoint=spec.get("entrypoint"),
                detach=True,
                tty=spec["tty"],
                stdin_open=spec["stdin_open"],
                environment=["%s=%s" % (k, v) if v is not None else k
                             for k, v in spec["environment"].items()],
                labels=spec["labels"],
                host_config=host_config,
            )
        except (DockerException, RequestException) as exc:
            self._fail("Creating container %s" % spec["name"], exc,
                       "Check the image and the mount paths; nothing was started")
        return created["Id"]

    # Running commands inside -------------------------------------------------------------------
    def exec_command(self, name, argv, timeout, tail_lines=TAIL_LINES):
        """Run argv in the running container `name`, killed after `timeout` seconds.

        Returns {rc, stdout_tail (list of the last lines, stdout and stderr merged), duration,
        timed_out}. rc is None when the command outlived our wait and may still be running.
        """
        started = time.time()
        try:
            exec_id = self.api.exec_create(
                name, ["sh", "-c", _TIMEOUT_WRAPPER, "sh", str(int(timeout))] + list(argv),
                stdout=True, stderr=True, stdin=False, tty=False)["Id"]
            stream = self.api.exec_start(exec_id, stream=True, demux=False)
        except (DockerException, RequestException) as exc:
            self._fail("Running %s in container %s" % (" ".join(argv), name), exc,
                       "Check that the container runs (state=started)")
        buffer = collections.deque()
        held = [0]
        errors = []

        def pump():
            try:
                for chunk in stream:
                    buffer.append(chunk)
                    held[0] += len(chunk)
                    while held[0] > TAIL_BYTES and len(buffer) > 1:
                        held[0] -= len(buffer.popleft())
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(exc)

        reader = threading.Thread(target=pump)
        reader.daemon = True
        reader.start()
        # The wrapper kills at `timeout` (+30 s after TERM); wait a little longer than that.
        reader.join(timeout + 60)
        rc = None
        if not reader.is_alive():
            try:
                for dummy in range(20):
                    info = self.api.exec_inspect(exec_id)
                    if not info.get("Running"):
                        rc = info.get("ExitCode")
                        break
                    time.sleep(0.5)
            except (DockerException, RequestException) as exc:
                self._fail("Reading the exit code of %s in %s" % (" ".join(argv), name), exc,
                           "Check the container's state")
        else:
            try:
                stream.close()
            except Exception:  # pylint: disable=broad-except
                pass
        text = b"".join(buffer).decode("utf-8", "replace")
        lines = text.splitlines()[-tail_lines:]
        duration = time.time() - started
        timed_out = rc is None or (rc in TIMEOUT_EXIT_CODES and duration >= timeout)
        return {"rc": rc, "stdout_tail": lines, "duration": round(duration, 1),
                "timed_out": timed_out}

    def remove_file(self, name, path):
        """Remove a file inside the running container (absent is fine)."""
        result = self.exec_command(name, ["rm", "-f", path], timeout=max(self.timeout, 10))
        if result["rc"] != 0:
            raise OmsError("Removing %s in container %s failed (rc=%s): %s"
                           % (path, name, result["rc"], " ".join(result["stdout_tail"])),
                           "Check that the container runs and its filesystem is writable")

    def logs_tail(self, name, lines=20):
        """The last lines of the container's log (stdout and stderr), for error messages."""
        try:
            raw = self.api.logs(name, stdout=True, stderr=True, tail=lines)
        except (DockerException, RequestException):
            return []
        return raw.decode("utf-8", "replace").splitlines()[-lines:]

    def wait_still_running(self, name, settle, every=0.2):
        """Inspect data after `settle` seconds; OmsError when the container exited by then.

        Looks every `every` seconds, so a container that dies is reported at once, and a
        `settle` of 0 checks once that it runs."""
        deadline = time.time() + settle
        inspect = self.inspect_container(name)
        while inspect is not None and inspect["State"].get("Running") and time.time() < deadline:
            time.sleep(max(0.0, min(every, deadline - time.time())))
            inspect = self.inspect_container(name)
        if inspect is None or not inspect["State"].get("Running"):
            state = (inspect or {}).get("State") or {}
            raise OmsError("%s exited right after it started (exit code %s). Last log lines:\n%s"
                           % (name, state.get("ExitCode"), "\n".join(self.logs_tail(name))),
                           "Read docker logs %s, fix the cause and run this task again" % name,
                           exit_code=state.get("ExitCode"))
        return inspect

    def remove_container(self, name):
        """docker rm -f (absent is fine). Returns True when a container was removed."""
        try:
            self.api.remove_container(name, force=True)
        except NotFound:
            return False
        except (DockerException, RequestException) as exc:
            self._fail("Removing container %s" % name, exc, "Check the Docker engine's state "
                       "and remove it by hand (docker rm -f %s)" % name)
        return True

    def containers_with_label(self, label, value):
        """Names of all containers (running or not) whose label `label` equals `value`."""
        try:
            found = self.api.containers(all=True, filters={"label": "%s=%s" % (label, value)})
        except (DockerException, RequestException) as exc:
            self._fail("Listing containers labelled %s=%s" % (label, value), exc,
                       "Check the Docker engine's state")
        return [(c.get("Names") or ["?"])[0].lstrip("/") for c in found]

    def running_containers_with_label(self, label, value):
        """Names of running containers whose label `label` equals `value`."""
        try:
            found = self.api.containers(filters={"label": "%s=%s" % (label, value),
                                                 "status": "running"})
        except (DockerException, RequestException) as exc:
            self._fail("Listing containers labelled %s=%s" % (label, value), exc,
                       "Check the Docker engine's state")
        return [(c.get("Names") or ["?"])[0].lstrip("/") for c in found]
