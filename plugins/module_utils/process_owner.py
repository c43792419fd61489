# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which process on the OMS host owns a piece of work, and whether it still runs.

An owner record is {pid, start, boot}: the pid, the process's start time in clock ticks since
boot (/proc/PID/stat field 22) and the boot id. A pid reused by another process, or one from
before a reboot, is not the owner; neither is a zombie. The window (oms_upgrade_window) records
its owner in the journal, so that a re-run attaches to a window that still runs instead of
acting beside it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from typing import Any, Dict, Optional

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return ""


def process_start(pid: int) -> Optional[str]:
    """The process's start time in clock ticks since boot, or None when no such process runs
    (an ended one not reaped yet, a zombie, does not run)."""
    stat = _read("/proc/%d/stat" % pid)
    if not stat:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: count after the last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def owner_of_self() -> Dict[str, Any]:
    return {"pid": os.getpid(), "start": process_start(os.getpid()), "boot": _read(BOOT_ID)}


def owner_alive(owner: Any) -> bool:
    """Whether the process that recorded `owner` still runs on this host (and is not this one)."""
    if not isinstance(owner, dict) or not owner.get("pid"):
        return False
    try:
        pid = int(owner["pid"])
    except (TypeError, ValueError):
        return False
    if pid == os.getpid():
        return False
    if owner.get("boot") and owner.get("boot") != _read(BOOT_ID):
        return False
    start = process_start(pid)
    if start is None:
        return False
    return not owner.get("start") or owner.get("start") == start
