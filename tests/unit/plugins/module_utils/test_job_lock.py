"""A dump or restore waits for the one an earlier run left running, and not for a dead one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import os
import signal
import subprocess
import sys
import textwrap
import time

from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock

HOLD = textwrap.dedent("""
    import sys, time
    from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock
    with JobLock(sys.argv[1], "the dump of x"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def holder(backup_dir, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, backup_dir, str(seconds)], stdout=subprocess.PIPE,
                            universal_newlines=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_waits_for_a_running_job_and_says_so(tmp_path):
    backup_dir = str(tmp_path / "metadb-1")
    proc = holder(backup_dir, 2)
    said = []
    start = time.time()
    with JobLock(backup_dir, "the restore of x", said.append) as lock:
        pass  # got only once the other job left its lock (after its 2 s)
    proc.wait()
    assert time.time() - start >= 1 and lock.waited >= 1
    assert "the restore of x waits for the dump of x, still running" in said[0]
    assert os.path.exists(str(tmp_path / ".oms_metadb_job.lock"))


def test_a_killed_job_does_not_hold_it(tmp_path):
    backup_dir = str(tmp_path / "metadb-1")
    proc = holder(backup_dir, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    said = []
    with JobLock(backup_dir, "the dump of x", said.append) as lock:
        assert lock.waited == 0.0 and said == []
