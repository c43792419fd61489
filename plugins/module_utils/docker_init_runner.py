# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Steps 5-6: run docker_init.sh in the new container, once its supervisord answers, again while
it finds the container still starting, and never twice at once.

Used by oms_container_upgrade (state=initialized), the window's init step and the rehearsal. How
a run is judged (succeeded, not ready, timed out) is docker_init.py's; this file runs it and keeps
its markers in the container: INIT_RUNNING while it runs, INIT_MARKER once it succeeded.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import docker_init
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.container_stop_start import require, utc_now

INIT_SCRIPT = "/root/docker_init.sh"
INIT_MARKER = "/root/.obtools_docker_init_done"
# Written (in the same exec) before docker_init.sh starts, removed with its success: a run that
# finds it, and the script still running, waits for that run instead of starting a second one.
INIT_RUNNING = "/root/.obtools_docker_init_running"
# One exec reads both markers and whether docker_init.sh runs ([d] keeps grep from finding itself).
_INIT_PROBE = ('cat "$1" 2>/dev/null; echo "@@obtools@@"; cat "$2" 2>/dev/null; echo "@@obtools@@"; '
               'grep -l "[d]ocker_init[.]sh" /proc/[0-9]*/cmdline 2>/dev/null | head -n 1; true')
# Seconds between two looks at a docker_init.sh that another run started.
INIT_WAIT_EVERY = 2
# state=initialized asks `supervisorctl status` this often while the container boots (each
# answer is an exec of a few tens of ms), and gives one ask this long to answer.
READY_PROBE_EVERY = 0.5
READY_PROBE_TIMEOUT = 10


def not_running(client, name, inspect):
    """The OmsError for a container that is absent or not running (with how it ended)."""
    if inspect is None:
        require(client, name)
    state = inspect.get("State") or {}
    if state.get("FinishedAt") and not state.get("FinishedAt", "").startswith("0001-"):
        return OmsError("The container %s is not running: it exited (exit code %s) at %s. "
                        "Last log lines:\n%s"
                        % (name, state.get("ExitCode"), state.get("FinishedAt"),
                           "\n".join(client.logs_tail(name))),
                        "Read docker logs %s, fix the cause, then start it "
                        "(state=upgraded or state=started) and run docker_init.sh again"
                        % name, exit_code=state.get("ExitCode"))
    return OmsError("The container %s is not running" % name,
                    "Start it (state=upgraded or state=started) before running "
                    "docker_init.sh")


def _require_running(client, name):
    inspect = client.inspect_container(name)
    if inspect is None or not inspect["State"].get("Running"):
        raise not_running(client, name, inspect)


def _exec_while_running(client, name, argv, timeout):
    """exec_command, but a container that died under it fails with how it ended. A command
    cut off by the container's stop returns a status of its own (Docker's 126 "cannot exec in a
    stopped state", 137), which would otherwise read as "no supervisorctl" or as the script's
    own failure."""
    try:
        run = client.exec_command(name, argv, timeout)
    except OmsError:
        _require_running(client, name)
        raise
    if run.get("rc") != 0:
        _require_running(client, name)
    return run


def wait_until_ready(client, name, deadline, retry_interval, warn):
    """Ask `supervisorctl status` every READY_PROBE_EVERY s until supervisord answers, so that
    docker_init.sh's first run meets a booted container instead of failing and idling a
    retry interval. Returns ready_probe, ready_at and ready_wait_seconds for the result."""
    began = time.time()
    while True:
        asked = time.time()
        probe = _exec_while_running(client, name, list(docker_init.PROBE_COMMAND), READY_PROBE_TIMEOUT)
        verdict = docker_init.classify_probe(probe)
        waited = round(time.time() - began, 1)
        if verdict == docker_init.READY:
            return dict(ready_probe="supervisorctl", ready_wait_seconds=waited,
                        ready_at=journal_file.iso(journal_file.utc_now()))
        if verdict == docker_init.ABSENT:
            warn("%s has no supervisorctl (rc=%s): docker_init.sh is run at once "
                 "and again every %s s while it finds the container starting"
                 % (name, probe["rc"], retry_interval))
            return dict(ready_probe="none", ready_wait_seconds=waited, ready_at=None)
        if time.time() + READY_PROBE_EVERY > deadline:
            # docker_init.sh has the last word: it runs once and fails if it finds the same
            return dict(ready_probe="supervisorctl", ready_wait_seconds=waited, ready_at=None)
        _require_running(client, name)
        time.sleep(max(0.0, asked + READY_PROBE_EVERY - time.time()))


