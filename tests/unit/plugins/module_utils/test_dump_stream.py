"""The dump verified while it is written: DumpScanner on chunks, run_dump_to_file on a fake mysqldump."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import dump_files  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import mysql_clients  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

TABLE = b"DROP TABLE IF EXISTS `%d`;\nCREATE TABLE `t%d` (\n  `id` int(11) NOT NULL\n);\nINSERT INTO `t%d` VALUES (1);\n"
VIEW = b"/*!50001 CREATE TABLE `v` (\n  `id` tinyint NOT NULL\n) ENGINE=MyISAM */;\n"
TAIL = b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2024-05-01 10:00:00\n"


def sample(tables=3, complete=True, filler=0):
    body = b"CREATE TABLE `first` (x int);\n" + VIEW
    for i in range(tables):
        body += TABLE % (i, i, i)
        if filler:
            body += b"INSERT INTO `t` VALUES ('" + b"x" * filler + b"');\n"
    return body + (TAIL if complete else b"INSERT INTO `t0` VALUES (3")


def scan_in_chunks(data, size):
    scanner = dump_files.DumpScanner()
    for i in range(0, len(data), size):
        scanner.feed(data[i:i + size])
    return scanner.result()


@pytest.mark.parametrize("complete", [True, False])
def test_scanner_same_answer_for_every_chunk_size(complete):
    data = sample(4, complete)
    whole = dump_files.scan_dump(io.BytesIO(data))
    assert whole["create_tables"] == 5  # `first` on the first line counts, the view's does not
    assert whole["completed"] is complete
    for size in list(range(1, 40)) + [len(data) - 1, len(data), len(data) + 1]:
        assert scan_in_chunks(data, size) == whole, size


def test_scanner_every_split_point_of_create_table_and_completion_line():
    data = sample(2)
    whole = dump_files.scan_dump(io.BytesIO(data))
    for cut in range(len(data) + 1):
        scanner = dump_files.DumpScanner()
        scanner.feed(data[:cut])
        scanner.feed(b"")
        scanner.feed(data[cut:])
        assert scanner.result() == whole, cut


def test_scanner_tail_longer_than_kept_bytes_and_big_chunks():
    data = sample(50, filler=dump_files.TAIL_BYTES + 100)
    whole = scan_in_chunks(data, len(data))
    assert whole["create_tables"] == 51 and whole["completed"]
    assert scan_in_chunks(data, dump_files.TAIL_BYTES - 1) == whole
    assert scan_in_chunks(data, 65536) == whole
    assert whole["content_bytes"] == len(data)


def test_scanner_empty_stream():
    result = dump_files.DumpScanner().result()
    assert result == {"create_tables": 0, "last_line": "", "completed": False, "content_bytes": 0,
                      "header_host": None, "header_database": None}
    assert "holds no SQL" in dump_files.scan_problems("f", result, 0)[0]


@pytest.fixture
def fake_mysqldump(tmp_path):
    """A 'mysqldump' that writes the file named by its last argument, slowly enough to split reads."""
    script = tmp_path / "fake_mysqldump.py"
    script.write_text(
        "import sys, time\n"
        "data = open(sys.argv[-1], 'rb').read()\n"
        "rc = int(sys.argv[-2])\n"
        "out = sys.stdout.buffer\n"
        "for i in range(0, len(data), 70001):\n"
        "    out.write(data[i:i + 70001])\n"
        "    out.flush()\n"
        "sys.exit(rc)\n")

    def argv(data, rc=0):
        src = tmp_path / "source.sql"
        src.write_bytes(data)
        return [sys.executable, str(script), str(rc), str(src)]
    return argv


def decompress(path, compress):
    raw = open(str(path), "rb").read()
    if compress == "gzip":
        return gzip.decompress(raw)
    if compress == "zstd":
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_run_dump_to_file_hashes_stored_bytes_and_scans_sql(tmp_path, fake_mysqldump, compress):
    if compress == "zstd" and not shutil.which("zstd"):
        pytest.skip("no zstd")
    data = sample(40, filler=50000)  # about 2 MB: many chunks through real pipes
    out = tmp_path / ("dump" + dump_files.SUFFIXES[compress])
    run = mysql_clients.run_dump_to_file(fake_mysqldump(data), str(out), compress)
    stored = open(str(out), "rb").read()
    assert run["sha256"] == hashlib.sha256(stored).hexdigest()
    assert run["size"] == len(stored) == os.path.getsize(str(out))
    assert decompress(out, compress) == data
    assert run["scan"] == dump_files.scan_dump(io.BytesIO(data))
    assert run["scan"]["create_tables"] == 41 and run["scan"]["completed"]
    assert stat.S_IMODE(os.stat(str(out)).st_mode) == 0o600
    # and what the stream said is what reading the file back says
    assert dump_files.check_dump_content(str(out), compress, 41) == []
    assert dump_files.sha256_file(str(out)) == (run["sha256"], run["size"])


@pytest.mark.parametrize("compress", ["none", "gzip"])
def test_truncated_dump_is_seen_in_the_stream(tmp_path, fake_mysqldump, compress):
    out = tmp_path / "dump.sql"
    run = mysql_clients.run_dump_to_file(fake_mysqldump(sample(3, complete=False)), str(out), compress)
    assert not run["scan"]["completed"]
    assert "truncated" in dump_files.scan_problems(str(out), run["scan"], 4)[0]


def test_failing_mysqldump_is_an_error(tmp_path, fake_mysqldump):
    with pytest.raises(OmsError) as e:
        mysql_clients.run_dump_to_file(fake_mysqldump(sample(3), rc=2), str(tmp_path / "d.sql"))
    assert "mysqldump of" in e.value.msg and "rc 2" in e.value.msg


def test_failing_compressor_is_an_error_and_nothing_hangs(tmp_path, fake_mysqldump):
    with pytest.raises(OmsError) as e:
        mysql_clients.run_dump_to_file(fake_mysqldump(sample(40, filler=50000)), str(tmp_path / "d.sql.gz"),
                                       "gzip", paths={"gzip": shutil.which("false")})
    assert "gzip of the dump" in e.value.msg


def test_existing_file_is_never_overwritten(tmp_path, fake_mysqldump):
    out = tmp_path / "d.sql"
    out.write_bytes(b"keep")
    with pytest.raises(OSError):  # O_EXCL; the caller names a fresh temporary file
        mysql_clients.run_dump_to_file(fake_mysqldump(sample(1)), str(out))
    assert out.read_bytes() == b"keep"


def test_run_jobs_workers_take_jobs_in_order_and_outcomes_keep_positions():
    import threading
    import time
    from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
    started = []
    running = []
    peak = [0]
    lock = threading.Lock()

    def job(n, fail=False):
        def call():
            with lock:
                started.append(n)
                running.append(n)
                peak[0] = max(peak[0], len(running))
            time.sleep(0.02)
            with lock:
                running.remove(n)
            if fail:
                raise ValueError(n)
            return n
        return call

    outcomes = metadb_dump.run_jobs([job(0), job(1, fail=True), job(2)], parallel=True, workers=2)
    assert [o[0] for o in outcomes] == [0, None, 2]
    assert isinstance(outcomes[1][1], ValueError)
    assert peak[0] == 2 and started[2] == 2
    outcomes = metadb_dump.run_jobs([job(0), job(1), job(2)], parallel=True)
    assert [o[0] for o in outcomes] == [0, 1, 2] and peak[0] == 3


def test_writeback_starts_as_the_dump_grows_and_leaves_the_bytes_alone(tmp_path, fake_mysqldump, monkeypatch):
    """The kernel is asked to write each WRITEBACK_EVERY bytes back as they come (so that the
    final fsync waits for little): every range once, in order, and the file as mysqldump wrote it."""
    ranges = []
    real = mysql_clients._start_writeback
    monkeypatch.setattr(mysql_clients, "WRITEBACK_EVERY", 100000)
    monkeypatch.setattr(mysql_clients, "_start_writeback",
                        lambda fd, offset, length: ranges.append((offset, length)) or real(fd, offset, length))
    data = sample(40, filler=50000)
    out = tmp_path / "dump.sql"
    run = mysql_clients.run_dump_to_file(fake_mysqldump(data), str(out))
    assert open(str(out), "rb").read() == data and run["size"] == len(data)
    assert len(ranges) >= len(data) // 1000000  # chunks of up to 1 MiB, each past the threshold
    assert ranges[0][0] == 0
    assert all(a[0] + a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(length >= 100000 for _offset, length in ranges)
    assert ranges[-1][0] + ranges[-1][1] <= len(data)


def test_a_dump_written_with_pauses_is_read_to_its_last_byte(tmp_path):
    """mysqldump writes the file itself and the reader follows it: the reader catches up and
    waits several times, and still hashes and scans every byte written before the exit."""
    data = sample(30, filler=20000)
    src = tmp_path / "source.sql"
    src.write_bytes(data)
    script = tmp_path / "slow.py"
    script.write_text("import sys, time\ndata = open(sys.argv[1], 'rb').read()\nout = sys.stdout.buffer\n"
                      "for i in range(0, len(data), 100000):\n"
                      "    out.write(data[i:i + 100000]); out.flush(); time.sleep(0.05)\n")
    out = tmp_path / "dump.sql"
    run = mysql_clients.run_dump_to_file([sys.executable, str(script), str(src)], str(out))
    assert run["sha256"] == hashlib.sha256(data).hexdigest() and run["size"] == len(data)
    assert run["scan"] == dump_files.scan_dump(io.BytesIO(data))
    assert open(str(out), "rb").read() == data
