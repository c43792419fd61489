# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One upgrade or rollback at a time per deployment: a lock record beside the journal.

An Ansible run is many short processes (one per task), so no process on the OMS host can hold a
flock for the whole run. The lock is therefore a record, `{"run", "controller", "pid", "started_at",
"what"}`, in a file beside the journal; flock is held only while the record is read and written,
so two runs starting together cannot both take it. The record outlives a controller that was
killed, so whether its holder is alive is judged here, on the OMS host, where every run leaves
its traces whatever its controller (a workstation, a bastion, an execution environment or an AWX
job pod, gone with its processes and its hostname):

- its heartbeat: the newest modification time of the lock file and the journal beside it. The
  lock is refreshed each time the run takes it again, the journal at
  each step, and the progress probe touches the lock file about every second while it waits for a
  long step (files/progress_probe.py --beat). A holder silent for `stale_seconds` is dead...
- ...unless its work on this host still runs: the downtime window (oms_upgrade_window), whose
  process the journal records (process_owner: pid, start time and boot id), runs on by itself
  after its controller is gone.

A holder that is dead by both is taken over by the next run (`liveness`, `acquire`). The role
adds one faster judgment on the controller: a holder started from this very controller (same boot
id and pid namespace, `controller_ns`) whose ansible-playbook process is gone is dead at once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import os
import time

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import host_access
from ansible_collections.obtools.oms.plugins.module_utils import process_owner
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

FILE_MODE = 0o600
DIR_MODE = 0o700
STALE_SECONDS = 300
# What root does once so that a user in the docker group runs without become (host_access.denied)
_OWN_BACKUP_DIR = ("give NAME a backup directory of its own (as root, once: install -d -o NAME -m 0700 %s) "
                   "and set oms_backup_dir to it (the journal, the lock, the dumps and the reports go there)")


def utc_now():
    return journal_file.iso(journal_file.utc_now())


