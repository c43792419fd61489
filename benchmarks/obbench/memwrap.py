"""Ansible interpreter wrapper: runs the module's Python, records its peak memory.

Ansible runs `<interpreter> <module>` (or feeds the module on stdin); this runs the real Python
with the same arguments and stdin/stdout, samples the child's VmHWM (its own peak resident set)
and of its descendants (mysqldump, the compressors) until it exits, and appends one JSON line to
$OBBENCH_MEMLOG.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from obbench.measure import TreeSampler  # noqa: E402


def main():
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable] + sys.argv[1:])
    sampler = TreeSampler(proc.pid)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    own, tree = sampler.stop()
    rc = proc.wait()
    log = os.environ.get("OBBENCH_MEMLOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"argv": sys.argv[1:2], "rc": rc,
                                "seconds": round(time.monotonic() - t0, 3),
                                "own_peak_kb": own, "tree_peak_kb": tree}) + "\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
