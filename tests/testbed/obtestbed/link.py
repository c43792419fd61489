"""The shaped link of one instance: starts, steers, kills and restarts its proxy process
(obtestbed/linkproxy.py), which outlives the caller (a pytest run, a playbook run, the CLI)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from obtestbed.errors import TestbedError

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/testbed
START_TIMEOUT = 15
UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9,
         "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3}


def parse_rate(text):
    """'20MB/s', '20M', '500KB/s', '0' (no cap) -> bytes per second."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.match(r"^\s*([0-9.]+)\s*([KMG]?I?B?)\s*(/S)?\s*$", str(text).upper())
    if not m or m.group(2) not in UNITS:
        raise ValueError("rate %r: use e.g. 20MB/s, 500KB/s, 0 for no cap" % (text,))
    return int(float(m.group(1)) * UNITS[m.group(2)])


class Link(object):
    """The proxy in front of an instance's MetaDB: listen on 127.0.0.1:`port`, forward to
    127.0.0.1:`target_port`. Its files: `<dir>/control.sock`, `settings.json`, `pid`, `proxy.log`."""

    def __init__(self, directory, port, target_port, host="127.0.0.1"):
        self.dir = directory
        self.port = port
        self.target_port = target_port
        self.host = host
        self.control_path = os.path.join(directory, "control.sock")
        self.pid_file = os.path.join(directory, "pid")
        self.log_file = os.path.join(directory, "proxy.log")

    # -- the process ------------------------------------------------------------------------
    def pid(self):
        """The proxy's pid when it runs (its cmdline checked: a reused pid is not ours)."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read().split(b"\0")
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        if state in ("Z", "X") or b"obtestbed.linkproxy" not in cmdline or \
                self.dir.encode() not in cmdline:
            return None
        return pid

    def running(self):
        return self.pid() is not None

    def start(self, settings=None, max_seconds=6 * 3600):
        """Starts the proxy unless it runs (then only `settings` are applied); the settings file
        it finds is kept, so a restarted proxy shapes as before. Returns its status."""
        if not self.running():
            os.makedirs(self.dir, exist_ok=True)
            if os.path.exists(self.pid_file):
                os.unlink(self.pid_file)
            env = dict(os.environ)
            env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
            with open(self.log_file, "ab") as log:
                proc = subprocess.run(
                    [sys.executable, "-m", "obtestbed.linkproxy", "--daemon",
                     "--listen", "%s:%d" % (self.host, self.port),
                     "--target", "%s:%d" % (self.host, self.target_port),
                     "--dir", self.dir, "--max-seconds", str(max_seconds)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, check=False,
                    timeout=START_TIMEOUT)
            if proc.returncode != 0:
                raise TestbedError("the link proxy did not start (rc %d): %s"
                                   % (proc.returncode, self.log_tail()))
            self._wait_answering()
        if settings:
            return self.set(**settings)
        return self.status()

    def _wait_answering(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return self.status()
            except TestbedError:
                if time.monotonic() > deadline:
                    raise TestbedError("the link proxy did not answer on %s within %d s: %s"
                                       % (self.control_path, START_TIMEOUT, self.log_tail()))
                time.sleep(0.1)

    def kill(self, sig=signal.SIGKILL, timeout=10):
        """Kills the proxy (SIGKILL: its connections die with it, as with a crashed OBProxy);
        returns the pid killed, or None when it was not running."""
        pid = self.pid()
        if pid is None:
            return None
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while self.pid() == pid:
            if time.monotonic() > deadline:
                raise TestbedError("the link proxy %d did not exit within %d s" % (pid, timeout))
            time.sleep(0.05)
        return pid

    def stop(self):
        return self.kill(signal.SIGTERM)

    def restart(self):
        self.kill()
        return self.start()

    def log_tail(self, lines=10):
        try:
            with open(self.log_file, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    # -- control ----------------------------------------------------------------------------
    def _ask(self, request, timeout=5):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.control_path)
            sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise TestbedError("the link proxy does not answer on %s: %s" % (self.control_path,
                                                                             exc))
        finally:
            sock.close()
        try:
            answer = json.loads(data.decode("utf-8"))
        except ValueError:
            raise TestbedError("the link proxy answered %r" % data[:200])
        if not answer.get("ok"):
            raise TestbedError("the link proxy refused %s: %s" % (request, answer.get("error")))
        return answer

    def status(self):
        return self._ask({"op": "status"})

    def set(self, rate=None, latency_ms=None, refuse=None, reset_after_bytes=None):
        """Changes what is given, for open connections too; rate in bytes/s or '20MB/s'
        (0: no cap), latency_ms one way (a round trip gains twice it)."""
        settings = {}
        if rate is not None:
            settings["rate"] = parse_rate(rate)
        if latency_ms is not None:
            settings["latency_ms"] = float(latency_ms)
        if refuse is not None:
            settings["refuse"] = bool(refuse)
        if reset_after_bytes is not None:
            settings["reset_after_bytes"] = int(reset_after_bytes)
        return self._ask({"op": "set", "settings": settings})

    def clear(self):
        """No cap, no latency, no stall, no refusal: a plain pass-through."""
        self.stall(0)
        return self.set(rate=0, latency_ms=0, refuse=False, reset_after_bytes=0)

    def stall(self, seconds):
        """Holds all data, both ways, for `seconds` (0: resume now); connections stay open."""
        return self._ask({"op": "stall", "seconds": seconds})

    def reset(self):
        """RSTs every open connection now; returns how many."""
        return self._ask({"op": "reset"})["reset_now"]
