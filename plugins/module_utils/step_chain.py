# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Steps launched ahead run back to back: each background job waits for its turn.

The oms_upgrade role launches the steps of the downtime window together, as background jobs
(async, poll 0), each told the step before it (journal_after) and the run it belongs to
(journal_run). A job waits until that step is done in the journal, then acts at once: no Ansible
task, no module start-up runs between two steps of the window.

A job acts only while its run watches. The role writes the run's name into the watch file
`<journal_path>.watch` once every step is launched (the go), and its progress probe touches that
file while it follows the jobs. A waiting job stands down, having done nothing, when
- the step before it failed in this run;
- the watch file is gone or names another run (the role's failure path, or a new run, removed it);
- nobody touched the watch file for journal_watch_seconds (the controller was killed or lost).

A step records its owner (pid, the process's start time, the boot id) when it starts. settle()
stands every waiting job down and waits for each step whose owner still runs, so that a resumed
run or a rollback never acts beside a job of an earlier run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

WATCH_SUFFIX = ".watch"
CHECK_EVERY = 0.05  # a read of a small JSON file; the next step starts within this of the last one's end
BOOT_ID = "/proc/sys/kernel/random/boot_id"


def chain_argument_spec() -> Dict[str, Dict[str, Any]]:
    return dict(
        journal_after=dict(type="str"),
        journal_run=dict(type="str"),
        journal_inputs=dict(type="dict"),
        journal_watch_seconds=dict(type="int", default=60),
    )


# for AnsibleModule(required_by=...)
CHAIN_REQUIRED_BY = {"journal_after": "journal_run", "journal_run": "journal_path",
                     "journal_inputs": "journal_path"}


def watch_path(journal_path: str) -> str:
    return journal_path + WATCH_SUFFIX


def read_watch(journal_path: str) -> Tuple[Optional[str], Optional[float]]:
    """(the run the watch file names, its mtime), or (None, None) when there is none."""
    path = watch_path(journal_path)
    try:
        with open(path) as handle:
            run = handle.read().strip()
        return run, os.stat(path).st_mtime
    except (IOError, OSError):
        return None, None


def write_watch(journal_path: str, run: str) -> None:
    """The go: the jobs of `run` may act. Written whole (a temporary file renamed)."""
    tmp = watch_path(journal_path) + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (run + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    os.rename(tmp, watch_path(journal_path))


def remove_watch(journal_path: str) -> bool:
    """Stand every waiting job down. True when there was a watch file."""
    try:
        os.remove(watch_path(journal_path))
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return ""


def process_start(pid: int) -> Optional[str]:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None when
    no such process runs (an ended one not reaped yet, a zombie, does not run)."""
    stat = _read("/proc/%d/stat" % pid)
    if not stat:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: count after the last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def owner_of_self(run: Optional[str] = None) -> Dict[str, Any]:
    owner: Dict[str, Any] = {"pid": os.getpid(), "start": process_start(os.getpid()),
                             "boot": _read(BOOT_ID)}
    if run:
        owner["run"] = run
    return owner


def owner_alive(owner: Any) -> bool:
    """Whether the process that recorded `owner` still runs on this host. A pid reused by another
    process, or one from before a reboot, is not it."""
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


def live_steps(journal: Optional[Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
    """(step, owner) of every step still started by a process that runs."""
    steps = (journal or {}).get("steps") or {}
    return [(name, rec["owner"]) for name, rec in sorted(steps.items())
            if isinstance(rec, dict) and rec.get("status") == "started" and owner_alive(rec.get("owner"))]


def settle(journal_path: str, timeout: float, check_mode: bool = False,
           clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> Dict[str, Any]:
    """Stand down the jobs waiting for their turn, then wait up to `timeout` s for every step whose
    owner still runs. Returns {stood_down, waited, still_running: [step...]}."""
    stood_down = False
    if not check_mode:
        stood_down = remove_watch(journal_path)
    start = clock()
    while True:
        running = live_steps(journal_file.load(journal_path))
        if not running or check_mode or clock() - start >= timeout:
            break
        sleep(0.2)
    return {"stood_down": stood_down, "waited": round(clock() - start, 1),
            "still_running": ["%s (pid %s)" % (name, owner.get("pid")) for name, owner in running]}


def _stand_down(module: AnsibleModule, why: str) -> None:
    step = module.params.get("journal_step") or "this step"
    module.fail_json(msg="%s was not started, nothing was done: %s." % (step, why), stood_down=True)


def wait_for_turn(module: AnsibleModule, clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait until the module may act (see the module docstring), then fill its options from
    journal_inputs. Fails the module, having done nothing, when it must stand down. Returns the
    seconds waited. In check mode nothing is waited for: nothing was written to wait on."""
    p = module.params
    path, run, after = p.get("journal_path"), p.get("journal_run"), p.get("journal_after")
    start = clock()
    if run and not module.check_mode:
        limit = max(1, p.get("journal_watch_seconds") or 60)
        went = False
        while True:
            watched, mtime = read_watch(path)
            if watched is None and went:
                _stand_down(module, "its run stood it down (%s was removed: the run failed, or a new "
                                    "run took over)" % watch_path(path))
            went = went or watched is not None
            if watched is not None and watched != run:
                _stand_down(module, "the watch file %s names another run (%s), not %s"
                            % (watch_path(path), watched, run))
            if watched is not None and mtime is not None and clock() - mtime > limit:
                _stand_down(module, "its run stopped watching: %s was not touched for %d s (the "
                                    "controller is gone?)" % (watch_path(path), clock() - mtime))
            if watched is None and clock() - start > limit:
                _stand_down(module, "its run never gave the go (no %s for %d s)" % (watch_path(path), limit))
            if watched is not None and (not after or _after_done(module, path, after, run)):
                break
            sleep(CHECK_EVERY)
    if p.get("journal_inputs"):
        _apply_inputs(module, _load(module, path))
    return round(clock() - start, 3)


def _load(module: AnsibleModule, path: str) -> Dict[str, Any]:
    try:
        return journal_file.load(path) or {}
    except OmsError as exc:
        exc.fail(module)
    return {}


def _after_done(module: AnsibleModule, path: str, after: str, run: str) -> bool:
    record = (_load(module, path).get("steps") or {}).get(after) or {}
    if record.get("status") == "done":
        return True
    # a failure of an earlier run is no verdict: that step was launched again and will say
    if record.get("status") == "failed" and (record.get("owner") or {}).get("run") == run:
        _stand_down(module, "the step before it, %s, failed: %s" % (after, record.get("error") or "?"))
    return False


def _apply_inputs(module: AnsibleModule, journal: Dict[str, Any]) -> None:
    """Each option the task left unset takes the value the journal holds for it, named
    `step.key` (a key of that step's data)."""
    steps = journal.get("steps") or {}
    for option, ref in sorted(module.params["journal_inputs"].items()):
        step, dot, key = str(ref).partition(".")
        if option not in module.argument_spec or option.startswith("journal_") or not dot:
            module.fail_json(msg="journal_inputs: %s: %s must name an option of this module and "
                                 "step.key of the journal" % (option, ref))
        if module.params.get(option) is not None:
            continue
        value = (((steps.get(step) or {}).get("data")) or {}).get(key)
        if value is None:
            continue
        if module.argument_spec[option].get("type", "str") == "str":
            value = str(value)
        module.params[option] = value
