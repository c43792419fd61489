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


def descendants(pid):
    """Pids of the live descendants of `pid` (via /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    kids = [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


class TreeSampler(object):
    """Samples VmHWM of a process and of every descendant it starts, until stopped.

    wait4's ru_maxrss is no use here: on exec Linux keeps the pre-exec (forked parent's) peak in
    it, so every child of a big Python parent would look as big as the parent.
    """

    def __init__(self, pid, poll=0.02):
        self.pid = pid
        self.poll = poll
        self.own = 0
        self.others = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._done.is_set():
            v = vm_hwm_kb(self.pid)
            if v:
                self.own = max(self.own, v)
            for d in descendants(self.pid):
                v = vm_hwm_kb(d)
                if v:
                    self.others[d] = max(self.others.get(d, 0), v)
            self._done.wait(self.poll)

    def stop(self):
        self._done.set()
        self._thread.join()
        return self.own or None, max([self.own] + list(self.others.values())) or None


class Measured(object):
    """One child process run: wall seconds, exit code, own peak RSS and the tree's peak RSS."""

    def __init__(self, rc, seconds, own_peak_kb, tree_peak_kb, stdout, stderr):
        self.rc = rc
        self.seconds = seconds
        self.own_peak_kb = own_peak_kb      # VmHWM of the process itself (sampled, monotonic)
        self.tree_peak_kb = tree_peak_kb    # largest VmHWM among it and its descendants
        self.stdout = stdout
        self.stderr = stderr


def run_measured(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None,
                 cwd=None, poll=0.02):
    """Run `cmd`, sampling its and its descendants' VmHWM until it exits."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
    sampler = TreeSampler(proc.pid, poll)
    out_chunks, err_chunks = [], []
    readers = []
    for stream, sink in ((proc.stdout, out_chunks), (proc.stderr, err_chunks)):
        if stream is not None:
            t = threading.Thread(target=lambda s=stream, k=sink: k.append(s.read()), daemon=True)
            t.start()
            readers.append(t)
    for t in readers:
        t.join()
    # reap it ourselves (waitid WNOWAIT first: the sampler can still read its /proc entry)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    seconds = time.monotonic() - t0
    own, tree = sampler.stop()
    proc.wait()
    return Measured(proc.returncode, seconds, own, tree,
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
