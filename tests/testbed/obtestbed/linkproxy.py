"""The shaped link's proxy process: a TCP proxy on the loopback between the OMS host and the
MetaDB, as OBProxy sits on a real deployment's path (`python -m obtestbed.linkproxy`).

Why our own: tc/netem needs qdiscs this kernel does not have ("Specified qdisc kind is unknown"
on lo, as root), Debian has no toxiproxy, and trickle (LD_PRELOAD) shapes one client process, not
the JVM-like OMS server inside its container nor the resets and stalls a test needs.

Per connection and per direction it can cap the rate, delay every byte by a one-way latency (a
round trip gains twice it, as netem's delay on lo), stall (data held, connections open, until a
deadline), reset (RST) every open connection at once or each one after N bytes from the MetaDB,
and refuse new connections. It is steered while it runs over a unix socket (one JSON line asked,
one answered; obtestbed/link.py is the client) and keeps its settings in a file, so a restarted
proxy shapes as the killed one did. It exits by itself after --max-seconds.
Stdlib only: it runs on the test bed's Python, nothing to install.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import time

READ_SIZE = 65536
QUEUE_CHUNKS = 256          # per direction: the data in flight while it waits out its latency
CONNECT_TIMEOUT = 10.0
MAX_STALL_SECONDS = 3600    # a test that dies mid-stall never leaves the link stalled for long
# the pacer's credit: time a connection lost waiting for the CPU (a loaded machine schedules the
# proxy late) is made up for up to this much, as a token bucket's depth would; no more, so an
# idle connection cannot burst past its rate
BURST_SECONDS = 0.02
DEFAULTS = {"rate": 0, "latency_ms": 0.0, "stall_until": 0.0, "refuse": False,
            "reset_after_bytes": 0}


def loopback(address):
    """host:port on 127.0.0.0/8 only: the link never reaches or listens beyond this machine."""
    host, _sep, port = address.rpartition(":")
    if ipaddress.ip_address(host) not in ipaddress.ip_network("127.0.0.0/8"):
        raise ValueError("%s is not a loopback address (127.0.0.0/8)" % address)
    return host, int(port)


def clean_settings(values, base=None):
    """The settings asked for, checked; unknown keys and bad values raise ValueError."""
    out = dict(base or DEFAULTS)
    for key, value in values.items():
        if key not in DEFAULTS:
            raise ValueError("unknown setting %r (use %s)" % (key, ", ".join(sorted(DEFAULTS))))
        kind = type(DEFAULTS[key])
        value = bool(value) if kind is bool else kind(value)
        if kind is not bool and value < 0:
            raise ValueError("%s must not be negative" % key)
        out[key] = value
    return out


def _abort(writer):
    """Close with a RST, as a dropped link or a killed OBProxy does (not a polite FIN)."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class Connection(object):
    def __init__(self, number, client_writer):
        self.number = number
        self.writers = [client_writer]
        self.bytes_down = 0     # from the MetaDB to the client
        self.bytes_up = 0
        self.reset = False
        self.tasks = []

    def abort(self):
        """RST both sides and end the connection's four tasks (a reader may be waiting on a full
        queue whose sender is gone)."""
        self.reset = True
        for w in self.writers:
            _abort(w)
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


