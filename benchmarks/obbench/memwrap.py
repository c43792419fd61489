"""Ansible interpreter wrapper: runs the module's Python, records its peak memory.

Ansible runs `<interpreter> <module>` (or feeds the module on stdin); this runs the real Python
with the same arguments and stdin/stdout, samples the child's VmHWM (its own peak resident set)
until it exits, reaps it with wait4 (ru_maxrss: the largest process of its tree, mysqldump
included) and appends one JSON line to $OBBENCH_MEMLOG.
"""

import json
import os
import subprocess
import sys
import threading
import time


def hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def main():
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable] + sys.argv[1:])
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            v = hwm(proc.pid)
            if v:
                peak[0] = max(peak[0], v)
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    done.set()
    th.join()
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    log = os.environ.get("OBBENCH_MEMLOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"argv": sys.argv[1:2], "rc": rc,
                                "seconds": round(time.monotonic() - t0, 3),
                                "own_peak_kb": peak[0] or None,
                                "tree_peak_kb": usage.ru_maxrss}) + "\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
