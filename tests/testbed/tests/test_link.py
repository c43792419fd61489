"""The shaped link's proxy, on its own: a real proxy process between real sockets on the loopback
(no Docker, no MetaDB). Rate, latency, stall, reset, refusal, kill and restart, measured."""

import os
import socket
import threading
import time

import pytest

from obtestbed import errors
from obtestbed.link import Link, parse_rate
from obtestbed.linkproxy import clean_settings, loopback


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server(object):
    """A loopback server: each connection reads one line; `SEND n` answers n bytes, anything
    else is echoed back."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    @staticmethod
    def _one(conn):
        conn.settimeout(30)
        try:
            f = conn.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    return
                if line.startswith(b"SEND "):
                    left = int(line.split()[1])
                    block = b"x" * 65536
                    while left > 0:
                        conn.sendall(block[:min(left, len(block))])
                        left -= min(left, len(block))
                else:
                    conn.sendall(line)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def link(tmp_path, server):
    lk = Link(str(tmp_path / "link"), free_port(), server.port)
    lk.start(max_seconds=120)  # stops by itself even if this test is killed
    yield lk
    lk.kill()


def connect(lk, timeout=10):
    c = socket.create_connection(("127.0.0.1", lk.port), timeout=timeout)
    return c, c.makefile("rb")


def receive(lk, nbytes):
    """Seconds to receive nbytes through the link."""
    c, f = connect(lk)
    try:
        started = time.monotonic()
        c.sendall(b"SEND %d\n" % nbytes)
        got = 0
        while got < nbytes:
            chunk = f.read1(65536)
            assert chunk, "connection closed after %d of %d bytes" % (got, nbytes)
            got += len(chunk)
        return time.monotonic() - started
    finally:
        c.close()


def round_trip(lk, conn=None):
    c, f = conn or connect(lk)
    started = time.monotonic()
    c.sendall(b"ping\n")
    assert f.readline() == b"ping\n"
    return time.monotonic() - started


def test_rates_parse():
    assert parse_rate("20MB/s") == 20000000
    assert parse_rate("500KB/s") == 500000
    assert parse_rate("1MiB/s") == 1048576
    assert parse_rate("0") == 0
    with pytest.raises(ValueError):
        parse_rate("fast")


def test_only_loopback_and_known_settings():
    assert loopback("127.0.0.1:3306") == ("127.0.0.1", 3306)
    assert loopback("127.3.2.1:1") == ("127.3.2.1", 1)
    with pytest.raises(ValueError):
        loopback("10.0.0.1:3306")
    with pytest.raises(ValueError):
        clean_settings({"rate_mb": 3})
    with pytest.raises(ValueError):
        clean_settings({"rate": -1})


def test_passes_bytes_through_unshaped(link):
    assert receive(link, 2000000) < 5
    assert link.status()["bytes_down"] >= 2000000


def test_caps_each_connection_rate(link):
    link.set(rate="2MB/s")
    seconds = receive(link, 3000000)
    # 1.5 s at 2 MB/s; the pacer may burst one 4 KB-slice early, a loaded machine only slows it
    assert 1.5 * 0.9 <= seconds <= 1.5 * 1.6, seconds
    # the cap is per connection: two at once take about as long as one
    times = []
    threads = [threading.Thread(target=lambda: times.append(receive(link, 2000000)))
               for _i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(times) == 2 and max(times) <= 1.0 * 1.7, times


def test_adds_latency_each_way(link):
    conn = connect(link)
    base = min(round_trip(link, conn) for _i in range(5))
    link.set(latency_ms=50)
    delayed = min(round_trip(link, conn) for _i in range(5))
    conn[0].close()
    # 50 ms each way: a round trip gains 100 ms
    assert delayed - base >= 0.095, (base, delayed)
    assert delayed < 0.5, delayed


def test_stall_holds_data_then_resumes(link):
    conn = connect(link)
    round_trip(link, conn)
    link.stall(1.0)
    assert link.status()["stalled"] is True
    took = round_trip(link, conn)
    assert 0.8 <= took <= 3, took  # held until the stall ended, on the same connection
    assert round_trip(link, conn) < 0.5
    link.stall(30)
    link.stall(0)  # resumed early
    assert round_trip(link, conn) < 0.5
    conn[0].close()


def test_reset_drops_open_connections(link):
    c, f = connect(link)
    round_trip(link, (c, f))
    assert link.reset() == 1
    with pytest.raises(OSError):
        c.sendall(b"ping\n")
        if not f.readline():
            raise ConnectionResetError("closed")
    c.close()
    assert round_trip(link) < 0.5  # new connections work again


def test_reset_after_bytes(link):
    link.set(reset_after_bytes=500000)
    with pytest.raises((OSError, AssertionError)):
        receive(link, 3000000)
    assert link.status()["resets"] >= 1
    link.set(reset_after_bytes=0)
    receive(link, 3000000)


def test_refuse(link):
    link.set(refuse=True)
    with pytest.raises(OSError):  # at connect or at the first read: the RST may come first
        with socket.create_connection(("127.0.0.1", link.port), timeout=5) as c:
            c.sendall(b"ping\n")
            if not c.recv(10):
                raise ConnectionResetError("closed")
    assert link.status()["refused"] >= 1
    link.set(refuse=False)
    assert round_trip(link) < 0.5


def test_killed_and_restarted_keeps_its_shape(link):
    link.set(rate="3MB/s", latency_ms=5)
    conn = connect(link)
    pid = link.kill()
    assert pid and not link.running()
    with pytest.raises(OSError):
        conn[0].sendall(b"ping\n")
        if not conn[1].readline():
            raise ConnectionResetError("closed")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", link.port), timeout=2)
    with pytest.raises(errors.TestbedError):
        link.status()
    status = link.start()
    assert status["pid"] != pid
    assert status["settings"]["rate"] == 3000000 and status["settings"]["latency_ms"] == 5
    assert 1.0 * 0.9 <= receive(link, 3000000) <= 1.0 * 1.7


def test_stops_by_itself(tmp_path, server):
    lk = Link(str(tmp_path / "short"), free_port(), server.port)
    lk.start(max_seconds=1)
    assert lk.running()
    deadline = time.monotonic() + 10
    while lk.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not lk.running()
    assert not os.path.exists(lk.control_path)


def test_instance_behind_the_link():
    """An instance deployed behind the link: config.yaml points OMS at the proxy, which reaches
    the instance's engine (OMS_TESTBED_METADB's, else MariaDB); the proxy outlives a kill through
    `up`, and leaves with --no-link. Its own instance: t1 need not be up."""
    import yaml  # pylint: disable=import-outside-toplevel
    from obtestbed import Testbed, naming  # pylint: disable=import-outside-toplevel

    bed = Testbed(metadb_engine=naming.metadb_engine_env() or naming.MARIADB)
    name = "tlink"
    try:
        desc = bed.reset(name, link=True)
        engine = desc["metadb"]["engine"]
        with open(desc["config_file"]) as f:
            conf = yaml.safe_load(f)
        assert conf["oms_meta_port"] == desc["link"]["port"] == naming.link_port(name)
        assert desc["metadb"]["port"] == desc["link"]["port"]
        assert desc["link"]["target_port"] == naming.metadb_spec(engine).port
        assert bed.host_status(name) == "ONLINE"
        lk = bed.link(name)
        assert lk.status()["accepted"] >= 1  # OMS came through it
        lk.set(rate="5MB/s", latency_ms=1)
        pid = lk.kill()
        bed.up([name])  # serving, but its link is down: brought back, with its shape
        status = lk.status()
        assert status["pid"] != pid and status["settings"]["rate"] == 5000000
        desc = bed.reset(name, link=False)
        with open(desc["config_file"]) as f:
            assert yaml.safe_load(f)["oms_meta_port"] == naming.metadb_spec(engine).port
        assert desc["link"] is None and not lk.running()
    finally:
        bed.down([name])
    assert not bed.link(name).running()