class Proxy(object):
    def __init__(self, listen, target, state_dir, max_seconds):
        self.listen = listen
        self.target = target
        self.dir = state_dir
        self.settings_file = os.path.join(state_dir, "settings.json")
        self.control_path = os.path.join(state_dir, "control.sock")
        self.deadline = time.monotonic() + max_seconds
        self.settings = self._load_settings()
        self.conns = set()
        self.counters = {"accepted": 0, "refused": 0, "resets": 0, "bytes_up": 0,
                         "bytes_down": 0, "upstream_failures": 0}
        self.started = time.time()
        self.stop = None

    # -- settings ---------------------------------------------------------------------------
    def _load_settings(self):
        try:
            with open(self.settings_file) as f:
                return clean_settings(json.load(f))
        except (OSError, ValueError):
            return dict(DEFAULTS)

    def _save_settings(self):
        tmp = self.settings_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.settings, f)
        os.replace(tmp, self.settings_file)

    def log(self, message):
        sys.stdout.write("%s linkproxy[%d]: %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.getpid(), message))
        sys.stdout.flush()

    # -- the data path ----------------------------------------------------------------------
    async def _wait_stall(self):
        while True:
            left = self.settings["stall_until"] - time.time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    async def _read(self, reader, queue, conn, down):
        """Reads and stamps each chunk with the time it may leave: now + the latency."""
        try:
            while True:
                data = await reader.read(READ_SIZE)
                delay = self.settings["latency_ms"] / 1000.0
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return
                if down:
                    conn.bytes_down += len(data)
                    limit = self.settings["reset_after_bytes"]
                    if limit and conn.bytes_down >= limit:
                        self.counters["resets"] += 1
                        self.log("connection %d: reset after %d bytes" % (conn.number,
                                                                          conn.bytes_down))
                        conn.abort()
                        return
                else:
                    conn.bytes_up += len(data)
        except (OSError, asyncio.IncompleteReadError):
            conn.abort()

    async def _send(self, writer, queue, conn, down):
        """Delivers the chunks at their time, after any stall, paced to the rate."""
        next_free = time.monotonic()
        key = "bytes_down" if down else "bytes_up"
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._wait_stall()
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                view = memoryview(data)
                while view:
                    rate = self.settings["rate"]
                    if rate <= 0:
                        piece, view = view, view[len(view):]
                        next_free = time.monotonic()
                    else:
                        # slices of 5 ms at the rate: smooth enough for a 1 ms latency
                        size = max(4096, int(rate * 0.005))
                        piece, view = view[:size], view[size:]
                        now = time.monotonic()
                        if next_free > now:
                            await asyncio.sleep(next_free - now)
                        next_free = max(next_free, now - BURST_SECONDS) + len(piece) / float(rate)
                    writer.write(piece)
                    await writer.drain()
                    self.counters[key] += len(piece)
        except (OSError, RuntimeError):
            conn.abort()

    def _pump(self, reader, writer, conn, down):
        queue = asyncio.Queue(QUEUE_CHUNKS)
        return [asyncio.ensure_future(self._read(reader, queue, conn, down)),
                asyncio.ensure_future(self._send(writer, queue, conn, down))]

    async def _handle(self, client_reader, client_writer):
        self.counters["accepted"] += 1
        conn = Connection(self.counters["accepted"], client_writer)
        if self.settings["refuse"]:
            self.counters["refused"] += 1
            _abort(client_writer)
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            self.counters["upstream_failures"] += 1
            self.log("connection %d: the MetaDB at %s:%d does not answer: %s"
                     % (conn.number, self.target[0], self.target[1], exc))
            _abort(client_writer)
            return
        conn.writers.append(up_writer)
        self.conns.add(conn)
        conn.tasks = (self._pump(client_reader, up_writer, conn, False)
                      + self._pump(up_reader, client_writer, conn, True))
        try:
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        finally:
            self.conns.discard(conn)
            for w in conn.writers:
                if not conn.reset:
                    w.close()

    # -- control ----------------------------------------------------------------------------
    def status(self):
        out = {"ok": True, "pid": os.getpid(), "listen": "%s:%d" % self.listen,
               "target": "%s:%d" % self.target, "settings": dict(self.settings),
               "stalled": self.settings["stall_until"] > time.time(),
               "connections": len(self.conns), "uptime": round(time.time() - self.started, 1)}
        out.update(self.counters)
        return out

    def command(self, request):
        op = request.get("op")
        if op == "status":
            pass
        elif op == "set":
            self.settings = clean_settings(request.get("settings") or {}, self.settings)
            self._save_settings()
            self.log("settings %s" % json.dumps(self.settings, sort_keys=True))
        elif op == "stall":
            seconds = min(float(request.get("seconds") or 0), MAX_STALL_SECONDS)
            self.settings["stall_until"] = time.time() + seconds if seconds > 0 else 0.0
            self._save_settings()
            self.log("stall %.1f s" % seconds)
        elif op == "reset":
            conns = list(self.conns)
            for conn in conns:
                conn.abort()
            self.counters["resets"] += len(conns)
            self.log("reset %d connections" % len(conns))
            answer = self.status()
            answer["reset_now"] = len(conns)
            return answer
        elif op == "quit":
            self.log("quit asked")
            self.stop.set()
        else:
            raise ValueError("unknown op %r (status, set, stall, reset, quit)" % op)
        return self.status()

    async def _control(self, reader, writer):
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            try:
                answer = self.command(json.loads(line.decode("utf-8") or "{}"))
            except (ValueError, TypeError) as exc:
                answer = {"ok": False, "error": str(exc)}
            writer.write((json.dumps(answer) + "\n").encode("utf-8"))
            await writer.drain()
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    # -- life -------------------------------------------------------------------------------
    async def run(self):
        self.stop = asyncio.Event()
        loop = asyncio.get_event_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        server = await asyncio.start_server(self._handle, self.listen[0], self.listen[1],
                                            reuse_address=True)
        if os.path.exists(self.control_path):
            os.unlink(self.control_path)
        control = await asyncio.start_unix_server(self._control, self.control_path)
        os.chmod(self.control_path, 0o600)
        with open(os.path.join(self.dir, "pid"), "w") as f:
            f.write("%d\n" % os.getpid())
        self.log("listening on %s:%d -> %s:%d, settings %s" % (
            self.listen + self.target + (json.dumps(self.settings, sort_keys=True),)))
        while not self.stop.is_set():
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.log("--max-seconds reached: exiting")
                break
            try:
                await asyncio.wait_for(self.stop.wait(), min(left, 1.0))
            except asyncio.TimeoutError:
                pass
        server.close()
        control.close()
        for conn in list(self.conns):
            conn.abort()
        try:
            os.unlink(self.control_path)
        except OSError:
            pass
        self.log("stopped")


def parser():
    p = argparse.ArgumentParser(prog="linkproxy", description=__doc__.split("\n", maxsplit=1)[0])
    p.add_argument("--listen", required=True, help="127.x.y.z:PORT")
    p.add_argument("--target", required=True, help="127.x.y.z:PORT of the MetaDB")
    p.add_argument("--dir", required=True, help="control socket, settings, pid")
    p.add_argument("--max-seconds", type=float, default=6 * 3600)
    p.add_argument("--daemon", action="store_true",
                   help="detach (the caller returns at once; the proxy outlives it)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    listen, target = loopback(args.listen), loopback(args.target)
    os.makedirs(args.dir, exist_ok=True)
    if args.daemon:
        if os.fork() > 0:
            os._exit(0)  # pylint: disable=protected-access
        os.setsid()
    asyncio.run(Proxy(listen, target, args.dir, args.max_seconds).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
