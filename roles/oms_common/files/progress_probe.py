# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for an Ansible async job, at most a few seconds, and say how it is doing.

Run on the managed host by roles/oms_common/tasks/progress.yml (python -c, no module_utils):

    progress_probe.py [--journal JOURNAL] [--beat LOCK_FILE] RESULTS_FILE WAIT_SECONDS [GLOB...]

Checks the async job's results file every CHECK_EVERY seconds and returns as soon as the job has
finished, or after WAIT_SECONDS otherwise, printing one JSON line:
{"finished": bool, "elapsed": seconds since the job started, "bytes": size of the files the globs
match (dumps being written, a log growing), "result": the job's result once finished}. So the
role's loop needs no pause of its own: the job's end is seen within CHECK_EVERY seconds, a progress
line still comes every WAIT_SECONDS, and the result needs no async_status round trip after it (one
task less per long step inside the downtime window). The result is the module's own output, which
AnsibleModule already stripped of no_log values; its `invocation` (the arguments) is left out.

With --journal, it also says which step the job is at: "step", the step the run's journal
recorded last as started (the window, oms_upgrade_window, records each of its steps there).

With --beat, it touches that file (the run lock, when it exists) about every second while it
waits: the lock's heartbeat, by which the next run judges on this host whether the holder is alive
(module_utils/run_lock.py).
"""

from __future__ import absolute_import, division, print_function

import glob
import json
import os
import sys
import time

TOUCH_EVERY = 1.0
CHECK_EVERY = 0.1  # a stat() every 0.1 s costs nothing; the job's end is seen 0.05 s sooner on average


def plain(value):
    """The result without ansible-core's tagged objects: 2.19 writes a module's warnings and
    deprecations into the async results file as {"__ansible_type": "WarningSummary", "event":
    {"msg": ...}}, which the controller's from_json refuses to decode ("Object of type 'Event' is
    not JSON deserializable"). Each becomes its message, a plain string."""
    if isinstance(value, dict):
        if "__ansible_type" in value:
            event = value.get("event") if isinstance(value.get("event"), dict) else value
            return str(event.get("msg", "")) or json.dumps(
                dict((k, v) for k, v in value.items() if k != "__ansible_type"), default=str)
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def job_result(path, last):
    """(result or None, started_at, stamp): reads the results file only when it changed since
    `last`; the result only once the job has finished."""
    try:
        info = os.stat(path)
    except OSError:
        return None, None, None
    stamp = (info.st_mtime, info.st_size)
    if stamp == last:
        return None, info.st_mtime, stamp
    try:
        with open(path) as handle:
            result = json.load(handle)
    except (OSError, IOError, ValueError):
        return None, info.st_mtime, None  # caught mid-write: read it again next time
    # async_wrapper writes {"started": 1, "finished": 0} first and the module's result at the end
    if result.get("finished") == 1 or "started" not in result:
        result.pop("invocation", None)
        result = plain(result)
        result["finished"] = 1
        return result, info.st_mtime, stamp
    return None, info.st_mtime, stamp


def written(patterns):
    total = 0
    for pattern in patterns:
        for path in glob.glob(pattern):
            try:
                if os.path.isfile(path):
                    total += os.path.getsize(path)
            except OSError:
                pass  # removed between glob and stat
    return total


def touch(path):
    try:
        os.utime(path, None)  # never creates it: a removed lock is released
    except OSError:
        pass


def current_step(journal):
    """The step the journal shows running (the last one started and not ended), or None."""
    try:
        with open(journal) as handle:
            steps = json.load(handle).get("steps") or {}
    except (OSError, IOError, ValueError, AttributeError):
        return None
    running = [name for name, record in steps.items()
               if isinstance(record, dict) and record.get("status") == "started"]
    return running[-1] if running else None


def probe(results_file, wait, patterns, check_every=CHECK_EVERY, clock=time.time, sleep=time.sleep,
          journal=None, beat=None):
    deadline = clock() + max(0.0, wait)
    started, last = None, None
    touched = None
    while True:
        if beat and (touched is None or clock() - touched >= TOUCH_EVERY):
            touch(beat)
            touched = clock()
        result, mtime, last = job_result(results_file, last)
        finished = result is not None
        if started is None and mtime is not None and not finished:
            started = mtime
        if finished:
            # the final write moved the mtime: the job started when its first write happened
            started = started if started is not None else mtime
            break
        if clock() >= deadline:
            break
        sleep(min(check_every, max(0.0, deadline - clock())))
    now = clock()
    out = {"finished": finished,
           "elapsed": int(round(now - started)) if started is not None else 0,
           "bytes": written(patterns)}
    if journal:
        out["step"] = current_step(journal)
    if finished:
        out["result"] = result
    return out


def main(argv):
    opts = {"--journal": None, "--beat": None}
    while len(argv) > 2 and argv[1] in opts:
        opts[argv[1]], argv = argv[2], argv[:1] + argv[3:]
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps(probe(argv[1], float(argv[2]), argv[3:], journal=opts["--journal"], beat=opts["--beat"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