class _Locked(object):
    """The lock file opened and flocked (exclusive) for one read-modify-write."""

    def __init__(self, path, create):
        self.path = path
        self.create = create
        self.fd = None

    def __enter__(self):
        flags = os.O_RDWR | (os.O_CREAT if self.create else 0)
        while True:
            try:
                self.fd = os.open(self.path, flags, FILE_MODE)
            except OSError as exc:
                if exc.errno == errno.ENOENT and not self.create:
                    return self
                directory = os.path.dirname(self.path)
                if host_access.is_denied_without_root(exc):
                    raise OmsError(*host_access.denied(
                        "Cannot open the run lock %s" % self.path, self.path, _OWN_BACKUP_DIR % directory,
                        owner_of=directory))
                raise OmsError("Cannot open the run lock %s: %s" % (self.path, exc),
                               "Run as a user that may write in %s" % directory)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            # release() unlinks the file under the flock: a run that waited on the old file must
            # open the new one, or two runs would each hold a lock on a different file.
            try:
                same = os.fstat(self.fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if same:
                return self
            os.close(self.fd)
            self.fd = None

    def read(self):
        if self.fd is None:
            return None
        os.lseek(self.fd, 0, os.SEEK_SET)
        text = b""
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            text += chunk
        if not text.strip():
            return None
        try:
            record = json.loads(text.decode("utf-8"))
        except ValueError:
            raise OmsError("The run lock %s is not a lock record" % self.path,
                           "Someone edited it: check that no upgrade or rollback runs on this host, "
                           "then remove the file")
        return record if isinstance(record, dict) and record.get("run") else None

    def write(self, record):
        data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8") if record else b""
        try:
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.ftruncate(self.fd, 0)
            if data:
                os.write(self.fd, data)
            os.fsync(self.fd)
        except OSError as exc:
            raise OmsError("Cannot write the run lock %s: %s" % (self.path, exc),
                           "Free space in %s (a full disk stops the journal too)"
                           % os.path.dirname(self.path))

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # releases the flock


def journal_of(path):
    """The journal a lock file guards: the roles keep the lock at <journal>.lock."""
    return path[:-len(".lock")] if path.endswith(".lock") else None


def liveness(path, stale_seconds=STALE_SECONDS, now=None):
    """Whether the run holding the lock at `path` is alive, judged on this host.

    Returns {"alive", "why", "heartbeat_age" (seconds since its newest trace, None without
    any), "working" (["window"] while the journal's window process still runs)}.
    """
    now = time.time() if now is None else now
    journal = journal_of(path)
    traces = [path] + ([journal] if journal else [])
    stamps = []
    for trace in traces:
        try:
            stamps.append(os.stat(trace).st_mtime)
        except OSError:
            pass
    age = round(max(0.0, now - max(stamps)), 1) if stamps else None
    working = []
    if journal:
        try:
            with open(journal) as handle:
                window = (json.load(handle) or {}).get("window") or {}
        except (IOError, OSError, ValueError, AttributeError):
            window = {}
        if isinstance(window, dict) and window.get("status") == "running" \
                and process_owner.owner_alive(window.get("owner")):
            working = ["window"]
    if working:
        why = "its downtime window still runs on this host (pid %s)" % window["owner"].get("pid")
        return {"alive": True, "why": why, "heartbeat_age": age, "working": working}
    if age is not None and age < stale_seconds:
        why = "its last sign of life on this host is %ss old (dead after %ss)" % (int(age), stale_seconds)
        return {"alive": True, "why": why, "heartbeat_age": age, "working": working}
    why = ("no sign of life on this host for %ss (limit %ss) and none of its work runs here"
           % ("?" if age is None else int(age), stale_seconds))
    return {"alive": False, "why": why, "heartbeat_age": age, "working": working}


def acquire(path, holder, break_run=None, check=False, stale_seconds=None):
    """Take the lock for `holder` (a dict with at least "run"), unless another run holds it.

    Returns (acquired, record now, previous record, changed). The same run taking it again is
    re-entrant (the automatic rollback inside an upgrade) and refreshes its heartbeat; a holder
    whose "run" equals `break_run` is replaced (found dead by the caller, or named by the
    operator); with `stale_seconds`, so is a holder that `liveness` finds dead.
    """
    if not holder or not holder.get("run"):
        raise OmsError("The lock holder has no run id", "Give holder.run, unique per run")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        # Refused here as the preflight would refuse it: the lock is taken before the preflight.
        if os.path.exists(directory):
            raise OmsError("The backup directory %s is not a writable directory: something else "
                           "has that name" % directory,
                           "Move it away, or set oms_backup_dir to a writable place with room")
        parent = os.path.dirname(directory)
        if not os.path.isdir(parent):
            raise OmsError("The backup directory %s cannot be created in its parent %s, which "
                           "does not exist" % (directory, parent),
                           "Create it (mkdir -p %s; chmod 700 %s) or set oms_backup_dir to a "
                           "writable place with room" % (directory, directory))
        if check:
            return True, None, None, True
        try:
            os.mkdir(directory, DIR_MODE)
        except OSError as exc:
            if host_access.is_denied_without_root(exc):
                raise OmsError(*host_access.denied("Cannot create the backup directory %s" % directory, directory,
                                                   _OWN_BACKUP_DIR % directory, owner_of=parent))
            raise OmsError("Cannot create %s: %s" % (directory, exc),
                           "Create it, or set oms_backup_dir to a directory that can be written")
    with _Locked(path, create=not check) as lock:
        current = lock.read()
        if current and current["run"] != holder["run"] and current["run"] != break_run:
            if not stale_seconds or liveness(path, stale_seconds)["alive"]:
                return False, current, current, False
        if current and current["run"] == holder["run"]:
            if not check:
                os.utime(path, None)  # the heartbeat
            return True, current, current, False
        record = dict(holder)
        record.setdefault("started_at", utc_now())
        if not check:
            lock.write(record)
        return True, record, current, True


def release(path, run, check=False):
    """Remove the record when `run` holds it. Returns (released, record before)."""
    if not os.path.exists(path):
        return False, None
    with _Locked(path, create=False) as lock:
        current = lock.read()
        if not current or current["run"] != run:
            return False, current
        if not check:
            # Unlinked, not emptied: a run leaves the backup directory as it found it.
            os.unlink(path)
        return True, current


def read(path):
    if not os.path.exists(path):
        return None
    with _Locked(path, create=False) as lock:
        return lock.read()
