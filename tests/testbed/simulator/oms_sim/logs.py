"""Log lines to the container's stdout (docker logs) and to a file under /home/admin/logs."""

import datetime
import os
import sys
import threading

LOG_DIR = "/home/admin/logs"
_lock = threading.Lock()


class Log(object):
    def __init__(self, filename, stream=None):
        self.path = os.path.join(LOG_DIR, filename)
        self.stream = stream or sys.stdout
        # [obd] once started, the LAST line of `docker logs` is "OMS service start successfully":
        # after that line the simulator writes to its log file only (quiet = True).
        self.quiet = False

    def __call__(self, message, level="INFO", console=None):
        line = "%s [%s] %s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                               level, message)
        with _lock:
            to_stream = (not self.quiet) if console is None else console
            if to_stream:
                self._write_stream(line)
            try:
                os.makedirs(LOG_DIR, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:
                pass

    def _write_stream(self, line):
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def error(self, message, console=None):
        self(message, "ERROR", console)

    def warn(self, message, console=None):
        self(message, "WARN", console)
