# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files that are either the old version or the new one, never half of each.

The journal and the dump manifest are what a re-run and a rollback trust after a crash, so both are
written to a temporary file beside the target, fsynced, renamed over it, and the directory fsynced
so that the rename itself survives a power cut.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile


def fsync_dir(directory):
    """Make a rename in `directory` durable; a filesystem that cannot fsync a directory is let be."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path, data, mode=0o600):
    """Write `data` as indented JSON to `path` (created with `mode`), atomically.

    mkstemp's OSError (directory missing or not writable) reaches the caller unchanged, so that it
    can say what to do in its own terms.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)