def _run_init(client, name, timeout, ready_timeout, retry_interval, running_marker, warn):
    """Wait for the container's boot, then run docker_init.sh, again while it finds the
    container still starting. Returns (the last exec result, its outcome, attempts, seconds
    from the first attempt, the wait for the boot). Each run writes the in-progress marker
    INIT_RUNNING in the container before the script starts, so that a resumed run waits for
    it instead of starting a second one."""
    deadline = time.time() + max(0, ready_timeout)
    ready = wait_until_ready(client, name, deadline, retry_interval, warn)
    started = time.time()
    interval = max(1, retry_interval)
    attempts = 0
    while True:
        attempts += 1
        started_marker = json.dumps({"started_at": utc_now(), "previous": running_marker},
                                    sort_keys=True)
        # a container stopped while the last readiness probe ran can read as ready (the probe's
        # exec ends with no not-ready line): its end is then told here, as at any other moment
        run = _exec_while_running(
            client, name, ["sh", "-c", 'printf "%s\\n" "$1" > "$2" && exec bash "$3"', "sh",
                           started_marker, INIT_RUNNING, INIT_SCRIPT], timeout)
        outcome = docker_init.classify(run)
        if outcome != docker_init.NOT_READY or time.time() + interval > deadline:
            return run, outcome, attempts, round(time.time() - started, 1), ready
        time.sleep(interval)
        _require_running(client, name)


def init_state(client, name):
    """(done marker text or None, running marker text or None, docker_init.sh runs)."""
    probe = client.exec_command(name, ["sh", "-c", _INIT_PROBE, "sh", INIT_MARKER, INIT_RUNNING],
                                timeout=max(client.timeout, 10), tail_lines=1000)
    parts = ("\n".join(probe["stdout_tail"]) + "\n").split("@@obtools@@")
    if probe["rc"] != 0 or len(parts) != 3:
        raise OmsError("Cannot read the docker_init.sh markers in %s (rc=%s)"
                       % (name, probe["rc"]),
                       "Check that the container runs (docker exec %s true)" % name)
    done, running_marker, process = (x.strip() for x in parts)
    return done or None, running_marker or None, bool(process)


def wait_for_running_init(client, name, timeout, running_marker, warn):
    warn("docker_init.sh already runs in %s (started by an earlier run: %s): "
         "waiting for it instead of starting it again"
         % (name, running_marker or "no marker"))
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(INIT_WAIT_EVERY)
        marker, running_marker, running = init_state(client, name)
        if not running:
            return marker, running_marker
    raise OmsError("docker_init.sh started by an earlier run still runs in %s after %d s"
                   % (name, timeout),
                   "Do not start it twice: wait for it (docker exec %s ps -ef), read "
                   "/home/admin/logs/docker_init*.log, then run the upgrade again"
                   % name)


