"""benchmarks/obbench/seed._load_worker: a loader whose client fails ends at once with its error.

The client is a real process standing in for `mysql` (same argv, same FIFO): one that exits before
opening the FIFO (the case that hung for ever), one that reads it all.
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))

pytest.importorskip("pymysql")
from obbench import seed  # noqa: E402  pylint: disable=wrong-import-position
from obbench.db import BenchFailure  # noqa: E402  pylint: disable=wrong-import-position

FAILING_CLIENT = [sys.executable, "-c",
                  "import sys; sys.stderr.write('ERROR 2013 (HY000): Lost connection\\n'); sys.exit(1)"]
# reads the FIFO named in the -e statement to its end and counts the rows it got
READING_CLIENT = [sys.executable, "-c",
                  "import re, sys\n"
                  "path = re.search(r\"INFILE '([^']+)'\", sys.argv[-1]).group(1)\n"
                  "n = sum(1 for _line in open(path))\n"
                  "sys.stderr.write('rows=%d\\n' % n)\n"]


def job(client, rows=20000):
    return (client, "cm_hb", "heatbeat_sequence", "gmt_created, gmt_modified", 7, 0, rows)


def test_a_client_that_exits_before_opening_the_fifo_fails_the_loader_at_once():
    started = time.time()
    with pytest.raises(BenchFailure) as err:
        seed._load_worker(job(FAILING_CLIENT))
    assert time.time() - started < 10
    assert "Lost connection" in str(err.value) and "rc 1" in str(err.value)


def test_a_client_that_reads_gets_every_row():
    table, rows, written, _secs = seed._load_worker(job(READING_CLIENT, 12345))
    assert (table, rows) == ("heatbeat_sequence", 12345)
    assert written == sum(len(t) for t in seed.generate(7, "heatbeat_sequence", 0, 12345))


def test_the_pool_reports_the_first_failure_without_waiting_for_the_others(tmp_path):
    pid_file = tmp_path / "slow.pid"
    slow = [sys.executable, "-c", "import os, sys, time; open(%r, 'w').write(str(os.getpid())); time.sleep(30)"
            % str(pid_file)]
    started = time.time()
    with pytest.raises(BenchFailure):
        seed.run_loaders([job(slow), job(FAILING_CLIENT)], 2)
    assert time.time() - started < 20
    # the stopped loader's client dies with it: nothing is left waiting for a FIFO
    deadline = time.time() + 10
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    if not pid_file.exists():
        return  # the loader was stopped before it started its client: nothing to outlive it
    pid = int(pid_file.read_text())
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the slow client %d outlived its loader" % pid)
