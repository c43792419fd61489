"""Timing and memory of child processes, and the statistics of repeated runs."""

import os
import statistics
import subprocess
import threading
import time


def vm_hwm_kb(pid):
    """VmHWM (peak resident set) of a live process in kB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Measured(object):
    """One child process run: wall seconds, exit code, own peak RSS and the tree's peak RSS."""

    def __init__(self, rc, seconds, own_peak_kb, tree_peak_kb, stdout, stderr):
        self.rc = rc
        self.seconds = seconds
        self.own_peak_kb = own_peak_kb      # VmHWM of the process itself (sampled, monotonic)
        self.tree_peak_kb = tree_peak_kb    # ru_maxrss of wait4: largest process in its tree
        self.stdout = stdout
        self.stderr = stderr


def run_measured(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None,
                 cwd=None, poll=0.02):
    """Run `cmd`, sampling its VmHWM until it exits, then reap it with wait4 for its rusage."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
    peak = [0]
    done = threading.Event()

    def sampler():
        while not done.is_set():
            v = vm_hwm_kb(proc.pid)
            if v:
                peak[0] = max(peak[0], v)
            done.wait(poll)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    out_chunks, err_chunks = [], []
    readers = []
    for stream, sink in ((proc.stdout, out_chunks), (proc.stderr, err_chunks)):
        if stream is not None:
            t = threading.Thread(target=lambda s=stream, k=sink: k.append(s.read()), daemon=True)
            t.start()
            readers.append(t)
    for t in readers:
        t.join()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    th.join()
    return Measured(proc.returncode, seconds, peak[0] or None, usage.ru_maxrss,
                    b"".join(out_chunks) if out_chunks else b"",
                    b"".join(err_chunks) if err_chunks else b"")


def stats(values):
    """median, min, max and spread ((max - min) / median) of a list of numbers."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = statistics.median(values)
    return {"median": round(med, 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "spread": round((max(values) - min(values)) / med, 3) if med else 0.0,
            "n": len(values), "values": [round(v, 3) for v in values]}


def machine_load():
    """Load averages and core count, to put today's noise next to the numbers."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        one = five = fifteen = None
    return {"cores": os.cpu_count(), "loadavg_1m": one, "loadavg_5m": five,
            "loadavg_15m": fifteen}
