# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dump or a restore of one deployment never runs beside another one of the same deployment.

Who dumps or restores: the downtime windows' steps (backup, rollback_stage, rollback_safety_dump,
rollback_restore, in the window's one process), and M(oms_metadb_backup) run by hand or by a
playbook of the user's. Each holds a flock on `<parent of backup_dir>/.oms_metadb_job.lock` for
as long as it runs (the kernel drops it when its process ends, however it ends), so a dump or
restore started while another still runs (an M(oms_metadb_backup) run that outlived its
controller, a window's) waits for it and then sees its result (verified
dumps are not redone, restored databases not reloaded) instead of running a second mysqldump or a
second DROP/load next to it. The rehearsal takes a lock file of its own (`path`): a rehearsal that
outlived its controller finishes, its clean-up included, before the next one looks at what is left.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import os
import time

from ansible_collections.obtools.oms.plugins.module_utils import journal

LOCK_NAME = ".oms_metadb_job.lock"


class JobLock(object):
    def __init__(self, backup_dir, what, warn=None, path=None):
        """`path`: a lock file of the caller's own instead of the deployment's one beside
        backup_dir (the rehearsal's, which never waits for a dump)."""
        parent = os.path.dirname(os.path.abspath(backup_dir.rstrip("/") or "/"))
        self.path = path or os.path.join(parent, LOCK_NAME)
        self.what = what
        self.warn = warn or (lambda msg: None)
        self.fd = None
        self.waited = 0.0

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return self  # no lock where nothing can be written: the job itself will say why
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = self._holder()
            self.warn("%s waits for %s, still running since %s (pid %s), started by an earlier "
                      "run; it is never run twice at once"
                      % (self.what, holder.get("what", "job"), holder.get("started_at", "?"),
                         holder.get("pid", "?")))
            start = time.time()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.waited = round(time.time() - start, 1)
        try:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, json.dumps({"pid": os.getpid(), "what": self.what, "started_at": journal.iso(
                journal.utc_now())}).encode("utf-8"))
        except OSError:
            pass  # a full disk: the lock is held all the same, only its label is missing
        return self

    def _holder(self):
        try:
            with open(self.path) as handle:
                return json.loads(handle.read() or "{}")
        except (OSError, ValueError):
            return {}

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
