"""PID 1 of the simulated container: a supervisord-like process that keeps the container up.

[doc] zh-CN/400.deployment-guide/900.check-the-deployment.md (V4.1.1, V4.2.0): supervisord runs
nginx, oms_console, oms_drc_cm, oms_drc_supervisor and sshd, each RUNNING when healthy;
1100.o-m-guide/100.manage-oms-services.md: `supervisorctl restart oms_console` and so on. So a
component that fails does not end the container: it is restarted, and the failure shows only
through health. The simulator folds every component into one `serve` process.
[guess] the control socket's path and its tiny text protocol (status, info, stop, start, restart), that
it answers only once the boot phase is over, the restart back-off, and that this process logs to
a file only (docker logs keeps the server's lines, whose last is the start line [obd]).
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from oms_sim import profile
from oms_sim.logs import Log

SOCKET_PATH = "/var/run/supervisor.sock"
SERVING_FLAG = "/tmp/oms_sim_serving"  # the server writes it once it serves (container-local)
BACKOFF = (1, 2, 4, 5)  # [guess] seconds before a restart after 1, 2, 3, 4+ quick exits


class Supervisor(object):
    def __init__(self, log):
        self.log = log
        self.lock = threading.RLock()
        self.child = None
        self.wanted = True      # start/stop from docker_init.sh
        self.stopping = threading.Event()
        self.failures = 0
        self.changed_at = time.time()  # the last spawn or stop, for supervisorctl's status line

    # -- the supervised server -------------------------------------------------------------
    def spawn(self):
        _remove(SERVING_FLAG)
        self.child = subprocess.Popen([sys.executable, "-m", "oms_sim", "serve"])
        self.changed_at = time.time()
        self.log("spawned: 'oms_console' (the simulated components) with pid %d" % self.child.pid)

    def terminate(self):
        with self.lock:
            child = self.child
            if child is None or child.poll() is not None:
                return
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        self.changed_at = time.time()
        _remove(SERVING_FLAG)

    def status(self):
        with self.lock:
            if self.child is None or self.child.poll() is not None:
                return "STOPPED" if not self.wanted else "BACKOFF"
            return "RUNNING" if os.path.exists(SERVING_FLAG) else "STARTING"

    def info(self):
        """status, the server's pid (0 when none) and when it last started or stopped."""
        with self.lock:
            pid = self.child.pid if self.child is not None and self.child.poll() is None else 0
            return "%s %d %.3f" % (self.status(), pid, self.changed_at)

    def control(self, command):
        if command == "status":
            return self.status()
        if command == "info":  # for supervisorctl status (supervisorctl.py)
            return self.info()
        if command in ("stop", "restart"):
            with self.lock:
                self.wanted = command == "restart"
            self.log("%s requested" % command)
            self.terminate()
            if command == "restart":
                with self.lock:
                    self.failures = 0
                    self.spawn()
            return "OK"
        if command == "start":
            with self.lock:
                self.wanted = True
                if self.child is None or self.child.poll() is not None:
                    self.failures = 0
                    self.spawn()
            return "OK"
        return "ERROR unknown command"

    def watch(self):
        while not self.stopping.is_set():
            with self.lock:
                child, wanted = self.child, self.wanted
                code = child.poll() if child is not None else None
            if wanted and child is not None and code is not None:
                self.failures += 1
                delay = BACKOFF[min(self.failures, len(BACKOFF)) - 1]
                self.log("exited: oms_console (exit status %s; not expected), restarting in %d s"
                         % (code, delay))
                with self.lock:
                    self.child = None
                if self.stopping.wait(delay):
                    break
                with self.lock:
                    if self.wanted and self.child is None:
                        self.spawn()
            self.stopping.wait(0.2)

    # -- the control socket ----------------------------------------------------------------
    def serve_socket(self, boot_seconds):
        # [guess] supervisorctl answers only once the container finished booting.
        if self.stopping.wait(boot_seconds):
            return
        _remove(SOCKET_PATH)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(SOCKET_PATH)
        server.listen(8)
        server.settimeout(0.5)
        self.log("supervisor control socket %s ready" % SOCKET_PATH)
        while not self.stopping.is_set():
            try:
                conn, dummy = server.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
        server.close()
        _remove(SOCKET_PATH)

    def _answer(self, conn):
        with conn:
            try:
                command = conn.recv(256).decode("utf-8", "replace").strip()
                conn.sendall((self.control(command) + "\n").encode("utf-8"))
            except OSError:
                pass


def request(command, timeout=30):
    """What docker_init.sh asks the supervisor; raises OSError when it is not running."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(SOCKET_PATH)
        conn.sendall(command.encode("utf-8"))
        return conn.recv(256).decode("utf-8", "replace").strip()
    finally:
        conn.close()


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def run():
    log = Log("supervisord.log")
    log.quiet = True  # [guess] supervisord's own lines go to its log file, not to docker logs
    sup = Supervisor(log)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sup.stopping.set())
    _remove(SOCKET_PATH)
    durations = profile.load()
    log("supervisord started (boot %.1f s, docker_init.sh %.1f s)"
        % (durations["boot_seconds"], durations["init_seconds"]))
    with sup.lock:
        sup.spawn()
    threading.Thread(target=sup.serve_socket, args=(durations["boot_seconds"],),
                     daemon=True).start()
    sup.watch()
    log("SIGTERM received: stopping the components")
    with sup.lock:
        sup.wanted = False
    sup.terminate()
    return 0
