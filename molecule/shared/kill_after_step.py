"""Run a command (the upgrade playbook) and kill it, as a lost controller would be, once the
journal says a step is done.

Usage: kill_after_step.py JOURNAL STEP -- COMMAND...

The command runs in its own process group, and the whole group gets SIGKILL: no handler, no
rescue, no `always:` runs, exactly like a controller whose machine died. Exits 0 when the kill
happened after STEP was done, 1 when the command ended by itself first (the test is then void).
"""
import json
import os
import signal
import subprocess
import sys
import time


def step_done(journal, step):
    try:
        with open(journal) as handle:
            return json.load(handle).get("steps", {}).get(step, {}).get("status") == "done"
    except (OSError, ValueError):
        return False  # not written yet, or caught between write and rename


def main():
    journal, step, sep = sys.argv[1], sys.argv[2], sys.argv[3]
    command = sys.argv[4:]
    if sep != "--" or not command:
        sys.exit(__doc__)
    proc = subprocess.Popen(command, start_new_session=True)
    while proc.poll() is None:
        if step_done(journal, step):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print("killed the controller (process group %d) after step %r was done" % (proc.pid, step))
            return 0
        time.sleep(0.1)
    print("the command ended (rc=%d) before step %r was done: nothing was killed" % (proc.returncode, step))
    return 1


if __name__ == "__main__":
    sys.exit(main())