def failure(outcome, name, run, duration, attempts, ready, init_timeout, init_ready_timeout):
    """The OmsError of a docker_init.sh run whose outcome is not SUCCEEDED (None when it is)."""
    tail = "\n".join(run["stdout_tail"][-20:])
    details = dict(rc=run["rc"], stdout_tail=run["stdout_tail"], duration=duration,
                   attempts=attempts, **ready)
    again = "Read /home/admin/logs/docker_init*.log in the container, fix the cause and run " \
            "this task again (the script may be re-run)"
    if outcome == docker_init.TIMED_OUT:
        return OmsError("%s did not finish within %d s in %s (rc=%s). Last output:\n%s"
                        % (INIT_SCRIPT, init_timeout, name, run["rc"], tail),
                        "Read /home/admin/logs/docker_init*.log in the container, then run again with a "
                        "larger oms_upgrade_init_timeout (init_timeout; the script may be re-run)",
                        **details)
    if outcome == docker_init.NOT_READY:
        probed = "" if ready["ready_probe"] == "none" else \
            ", after supervisorctl status did not answer for %.0f s" % ready["ready_wait_seconds"]
        return OmsError("%s found %s still starting (its supervisord does not answer) on all "
                        "%d attempts over %.0f s%s (oms_upgrade_init_ready_timeout, init_ready_timeout: %s s). "
                        "Last output:\n%s"
                        % (INIT_SCRIPT, name, attempts, duration, probed, init_ready_timeout, tail),
                        "Look at the container (docker logs %s; supervisorctl status inside "
                        "it); on a slow host raise init_ready_timeout and run this task again"
                        % name, **details)
    if outcome == docker_init.NO_SUCCESS_LINE:
        return OmsError("%s exited 0 in %s but did not print its success line %s, so a step "
                        "did not finish. Last output:\n%s"
                        % (INIT_SCRIPT, name, docker_init.SUCCESS_LINE, tail),
                        again, **details)
    if outcome != docker_init.SUCCEEDED:
        return OmsError("%s failed in %s with exit code %s. Last output:\n%s"
                        % (INIT_SCRIPT, name, run["rc"], tail), again, **details)
    return None


def initialized(client, name, init_timeout, init_ready_timeout, init_retry_interval, warn,
                force=False, check=False):
    """docker_init.sh run to success in the running container `name`, unless its marker says it
    already succeeded (force: run it again all the same)."""
    inspect = client.inspect_container(name)
    # No `rc` unless the script ran (or ran before): Ansible fails any result whose rc is not 0.
    result = dict(changed=False, stdout_tail=[], duration=0.0, marker=None)
    if inspect is None or not inspect["State"].get("Running"):
        if check:
            warn("%s is not running yet; docker_init.sh would run once it is" % name)
            result["changed"] = True
            return result
        raise not_running(client, name, inspect)
    marker, running_marker, running = init_state(client, name)
    if running and not marker and not check:
        # A run that was cut off (the controller killed) left docker_init.sh running: never
        # start a second one on the same databases; wait for it, then judge by its marker.
        marker, running_marker = wait_for_running_init(client, name, init_timeout, running_marker, warn)
    if marker is not None:
        try:
            result["marker"] = json.loads(marker)
        except ValueError:
            result["marker"] = {"raw": marker}
        if not force:
            result["rc"] = result["marker"].get("rc", 0)
            return result
    result["changed"] = True
    if check:
        return result
    if marker is not None:  # forced: a failure now must not leave an old success behind
        client.remove_file(name, INIT_MARKER)
    run, outcome, attempts, duration, ready = _run_init(
        client, name, init_timeout, init_ready_timeout, init_retry_interval, running_marker, warn)
    result.update(rc=run["rc"], stdout_tail=run["stdout_tail"], duration=duration,
                  attempts=attempts, **ready)
    error = failure(outcome, name, run, duration, attempts, ready, init_timeout, init_ready_timeout)
    if error is not None:
        raise error
    marker = {"finished_at": utc_now(), "duration": duration, "rc": 0, "attempts": attempts,
              "image": (inspect.get("Config") or {}).get("Image")}
    done = client.exec_command(
        name, ["sh", "-c", 'printf "%s\\n" "$1" > "$2" && rm -f "$3"', "sh",
               json.dumps(marker, sort_keys=True), INIT_MARKER, INIT_RUNNING],
        timeout=max(client.timeout, 10))
    if done["rc"] != 0:
        raise OmsError("docker_init.sh succeeded but its marker %s could not be written in %s "
                       "(rc=%s)" % (INIT_MARKER, name, done["rc"]),
                       "Check the container's filesystem, then run this task again (the "
                       "script may be re-run)")
    result["marker"] = marker
    return result
