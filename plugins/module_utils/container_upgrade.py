# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OMS containers' lifecycle in the upgrade: stop, start, load the image, run the new container
like the old one, run docker_init.sh in it.

ContainerUpgrade is driven by oms_container_upgrade (one state per task) and by
oms_upgrade_window (steps 2.1, 4, 5-6 and the rollback's 9.2 and 9.5 in one process). It takes
`host`: anything with `params` (the module's options), `check_mode` and `warn(msg)`, as an
AnsibleModule has; and `step`, whose start(before) records the step as started (a no-op outside
a journal).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import docker_init
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    UPGRADED_FROM_LABEL,
    absent,
    describe,
    parse_restart_policy,
    restart_policy_string,
    image_version,
)
from ansible_collections.obtools.oms.plugins.module_utils.container_spec import (
    build_run_spec,
    check_data_mounts,
    check_mounts,
    planned,
    spec_deviations,
)
from ansible_collections.obtools.oms.plugins.module_utils.image_archive import (
    normalize_reference,
    read_archive,
    require_tag,
)

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
# Default seconds a started container must stay up before we call it started (settle_seconds):
# a container that cannot start at all exits within a second or two. The boot is not waited for
# here: state=initialized waits for supervisorctl to answer before docker_init.sh runs.
START_SETTLE = 1
# state=initialized asks `supervisorctl status` this often while the container boots (each
# answer is an exec of a few tens of ms), and gives one ask this long to answer.
READY_PROBE_EVERY = 0.5
READY_PROBE_TIMEOUT = 10


def utc_now():
    """Now, in the journal's format (UTC ISO 8601, milliseconds, Z)."""
    return journal_file.iso(journal_file.utc_now())


class NoJournal(object):
    """The step of a ContainerUpgrade that records nothing."""

    def start(self, before=None):
        pass


class ContainerUpgrade(object):
    def __init__(self, host, client, step=None):
        self.module = host
        self.client = client
        # the journal step; stopped() starts it itself, with the policy it read
        self.step = step or NoJournal()
        self.params = host.params
        self.check = host.check_mode
        self.name = host.params["name"]
        self.settle = max(0.0, float(host.params["settle_seconds"]))

    def _describe(self, inspect):
        image = self.client.inspect_image(inspect["Image"]) if inspect.get("Image") else None
        return describe(inspect, image)

    def _require(self, name, what="container"):
        inspect = self.client.inspect_container(name)
        if inspect is None:
            raise OmsError("No %s named %s exists" % (what, name),
                           "Check the name (docker ps -a lists the containers on this host)")
        return inspect

    # states ------------------------------------------------------------------------------------
    def _wanted_policy(self):
        text = self.params["restart_policy"]
        if text is None:
            return None
        policy = parse_restart_policy(text)
        if policy is None:
            raise OmsError("restart_policy %r is not a Docker restart policy" % text,
                           "Use no, always, unless-stopped, on-failure or on-failure:N")
        return policy

    def _set_policy(self, inspect, diff):
        """Set restart_policy (when given and different) before the container is stopped or
        started. Returns the inspect data after, and whether it changed."""
        wanted = self._wanted_policy()
        before = restart_policy_string(inspect.get("HostConfig"))
        if wanted is None or before == restart_policy_string({"RestartPolicy": wanted}):
            return inspect, False
        diff["before"]["restart_policy"] = before
        diff["after"]["restart_policy"] = restart_policy_string({"RestartPolicy": wanted})
        if self.check:
            return inspect, True
        return self.client.update_restart_policy(self.name, wanted), True

    def stopped(self):
        inspect = self._require(self.name)
        running = bool(inspect["State"].get("Running"))
        policy_before = restart_policy_string(inspect.get("HostConfig"))
        self.step.start({"old_restart_policy": policy_before})
        diff = dict(before={"running": running}, after={"running": False})
        # The policy first: a daemon restart between the stop and the update would bring back a
        # container with restart=always on the data the new one is about to use.
        inspect, policy_changed = self._set_policy(inspect, diff)
        if not running:
            container = self._describe(inspect)
            return dict(changed=policy_changed, container=container,
                        stopped_at=container["finished_at"], restart_policy_before=policy_before,
                        diff=diff)
        if self.check:
            return dict(changed=True, container=self._describe(inspect), stopped_at=None,
                        restart_policy_before=policy_before, diff=diff)
        after = self.client.stop_container(self.name, self.params["stop_timeout"])
        container = self._describe(after)
        return dict(changed=True, container=container, restart_policy_before=policy_before,
                    stopped_at=container["finished_at"] or utc_now(), diff=diff)

    def absent(self):
        """Remove a stopped container that an earlier attempt created (container_id: its id as that
        attempt recorded it); anything else of that name is left alone."""
        inspect = self.client.inspect_container(self.name)
        if inspect is None:
            return dict(changed=False, container=None, removed=False)
        container = self._describe(inspect)
        if inspect["State"].get("Running"):
            raise OmsError("%s runs: it is not removed" % self.name,
                           "Stop it first if it is a leftover you no longer need, or choose another name "
                           "(oms_new_container)")
        wanted = self.params.get("container_id")
        if wanted and inspect.get("Id") != wanted:
            raise OmsError("%s is not the container the earlier attempt created (%s, not %s)"
                           % (self.name, (inspect.get("Id") or "?")[:12], wanted[:12]),
                           "Remove it by hand if it is a leftover (docker rm %s), or choose another name "
                           "(oms_new_container)" % self.name)
        if not self.check:
            self.client.remove_container(self.name)
        return dict(changed=True, container=container, removed=True)

    def started(self):
        inspect = self._require(self.name)
        policy_before = restart_policy_string(inspect.get("HostConfig"))
        if inspect["State"].get("Running"):
            diff = dict(before={}, after={})
            inspect, policy_changed = self._set_policy(inspect, diff)
            container = self._describe(inspect)
            return dict(changed=policy_changed, container=container, diff=diff,
                        started_at=container["started_at"], restart_policy_before=policy_before)
        # The new container copies this one's data directories: never run both at once.
        others = self.client.running_containers_with_label(UPGRADED_FROM_LABEL, self.name)
        if others:
            raise OmsError("%s runs, created from %s with the same data directories"
                           % (", ".join(others), self.name),
                           "Stop it first (state=stopped), then start %s" % self.name)
        diff = dict(before={"running": False}, after={"running": True})
        inspect, _policy_changed = self._set_policy(inspect, diff)
        if self.check:
            return dict(changed=True, container=self._describe(inspect), started_at=None,
                        restart_policy_before=policy_before, diff=diff)
        self.client.start_container(self.name)
        container = self._describe(self.client.wait_still_running(self.name, self.settle))
        return dict(changed=True, container=container, started_at=container["started_at"],
                    restart_policy_before=policy_before, diff=diff)

    def image_loaded(self):
        image, path = self.params["image"], self.params["image_archive"]
        archive = read_archive(path)
        archive_id = require_tag(archive, image)
        present = self.client.inspect_image(image)
        # The version the tarball's image is, from its tag or else its config's labels, so that a
        # preflight can refuse a wrong target before anything is loaded
        version, version_source = image_version(image, {"Config": {"Labels": archive["labels"].get(
            normalize_reference(image)) or {}}})
        result = dict(archive_tags=archive["tags"], changed=False, loaded=False, present=False,
                      version=version, version_source=version_source)
        if present is not None and archive_id in (None, present["Id"]):
            result["present"] = True
            if archive_id is None:
                self.module.warn("The tarball records no image id for %s; the image already "
                                 "present was kept as it is" % image)
            result.update(image_id=present["Id"])
            return result
        result["changed"] = True
        result["diff"] = dict(before={"image": image, "image_id": present and present["Id"]},
                              after={"image": image, "image_id": archive_id})
        if self.check:
            result["image_id"] = archive_id
            return result
        self.client.load_image(path, self.params["load_timeout"])
        loaded = self.client.inspect_image(image)
        if loaded is None:
            raise OmsError("The image archive %s was loaded but %s is not present afterwards"
                           % (path, image),
                           "Run docker images to see what the tarball brought in")
        result.update(image_id=loaded["Id"], loaded=True)
        return result

    def _check_host_paths(self, container, spec):
        """Refuse sources the engine would silently create as empty directories."""
        if not self.client.is_local:
            return
        for key in DATA_MOUNTS:
            path = container["mounts"].get(key)
            if path and not os.path.exists(path):
                raise OmsError("The host path %s (mounted at %s) does not exist"
                               % (path, CONTAINER_PATHS[key]),
                               "Restore it from the old deployment before running the new "
                               "container")
        config = container["mounts"].get("config")
        if config and not os.path.isfile(config):
            raise OmsError("The config mount %s is not a file" % config,
                           "Point the config of oms_mounts (mounts) at the config.yaml of the deployment")
        for key in ("ssl_certificate", "ssl_key"):
            path = self.params[key]
            if path and not os.path.isfile(path):
                raise OmsError("The %s %s is not a file" % (key.replace("_", " "), path),
                               "Copy the certificate and key to the host or fix oms_ssl_certificate and oms_ssl_key "
                               "(ssl_certificate, ssl_key)")
        return spec

    def _ensure_ours_running(self, existing, source, target):
        labels = (existing.get("Config") or {}).get("Labels") or {}
        same_image = (target is not None and existing.get("Image") == target["Id"]) or \
            normalize_reference((existing.get("Config") or {}).get("Image")) == \
            normalize_reference(self.params["image"])
        if labels.get(UPGRADED_FROM_LABEL) != source or not same_image:
            raise OmsError("A container named %s already exists (image %s, label %s=%s)"
                           % (self.name, (existing.get("Config") or {}).get("Image"),
                              UPGRADED_FROM_LABEL, labels.get(UPGRADED_FROM_LABEL)),
                           "It was not created by this module from %s with %s: choose another "
                           "name for the new container, or rename or remove that one after "
                           "checking it is not needed" % (source, self.params["image"]))
        if existing["State"].get("Running"):
            return dict(changed=False, container=self._describe(existing))
        if self.check:
            return dict(changed=True, container=self._describe(existing))
        self.client.start_container(self.name)
        return dict(changed=True, container=self._describe(
            self.client.wait_still_running(self.name, self.settle)))

    def _image_for_upgrade(self, target):
        """(inspect of the image to run, loaded now): loads image_archive when the image is absent
        or is not image_id; reads nothing from the tarball when the image is there."""
        if not self.params["image_archive"]:
            return target, False
        expected = self.params["image_id"]
        if target is not None and (not expected or target["Id"] == expected):
            return target, False
        if self.check:
            self.module.warn("%s would be loaded from %s first"
                             % (self.params["image"], self.params["image_archive"]))
            return target, False
        loaded = self.image_loaded()
        return self.client.inspect_image(self.params["image"]), loaded["loaded"]

    def upgraded(self):
        source, image = self.params["source_container"], self.params["image"]
        if source == self.name:
            raise OmsError("name and source_container are both %s" % source,
                           "Give the new container its own name (oms_new_container, not oms_old_container); "
                           "the old one is kept for rollback")
        target = self.client.inspect_image(image)
        existing = self.client.inspect_container(self.name)
        if existing is not None:
            return self._ensure_ours_running(existing, source, target)
        old = self._require(source, "source container")
        others = [n for n in self.client.running_containers_with_label(UPGRADED_FROM_LABEL, source)
                  if n != self.name]
        if others:
            raise OmsError("%s already runs, created from %s with the same data directories"
                           % (", ".join(others), source),
                           "Use that container's name, or stop it before creating %s"
                           % self.name)
        old_container = self._describe(old)
        if self.params["mounts"]:
            check_mounts(source, old_container["mounts"], self.params["mounts"])
        check_data_mounts(source, old_container["mounts"])
        old_image = self.client.inspect_image(old["Image"])
        spec = build_run_spec(old, self.name, image, old_image_inspect=old_image,
                              oms_host_ip=self.params["oms_host_ip"],
                              ssl_certificate=self.params["ssl_certificate"],
                              ssl_key=self.params["ssl_key"])
        wanted = self._wanted_policy()
        if wanted is not None:
            # The old container's policy was set to no for the stop: the role passes the one
            # it had before.
            spec["restart_policy"] = None if wanted["Name"] == "no" else wanted
        self._check_host_paths(old_container, spec)
        # In check mode, what must happen before the container can be created: returned, not
        # warned, since a plan made ahead of the stop and the load expects both
        prerequisites = []
        if old["State"].get("Running"):
            if not self.check:
                raise OmsError("The source container %s is still running" % source,
                               "Stop it first (state=stopped): both containers use the same data "
                               "directories and host ports")
            prerequisites.append("stop %s" % source)
        target, loaded = self._image_for_upgrade(target)
        if target is None:
            if not self.check:
                raise OmsError("The image %s is not present in the engine" % image,
                               "Load it first (state=image_loaded with the tarball)")
            prerequisites.append("load %s" % image)
        found = spec_deviations(spec)
        for sentence in found:
            self.module.warn("%s: %s (copied from %s)" % (self.name, sentence, source))
        shown = planned(spec)
        result = dict(changed=True, deviations=found, planned=shown, loaded=loaded,
                      diff=dict(before={}, after=shown))
        if self.check:
            result["container"] = absent(self.name)
            result["prerequisites"] = prerequisites
            return result
        self.client.create_container(spec)
        try:
            self.client.start_container(self.name)
            started = self.client.wait_still_running(self.name, self.settle)
        except OmsError as exc:
            raise OmsError("%s was created but did not start: %s" % (self.name, exc.msg),
                           "Look at docker logs %s, fix the cause and run this task again; it "
                           "will start the container it created" % self.name)
        result["container"] = self._describe(started)
        return result

    def _not_running(self, inspect):
        """The OmsError for a container that is absent or not running (with how it ended)."""
        if inspect is None:
            self._require(self.name)
        state = inspect.get("State") or {}
        if state.get("FinishedAt") and not state.get("FinishedAt", "").startswith("0001-"):
            return OmsError("The container %s is not running: it exited (exit code %s) at %s. "
                            "Last log lines:\n%s"
                            % (self.name, state.get("ExitCode"), state.get("FinishedAt"),
                               "\n".join(self.client.logs_tail(self.name))),
                            "Read docker logs %s, fix the cause, then start it "
                            "(state=upgraded or state=started) and run docker_init.sh again"
                            % self.name, exit_code=state.get("ExitCode"))
        return OmsError("The container %s is not running" % self.name,
                        "Start it (state=upgraded or state=started) before running "
                        "docker_init.sh")

    def _exec_while_running(self, argv, timeout):
        """exec_command, but a container that died under it fails with how it ended. A command
        cut off by the container's stop returns a status of its own (Docker's 126 "cannot exec
        in a stopped state", 137), which would otherwise read as "no supervisorctl" or as the
        script's own failure."""
        try:
            run = self.client.exec_command(self.name, argv, timeout)
        except OmsError:
            inspect = self.client.inspect_container(self.name)
            if inspect is None or not inspect["State"].get("Running"):
                raise self._not_running(inspect)
            raise
        if run.get("rc") != 0:
            inspect = self.client.inspect_container(self.name)
            if inspect is None or not inspect["State"].get("Running"):
                raise self._not_running(inspect)
        return run

    def _wait_until_ready(self, deadline):
        """Ask `supervisorctl status` every READY_PROBE_EVERY s until supervisord answers, so that
        docker_init.sh's first run meets a booted container instead of failing and idling a
        retry interval. Returns ready_probe, ready_at and ready_wait_seconds for the result."""
        began = time.time()
        while True:
            asked = time.time()
            probe = self._exec_while_running(list(docker_init.PROBE_COMMAND), READY_PROBE_TIMEOUT)
            verdict = docker_init.classify_probe(probe)
            waited = round(time.time() - began, 1)
            if verdict == docker_init.READY:
                return dict(ready_probe="supervisorctl", ready_wait_seconds=waited,
                            ready_at=journal_file.iso(journal_file.utc_now()))
            if verdict == docker_init.ABSENT:
                self.module.warn("%s has no supervisorctl (rc=%s): docker_init.sh is run at once "
                                 "and again every %s s while it finds the container starting"
                                 % (self.name, probe["rc"], self.params["init_retry_interval"]))
                return dict(ready_probe="none", ready_wait_seconds=waited, ready_at=None)
            if time.time() + READY_PROBE_EVERY > deadline:
                # docker_init.sh has the last word: it runs once and fails if it finds the same
                return dict(ready_probe="supervisorctl", ready_wait_seconds=waited, ready_at=None)
            inspect = self.client.inspect_container(self.name)
            if inspect is None or not inspect["State"].get("Running"):
                raise self._not_running(inspect)
            time.sleep(max(0.0, asked + READY_PROBE_EVERY - time.time()))

    def _run_init(self, timeout, running_marker):
        """Wait for the container's boot, then run docker_init.sh, again while it finds the
        container still starting. Returns (the last exec result, its outcome, attempts, seconds
        from the first attempt, the wait for the boot). Each run writes the in-progress marker
        INIT_RUNNING in the container before the script starts, so that a resumed run waits for
        it instead of starting a second one."""
        deadline = time.time() + max(0, self.params["init_ready_timeout"])
        ready = self._wait_until_ready(deadline)
        started = time.time()
        interval = max(1, self.params["init_retry_interval"])
        attempts = 0
        while True:
            attempts += 1
            started_marker = json.dumps({"started_at": utc_now(), "previous": running_marker},
                                        sort_keys=True)
            run = self._exec_while_running(
                ["sh", "-c", 'printf "%s\\n" "$1" > "$2" && exec bash "$3"', "sh",
                 started_marker, INIT_RUNNING, INIT_SCRIPT], timeout)
            outcome = docker_init.classify(run)
            if outcome != docker_init.NOT_READY or time.time() + interval > deadline:
                return run, outcome, attempts, round(time.time() - started, 1), ready
            time.sleep(interval)
            inspect = self.client.inspect_container(self.name)
            if inspect is None or not inspect["State"].get("Running"):
                raise self._not_running(inspect)

    def initialized(self):
        inspect = self.client.inspect_container(self.name)
        # No `rc` unless the script ran (or ran before): Ansible fails any result whose rc is not 0.
        result = dict(changed=False, stdout_tail=[], duration=0.0, marker=None)
        if inspect is None or not inspect["State"].get("Running"):
            if self.check:
                self.module.warn("%s is not running yet; docker_init.sh would run once it is"
                                 % self.name)
                result["changed"] = True
                return result
            raise self._not_running(inspect)
        timeout = self.params["init_timeout"]
        marker, running_marker, running = self._init_state()
        if running and not marker and not self.check:
            # A run that was cut off (the controller killed) left docker_init.sh running: never
            # start a second one on the same databases; wait for it, then judge by its marker.
            marker, running_marker = self._wait_for_running_init(timeout, running_marker)
        if marker is not None:
            try:
                result["marker"] = json.loads(marker)
            except ValueError:
                result["marker"] = {"raw": marker}
            if not self.params["force"]:
                result["rc"] = result["marker"].get("rc", 0)
                return result
        result["changed"] = True
        if self.check:
            return result
        if marker is not None:  # forced: a failure now must not leave an old success behind
            self.client.remove_file(self.name, INIT_MARKER)
        run, outcome, attempts, duration, ready = self._run_init(timeout, running_marker)
        result.update(rc=run["rc"], stdout_tail=run["stdout_tail"], duration=duration,
                      attempts=attempts, **ready)
        tail = "\n".join(run["stdout_tail"][-20:])
        details = dict(rc=run["rc"], stdout_tail=run["stdout_tail"], duration=duration,
                       attempts=attempts, **ready)
        again = "Read /home/admin/logs/docker_init*.log in the container, fix the cause and run " \
                "this task again (the script may be re-run)"
        if outcome == docker_init.TIMED_OUT:
            raise OmsError("%s did not finish within %d s in %s (rc=%s). Last output:\n%s"
                           % (INIT_SCRIPT, timeout, self.name, run["rc"], tail),
                           "Read /home/admin/logs/docker_init*.log in the container, then run again with a "
                           "larger oms_upgrade_init_timeout (init_timeout; the script may be re-run)",
                           **details)
        if outcome == docker_init.NOT_READY:
            probed = "" if ready["ready_probe"] == "none" else \
                ", after supervisorctl status did not answer for %.0f s" % ready["ready_wait_seconds"]
            raise OmsError("%s found %s still starting (its supervisord does not answer) on all "
                           "%d attempts over %.0f s%s (oms_upgrade_init_ready_timeout, init_ready_timeout: %s s). Last output:\n%s"
                           % (INIT_SCRIPT, self.name, attempts, duration, probed,
                              self.params["init_ready_timeout"], tail),
                           "Look at the container (docker logs %s; supervisorctl status inside "
                           "it); on a slow host raise init_ready_timeout and run this task again"
                           % self.name, **details)
        if outcome == docker_init.NO_SUCCESS_LINE:
            raise OmsError("%s exited 0 in %s but did not print its success line %s, so a step "
                           "did not finish. Last output:\n%s"
                           % (INIT_SCRIPT, self.name, docker_init.SUCCESS_LINE, tail),
                           again, **details)
        if outcome != docker_init.SUCCEEDED:
            raise OmsError("%s failed in %s with exit code %s. Last output:\n%s"
                           % (INIT_SCRIPT, self.name, run["rc"], tail), again, **details)
        marker = {"finished_at": utc_now(), "duration": duration, "rc": 0, "attempts": attempts,
                  "image": (inspect.get("Config") or {}).get("Image")}
        done = self.client.exec_command(
            self.name, ["sh", "-c", 'printf "%s\\n" "$1" > "$2" && rm -f "$3"', "sh",
                        json.dumps(marker, sort_keys=True), INIT_MARKER, INIT_RUNNING],
            timeout=max(self.client.timeout, 10))
        if done["rc"] != 0:
            raise OmsError("docker_init.sh succeeded but its marker %s could not be written in %s "
                           "(rc=%s)" % (INIT_MARKER, self.name, done["rc"]),
                           "Check the container's filesystem, then run this task again (the "
                           "script may be re-run)")
        result["marker"] = marker
        return result

    def _init_state(self):
        """(done marker text or None, running marker text or None, docker_init.sh runs)."""
        probe = self.client.exec_command(self.name, ["sh", "-c", _INIT_PROBE, "sh", INIT_MARKER,
                                                     INIT_RUNNING],
                                         timeout=max(self.client.timeout, 10), tail_lines=1000)
        parts = ("\n".join(probe["stdout_tail"]) + "\n").split("@@obtools@@")
        if probe["rc"] != 0 or len(parts) != 3:
            raise OmsError("Cannot read the docker_init.sh markers in %s (rc=%s)"
                           % (self.name, probe["rc"]),
                           "Check that the container runs (docker exec %s true)" % self.name)
        done, running_marker, process = (x.strip() for x in parts)
        return done or None, running_marker or None, bool(process)

    def _wait_for_running_init(self, timeout, running_marker):
        self.module.warn("docker_init.sh already runs in %s (started by an earlier run: %s): "
                         "waiting for it instead of starting it again"
                         % (self.name, running_marker or "no marker"))
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(INIT_WAIT_EVERY)
            marker, running_marker, running = self._init_state()
            if not running:
                return marker, running_marker
        raise OmsError("docker_init.sh started by an earlier run still runs in %s after %d s"
                       % (self.name, timeout),
                       "Do not start it twice: wait for it (docker exec %s ps -ef), read "
                       "/home/admin/logs/docker_init*.log, then run the upgrade again"
                       % self.name)


def journal_data(state, result):
    """What the step records in the journal (the module's notes list it)."""
    container = result.get("container") or {}
    if state == "stopped":
        return {"t1": result.get("stopped_at")}
    if state == "image_loaded":
        return {"image_id": result.get("image_id"), "image_loaded_now": result.get("loaded", False)}
    if state == "upgraded":
        return {"new_container_id": container.get("id"), "new_image": container.get("image"),
                "new_version": container.get("version"), "new_started_at": container.get("started_at"),
                "image_loaded_again": result.get("loaded", False)}
    if state == "initialized":
        return {"init_rc": result.get("rc", 0), "init_duration": result.get("duration"),
                "init_attempts": result.get("attempts"),
                "ready_wait_seconds": result.get("ready_wait_seconds"),
                "ready_at": result.get("ready_at"), "ready_probe": result.get("ready_probe")}
    if state == "absent":
        return {"removed": result.get("removed", False)}
    return {"started_at": result.get("started_at")}
