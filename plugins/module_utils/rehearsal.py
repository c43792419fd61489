# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rehearse steps 5-6 (docker_init.sh of 4.2.0) on a copy of the MetaDB, isolated, while OMS serves.

What a rehearsal does, in order (oms_rehearsal drives it; every name below is derived from the old
container's name, so the next run finds what a killed run left):
1. removes what an earlier rehearsal of this deployment left (the journal's `rehearsal_leftovers`,
   and every container labelled obtools.oms.rehearsal=<old container>);
2. dumps rm, cm and cm_hb (metadb_dump's mysqldump argv, --single-transaction: OMS keeps running)
   and loads each dump into a scratch database `obrh_<name>` on the same MetaDB (refused when one
   exists that is not recorded as ours);
3. creates a user granted only the scratch databases, when the login can (else the copy of
   config.yaml uses the login itself, and the result says the isolation is by network only);
4. starts two relays (a tiny Python TCP relay run by the 4.2.0 image's own Python, with an
   entrypoint override: nothing else needs to exist on an OMS host): `out`, on the host network,
   relays a Unix socket in the scratch directory to the MetaDB's address; `in`, in a network
   namespace of its own with no interface but loopback (network_mode none), relays
   127.0.0.1:<MetaDB port> to that socket;
5. starts the 4.2.0 container as step 4 does (build_run_spec of the old container), but in the
   `in` relay's namespace (network_mode container:<relay>: it reaches nothing but 127.0.0.1, so no
   project source or target, no console peer, no production database), with a copy of config.yaml
   pointing at 127.0.0.1 and the scratch databases, scratch logs/store, a copy of run, OMS_HOST_IP
   127.0.0.1, no restart policy, and memory and CPU limits;
6. runs docker_init.sh in it with docker_init_runner.initialized() (the same readiness probe and
   success checks as step 5-6), then measures how long the console takes to answer /oms/health;
7. reads what the migration changed (tables created, altered or dropped, oms_normal_config rows);
8. removes everything it created, in a finally, and records the outcome in the journal.

On another Docker host (rehearsal_host, the role's oms_rehearsal_host) the same happens there, with
what it reads of the serving deployment (the old container's settings, config.yaml, run) taken
from the bundle the OMS host exported (rehearsal_source), and its journal on that host: what it
created is removed there by the next run; the role copies the outcome to the OMS host's record.

This file runs the rehearsal in that order; the copy of the MetaDB is rehearsal_copy.py's, the
isolated container and its network rehearsal_sandbox.py's, the record and the decision
rehearsal_verdict.py's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import re
import shutil
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_copy as copy
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_sandbox as sandbox
from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_source
from ansible_collections.obtools.oms.plugins.module_utils.rehearsal_verdict import (
    Cleanup,
    leftovers,
    predict_window,
    summarize,
)

PREFIX = copy.PREFIX


def names(source, databases):
    """Everything a rehearsal of the deployment whose old container is `source` creates.

    `databases` is [(role, name)]; returns {containers: {oms, relay_in, relay_out},
    databases: {role: scratch name}, user, workdir_name}."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", source)
    user = PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:10]
    return {
        "containers": {"oms": "%s%s" % (PREFIX, safe), "relay_in": "%s%s_relay_in" % (PREFIX, safe),
                       "relay_out": "%s%s_relay_out" % (PREFIX, safe)},
        "databases": dict((role, copy.scratch_database(name)) for role, name in databases),
        "user": copy.short(user, copy.MAX_USER_NAME, False),
        "workdir_name": "%s%s" % (PREFIX, safe),
    }


def remove_everything(client, settings, recorded, source, warn):
    """Remove the rehearsal's containers, scratch databases, user and directory. Returns what was
    removed; raises OmsError when something could not be."""
    removed = {"containers": [], "databases": [], "user": None, "workdir": None}
    names_ = set(recorded.get("containers") or []) | set(client.containers_with_label(sandbox.LABEL, source))
    # the OMS container first, then the relays whose namespace it uses
    for name in sorted(names_, key=lambda n: (n.endswith("_relay_in"), n.endswith("_relay_out"))):
        if client.remove_container(name):
            removed["containers"].append(name)
    databases = [d for d in recorded.get("databases") or [] if d.startswith(PREFIX)]
    user = recorded.get("user")
    failure = None
    if databases or user:
        try:
            copy.drop(settings, databases, user, removed)
        except OmsError as exc:
            failure = exc  # the directory goes all the same; the next run drops what is left
    workdir = recorded.get("workdir")
    if workdir and os.path.basename(workdir.rstrip("/")).startswith(PREFIX) and os.path.isdir(workdir):
        shutil.rmtree(workdir)
        removed["workdir"] = workdir
    if failure is not None:
        raise failure
    return removed


class Rehearsal(object):
    """One rehearsal (see the module docstring): run() returns the result, never leaves anything."""

    def __init__(self, params, settings, admin, client, clients, warn, origin=None):
        self.p = params
        self.settings = settings      # the deployment's MetaDB login (what OMS uses)
        self.admin = admin            # the login that creates the scratch databases
        self.client = client
        self.clients = clients        # {"mysqldump": path, "mysql": path}
        self.warn = warn
        # the serving deployment (rehearsal_source.Source): read here when None, or the bundle
        # the OMS host exported when this is another host (rehearsal_host)
        self.origin = origin
        self.elsewhere = params.get("rehearsal_host")
        self.source = params["source_container"]
        self.databases = settings.databases()
        self.names = names(self.source, self.databases)
        self.cleanup = Cleanup(params["journal_path"])
        self.measured = {}
        self.result = {"names": self.names}

    # the run -------------------------------------------------------------------------------------
    @property
    def lock_path(self):
        return os.path.join(self.p["work_dir"], ".%s.lock" % self.names["workdir_name"])

    def run(self):
        """The rehearsal under a flock of this deployment's: a module that outlived its controller
        (a remote module goes on after the controller is lost) finishes, clean-up included,
        before the next run looks at what is left."""
        from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock
        if not os.path.isdir(self.p["work_dir"]):
            # on a rehearsal host the OMS host's backup directory may not exist yet
            os.makedirs(self.p["work_dir"], 0o700)
        lock = JobLock(self.p["work_dir"], "the rehearsal of %s" % self.source, self.warn,
                       path=self.lock_path)
        with lock:
            self.result["lock_waited"] = lock.waited
            return self._run()

    def _run(self):
        started = time.time()
        if self.origin is None:
            self.origin = rehearsal_source.local(self.client, self.source, self.p["config_file"])
        self.result["rehearsal_host"] = self.elsewhere
        earlier = remove_everything(self.client, self.admin, leftovers(self.p["journal_path"]),
                                    self.source, self.warn)
        self.result["removed_before"] = earlier
        self._refuse_existing()
        limit = sandbox.parse_memory(self.p["memory"])
        if self.client.is_local:
            try:
                with open("/proc/meminfo") as f:
                    sandbox.check_memory(limit, sandbox.mem_available(f.read()), self.elsewhere)
            except (IOError, OSError):
                self.warn("Cannot read /proc/meminfo: the free memory was not checked")
        else:
            self.warn("The Docker engine %s is not local: its free memory was not checked"
                      % self.client.docker_host)
        image = self.client.inspect_image(self.p["image"])
        self.result["image_loaded"] = False
        if image is None and self.elsewhere:
            self._archive_here()
        if image is None and self.p.get("image_archive"):
            # days ahead of the upgrade, the image may not be loaded yet: step 3's load, now
            from ansible_collections.obtools.oms.plugins.module_utils.image_load import image_loaded
            loaded = image_loaded(self.client, self.p["image"], self.p["image_archive"],
                                  self.p["load_timeout"], self.warn)
            self.result["image_loaded"] = bool(loaded.get("loaded"))
            image = self.client.inspect_image(self.p["image"])
        if image is None:
            raise OmsError("The image %s is not present in the engine" % self.p["image"],
                           "Load it first (the upgrade's step 3, or docker load of the tarball), "
                           "or give oms_image_archive (image_archive)")
        outcome, error, tail = "passed", None, []
        self.cleanup.record("workdir", self.workdir)
        self.cleanup.write("started", {"rehearsal_started_at": journal_file.iso(journal_file.utc_now()),
                                       "rehearsal_host": self.elsewhere})
        try:
            self._rehearse(self.origin.container)
        except OmsError as exc:
            outcome, error = "failed", exc.msg
            tail = list(exc.details.get("stdout_tail") or self.result.get("init_output_tail") or [])
            self.result["hint"] = exc.hint
        except Exception as exc:  # pylint: disable=broad-except
            # whatever broke, the finally below removes what was created and the journal says so
            outcome, error = "failed", "%s: %s" % (type(exc).__name__, exc)
            tail = list(self.result.get("init_output_tail") or [])
        finally:
            try:
                self.result["removed"] = remove_everything(self.client, self.admin,
                                                           self.cleanup.created, self.source,
                                                           self.warn)
                self.cleanup.created = {"containers": [], "databases": [], "user": None,
                                        "workdir": None}
                self.result["left_behind"] = False
            except OmsError as exc:
                self.result["left_behind"] = True
                self.warn("The rehearsal could not remove everything it created (%s): the next "
                          "run removes it (the journal lists it)" % exc)
        duration = round(time.time() - started, 1)
        predicted = predict_window(self.measured, self.p["stop_seconds"], self.p["prune_seconds"])
        summary = summarize(outcome, duration, predicted, error, tail,
                            self.result.get("user_limited"), self.elsewhere)
        self.result.update(outcome=outcome, duration=duration, error=error,
                           init_output_tail=tail or self.result.get("init_output_tail") or [],
                           predicted_window=predicted, measured=self.measured, summary=summary)
        data = {"rehearsal_outcome": outcome, "rehearsal_duration": duration,
                "rehearsal_error": error, "rehearsal_summary": summary,
                "rehearsal_init_tail": self.result["init_output_tail"][-20:],
                "rehearsal_predicted_window": predicted, "rehearsal_measured": self.measured,
                "rehearsal_leftovers": self.cleanup.created, "rehearsal_host": self.elsewhere}
        # what the role copies to the OMS host's record when this is another host
        self.result["record"] = data
        self.cleanup.write("done" if outcome == "passed" else "failed", data,
                           error=None if outcome == "passed" else error)
        return self.result

    def _archive_here(self):
        """On a rehearsal host, a missing image needs its tarball there: say so in its terms."""
        archive = self.p.get("image_archive")
        if archive and os.path.isfile(archive):
            return
        raise OmsError("The image %s is not on the rehearsal host %s (oms_rehearsal_host), and %s"
                       % (self.p["image"], self.elsewhere,
                          "its tarball %s is not there either" % archive if archive
                          else "no tarball of it (oms_image_archive) was given"),
                       "Copy the tarball to %s on %s (the path oms_image_archive names: it is not "
                       "copied from the OMS host, for its size), or docker load it there, then "
                       "rehearse again; or leave oms_rehearsal_host unset to rehearse on the OMS "
                       "host" % (archive or "the path oms_image_archive names", self.elsewhere))

    @property
    def workdir(self):
        return os.path.join(self.p["work_dir"], self.names["workdir_name"])

    def _refuse_existing(self):
        copy.refuse_existing(self.admin, self.names["databases"].values())
        if os.path.exists(self.workdir) and not self.cleanup.path:
            raise OmsError("The scratch directory %s exists" % self.workdir,
                           "Remove it by hand (no journal says a rehearsal made it)")
        if os.path.exists(self.workdir):
            shutil.rmtree(self.workdir)

    def _rehearse(self, old):
        os.makedirs(self.workdir, 0o700)
        scratch = self.names["databases"]
        containers = self.names["containers"]
        copy.copy_databases(self.settings, self.admin, self.databases, scratch, self.clients,
                            self.workdir, self.cleanup.record, self.measured)
        before = copy.schemas(self.admin, scratch)
        user, password, limited = copy.scratch_user(self.settings, self.admin, self.names["user"],
                                                    scratch.values(), self.cleanup.record, self.warn)
        self.result["user_limited"] = limited
        console_port = sandbox.scratch_dirs(self.workdir, self.origin, self.settings.port, user,
                                            password, scratch)
        sandbox.start_relays(self.client, containers, self.p["image"], self.workdir, self.source,
                             self.settings.host, self.settings.port, self.cleanup.record)
        spec = sandbox.oms_spec(self.client, old, self.origin.image, containers, self.p["image"],
                                self.workdir, self.source, self.p["memory"], self.p["cpus"],
                                self.warn, self.elsewhere)
        self.result["container_spec"] = {"network_mode": spec["network_mode"], "binds": spec["binds"],
                                         "mem_limit": spec["mem_limit"],
                                         "cpus": float(self.p["cpus"])}
        sandbox.start_oms(self.client, spec, self.p["settle_seconds"], self.cleanup.record)
        self._init()
        self.measured["health_seconds"] = sandbox.wait_healthy(
            self.client, containers["relay_in"], console_port, self.p["health_timeout"])
        after = copy.schemas(self.admin, scratch)
        changes = {}
        for role in scratch:
            changes[role] = copy.diff_schemas(before[role][0], after[role][0])
            changes[role]["rows_before"] = before[role][1]
            changes[role]["rows_after"] = after[role][1]
        self.result["changes"] = changes

    def _init(self):
        from ansible_collections.obtools.oms.plugins.module_utils.docker_init_runner import initialized
        try:
            done = initialized(self.client, self.names["containers"]["oms"], self.p["init_timeout"],
                               self.p["init_ready_timeout"], self.p["init_retry_interval"], self.warn)
        except OmsError as exc:
            self.result["init_output_tail"] = list(exc.details.get("stdout_tail") or [])
            raise
        self.result["init_output_tail"] = list(done.get("stdout_tail") or [])
        self.result["init_rc"] = done.get("rc")
        self.measured["boot_seconds"] = round(float(self.p["settle_seconds"]) +
                                              float(done.get("ready_wait_seconds") or 0), 1)
        self.measured["init_seconds"] = done.get("duration")
