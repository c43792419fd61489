"""`supervisorctl` in the simulated container (/usr/bin/supervisorctl): status, start, stop and
restart, over the simulated supervisord's control socket (supervisor.py).

[doc] 1100.o-m-guide/100.manage-oms-services.md: operators run `supervisorctl status` and
`supervisorctl restart oms_console` inside the container; 900.check-the-deployment.md: the
programs are nginx, oms_console, oms_drc_cm, oms_drc_supervisor and sshd, each RUNNING when healthy.
The simulator folds them into one server process: every line shows its state, pid and uptime.
[supervisor] supervisor 4.x supervisorctl.py (do_status, upcheck, _show_statuses): the line
format (name padded to 33, state to 10), `status` exits 3 when a program is STOPPED (EXITED, FATAL;
not STARTING or BACKOFF) and 4 when supervisord does not answer, printing
`unix:///var/run/supervisor.sock no such file` (socket absent) or `... refused connection`.
[guess] that OMS's image carries supervisor 4.x (3.x exits 0), and the socket path.
"""

import errno
import sys
import time

from oms_sim import supervisor

PROGRAMS = ("nginx", "oms_console", "oms_drc_cm", "oms_drc_supervisor", "sshd")
SERVER_URL = "unix://" + supervisor.SOCKET_PATH
NOT_RUNNING, UNKNOWN = 3, 4          # [supervisor] LSBStatusExitStatuses
GENERIC, INVALID_ARGS = 1, 2         # [supervisor] LSBInitExitStatuses
STOPPED_STATES = ("STOPPED", "EXITED", "FATAL", "UNKNOWN")


def run(args):
    action, names = (args[0], args[1:]) if args else ("status", [])
    if action not in ("status", "start", "stop", "restart"):
        print("*** Unknown syntax: %s" % " ".join(args))
        return GENERIC
    bad = [n for n in names if n != "all" and n not in PROGRAMS]
    if action != "status" and not names:
        print("Error: %s requires a process name" % action)
        return INVALID_ARGS if action == "start" else GENERIC
    try:
        info = supervisor.request("info", timeout=10).split()
    except OSError as exc:
        return _no_answer(exc)
    if action == "status":
        return _status(info, [n for n in names if n != "all"] or list(PROGRAMS), bad)
    for name in bad:
        print("%s: ERROR (no such process)" % name)
    wanted = [n for n in names if n not in bad]
    if not wanted:
        return GENERIC
    # one process stands for every program: one request acts on all of them
    shown = list(PROGRAMS) if "all" in wanted else wanted
    if action in ("stop", "restart"):
        supervisor.request("stop")
        for name in shown:
            print("%s: stopped" % name)
    if action in ("start", "restart"):
        supervisor.request("start")
        for name in shown:
            print("%s: started" % name)
    return GENERIC if bad else 0


def _no_answer(exc):
    if exc.errno == errno.ENOENT:
        print("%s no such file" % SERVER_URL)
    elif exc.errno == errno.ECONNREFUSED:
        print("%s refused connection" % SERVER_URL)
    else:
        print("error: %s, %s" % (type(exc), exc))
        return GENERIC
    return UNKNOWN


def _status(info, names, bad):
    state, pid, since = info[0], int(info[1]), float(info[2])
    code = 0
    for name in bad:
        print("%s: ERROR (no such process)" % name)
        code = UNKNOWN
    for name in names:
        if name in bad:
            continue
        print("%-33s%-10s%s" % (name, state, _description(state, pid, since)))
    if state in STOPPED_STATES:
        code = NOT_RUNNING
    return code


def _description(state, pid, since):
    if state == "RUNNING":
        seconds = int(max(0, time.time() - since))
        return "pid %d, uptime %d:%02d:%02d" % (pid, seconds // 3600, seconds // 60 % 60, seconds % 60)
    if state == "BACKOFF":
        return "Exited too quickly (process log may have details)"
    if state == "STOPPED":
        return time.strftime("%b %d %I:%M %p", time.localtime(since))
    return ""


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
