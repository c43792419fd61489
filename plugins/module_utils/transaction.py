# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transaction engine that runs a downtime window on the OMS host.

A window is a plan: an ordered list of steps, each with its action, the steps that undo it, the
option that bounds its time, and whether it is the first to take OMS down (`stop`) or the commit
point (`commit`). The upgrade's window and the rollback's window are two plans built from the same
steps (window_steps.py); this engine runs either:

- the journal: every step is recorded "started" before it changes anything and "done" with what
  it did (or "failed" with its error), through journal.record_step, the one writer; a step the
  journal records done is skipped, so a run cut off is finished by the next one;
- the owner: journal["window"] names the process that runs the window (process_owner: pid, start
  time, boot id) and the run that started it (run_id). It is the only liveness signal: a second
  start while that process lives attaches to it and reports its end, from whatever controller;
- the preconditions: checked right before the first step that takes OMS down, by this process,
  so that no tag or --skip-tags gets past them (Plan.preconditions; each raises Refused);
- a step's own timeout: once it passes, the step's child processes (mysqldump, mysql) are killed
  and the step fails with the option's name, so the window rolls back instead of hanging;
- the compensation: a failure after the stop and before the commit point runs, newest first,
  the undo steps of every step that began (Plan.undo), each recorded like any step;
- the owner's death: a window whose process died (killed, OOM, a reboot) is finished by the next
  start of either window module: a plan whose `on_death` is "compensate" rolls back unless it
  had committed, and says plainly that the process died.

SIGHUP and SIGTERM are ignored while a window runs: a lost SSH session or controller may send
them, and the window must go on. Stopping by hand is the stop file's job (`<journal>.stop`).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import process_owner
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

STOP_SUFFIX = ".stop"
ATTACH_EVERY = 0.5
WATCHDOG_EVERY = 0.5
COMPENSATE = "compensate"
# the outcome of a window that ended after the step named by the test-only option stop_after
STOPPED_AFTER = "stopped_after"
RESUME = "resume"


def stop_path(journal_path: str) -> str:
    return journal_path + STOP_SUFFIX


class Refused(OmsError):
    """A precondition is not met: nothing was changed by this run."""


class StepTimedOut(OmsError):
    pass


class Step(object):
    """One step of a plan. `action(tx)` returns (result, data to record); `undo` names the steps
    that compensate it; `timeout` names the option that bounds it (seconds); `when(tx)` says
    whether it applies to this journal."""

    def __init__(self, name: str, action: Callable[["Transaction"], Tuple[Any, Dict[str, Any]]],
                 undo: Sequence[str] = (), timeout: Optional[str] = None, own_start: bool = False,
                 stop: bool = False, commit: bool = False,
                 when: Optional[Callable[["Transaction"], bool]] = None) -> None:
        self.name, self.action, self.undo, self.timeout = name, action, tuple(undo), timeout
        # the action records its own "started", with what it found before acting
        self.own_start = own_start
        self.stop, self.commit, self.when = stop, commit, when

    def applies(self, tx: "Transaction") -> bool:
        return self.when is None or bool(self.when(tx))


class Plan(object):
    """The steps of a window and how it ends.

    - steps: in the order they run; undo_steps: the steps only a compensation runs, by name;
    - undo_of: {journal step recorded before the window (e.g. ha_off): the steps that undo it};
    - preconditions: callables(tx) run right before the first `stop` step (raise Refused);
    - refuse(tx): checks before the window starts at all (raise OmsError: nothing changed);
    - outcome(tx, step, error, compensated): the outcome name of a window that failed at `step`;
    - on_death: COMPENSATE or RESUME, for a window whose process died before it committed;
    - limit(params): the longest this plan may run by its steps' timeouts (seconds).
    """

    def __init__(self, kind: str, steps: Sequence[Step], success: str, outcome: Callable[..., str],
                 undo_steps: Sequence[Step] = (), undo_of: Optional[Mapping[str, Sequence[str]]] = None,
                 preconditions: Sequence[Callable[["Transaction"], None]] = (),
                 refuse: Optional[Callable[["Transaction"], None]] = None, on_death: str = RESUME,
                 limit: Optional[Callable[[Dict[str, Any]], int]] = None, auto_rollback: bool = True) -> None:
        self.kind, self.steps, self.success, self.outcome = kind, list(steps), success, outcome
        self.undo_steps = dict((s.name, s) for s in undo_steps)
        self.undo_of = dict(undo_of or {})
        self.preconditions = list(preconditions)
        self.refuse = refuse
        self.on_death = on_death
        self.limit = limit or (lambda params: 3600)
        self.auto_rollback = auto_rollback

    def names(self) -> List[str]:
        return [s.name for s in self.steps]


class JournalStep(object):
    """What a step's action may record itself: its start, with what it found before acting."""

    def __init__(self, tx: "Transaction", name: str) -> None:
        self.tx, self.name, self.started = tx, name, False

    def start(self, before: Optional[Dict[str, Any]] = None) -> None:
        if not self.started:
            self.tx.record(self.name, "started", before=before or {})
            self.started = True


class ChildWatchdog(object):
    """Kills this process's descendants (the dump's and the load's clients) once `seconds` have
    passed, and keeps killing new ones until the step ends: the step then fails with its timeout.
    Threads cannot be stopped from outside, but every long wait of a step is on a child process."""

    def __init__(self, seconds: Optional[float]) -> None:
        self.seconds = seconds
        self.expired = False
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "ChildWatchdog":
        if self.seconds and self.seconds > 0:
            self._thread = threading.Thread(target=self._watch)
            self._thread.daemon = True
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while not self._done.is_set():
            kill_descendants(os.getpid())
            self._done.wait(WATCHDOG_EVERY)


def descendants(pid: int) -> List[int]:
    """Every process below pid, read from /proc (children of children included)."""
    parents: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        # the name may hold spaces and parentheses: the fields after the last ')' are fixed
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants(pid: int) -> None:
    for child in descendants(pid):
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass


class Transaction(object):
    """Runs one plan against one journal (see the module's docstring)."""

    def __init__(self, plan: Plan, params: Dict[str, Any], settings: Callable[[], Any], docker: Any,
                 console: Any, clients: Dict[str, str], warn: Callable[[str], None],
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.plan, self.p = plan, params
        # the MetaDB settings, read once the window knows it will run (config.yaml may be
        # unreadable while a refusal comes first)
        self.settings_from = settings
        self.settings: Any = None
        self.docker, self.console, self.clients, self.warn = docker, console, clients, warn
        self.clock, self.sleep = clock, sleep
        self.path: str = params["journal_path"]
        self.journal: Dict[str, Any] = {}
        self.done_now: List[str] = []
        self.results: Dict[str, Any] = {}
        self.journal_errors: List[str] = []
        # the window record of a process that died before this one started (finished here)
        self.died: Optional[Dict[str, Any]] = None
        # the step running now, and whether this run is compensating
        self.current: Optional[str] = None
        self.compensating = False
        # what the window's steps share in one process (e.g. the dumps read once)
        self.cache: Dict[str, Any] = {}

    # the journal ---------------------------------------------------------------------------------
    def load(self) -> Dict[str, Any]:
        self.journal = journal_file.load(self.path) or {}
        return self.journal

    def steps(self) -> Dict[str, Any]:
        return self.journal.get("steps") or {}

    def status(self, step: str) -> Optional[str]:
        return (self.steps().get(step) or {}).get("status")

    def begun(self, step: str) -> bool:
        return step in self.steps()

    def facts(self) -> Dict[str, Any]:
        return self.journal.get("facts") or {}

    def step_data(self, step: str) -> Dict[str, Any]:
        return (self.steps().get(step) or {}).get("data") or {}

    def committed(self) -> bool:
        return any(s.commit and self.status(s.name) == "done" for s in self.plan.steps)

    def stopped(self) -> bool:
        """Whether a step that takes OMS down has begun (from then on the window must end in one
        state, serving on one version)."""
        return any(s.stop and self.begun(s.name) for s in self.plan.steps)

    def record(self, step: str, status: str, data: Optional[Dict[str, Any]] = None, error: Optional[str] = None,
               before: Optional[Dict[str, Any]] = None) -> None:
        """One atomic journal write. A "started" that cannot be written raises (nothing was done);
        a "done" or "failed" that cannot be written is kept in journal_errors: the work happened."""
        try:
            self.journal = journal_file.record_step(self.path, step, status, data=data, error=error, before=before)[1]
        except (OmsError, OSError, IOError, ValueError) as exc:
            if status == "started":
                raise OmsError("The journal %s cannot record that %s starts: %s" % (self.path, step, exc),
                               "Free space there or fix its permissions, then run again")
            self.journal_errors.append("%s %s: %s" % (step, status, exc))
            self.warn("%s was %s but the journal %s could not say so: %s" % (step, status, self.path, exc))
        if status == "done" and step not in self.done_now:
            self.done_now.append(step)

    def journal_step(self, name: str) -> JournalStep:
        return JournalStep(self, name)

    def set_window(self, **fields: Any) -> None:
        """Update journal["window"], the owner record."""
        current = journal_file.load(self.path) or journal_file.empty(journal_file.utc_now())
        window = dict(current.get("window") or {})
        window.update(fields)
        current["window"] = window
        current["updated_at"] = journal_file.iso(journal_file.utc_now())
        journal_file.write(self.path, current)
        self.journal = current

    # the run -------------------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        self.load()
        window = self.journal.get("window") or {}
        if window.get("status") == "running":
            if process_owner.owner_alive(window.get("owner")):
                return self.attach(window)
            self.died = window
        if self.plan.refuse:
            self.plan.refuse(self)
        if not self.stopped():
            self.refuse_stop_file()
        self.settings = self.settings_from()
        if not self.stopped() and self.first_stop_pending():
            for check in self.plan.preconditions:
                check(self)
        fields = dict(status="running", kind=self.plan.kind, owner=process_owner.owner_of_self(),
                      run_id=self.p.get("run_id"), started_at=journal_file.iso(journal_file.utc_now()),
                      outcome=None, error=None, ended_at=None)
        if self.died:
            fields["previous_owner_died"] = dict(owner=self.died.get("owner"), kind=self.died.get("kind"),
                                                 started_at=self.died.get("started_at"), step=self.last_begun())
            self.warn(self.died_message() + ": this run finishes its transaction from the journal %s" % self.path)
        self.set_window(**fields)
        previous = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGHUP, signal.SIGTERM)]
        try:
            if self.died and self.plan.on_death == COMPENSATE and self.stopped() and not self.committed():
                return self.recover_from_death()
            return self.forward()
        finally:
            for sig, handler in previous:
                signal.signal(sig, handler)

    def first_stop_pending(self) -> bool:
        return any(s.stop and s.applies(self) for s in self.plan.steps)

    def refuse_stop_file(self) -> None:
        if os.path.exists(stop_path(self.path)):
            raise Refused("The stop file %s exists, so the window was not started" % stop_path(self.path),
                          "Remove it if nobody wants this window stopped, then run again; nothing was changed")

    def last_begun(self) -> Optional[str]:
        begun = [name for name, record in self.steps().items() if (record or {}).get("status") in ("started", "failed")]
        return begun[-1] if begun else None

    def died_message(self) -> str:
        owner = (self.died or {}).get("owner") or {}
        return ("The %s window's own process (pid %s, started %s) died during %s: killed, out of memory or "
                "a reboot" % ((self.died or {}).get("kind") or "earlier", owner.get("pid"),
                              (self.died or {}).get("started_at"), self.last_begun() or "an unknown step"))

    def recover_from_death(self) -> Dict[str, Any]:
        step = self.last_begun()
        error = self.died_message() + "; this run rolled it back"
        if step and self.status(step) == "started":
            self.record(step, "failed", error=error)
        return self.after_failure(step, error)

    def forward(self) -> Dict[str, Any]:
        step = None
        try:
            for next_step in self.plan.steps:
                if self.status(next_step.name) == "done" or not next_step.applies(self):
                    continue
                if not self.committed() and os.path.exists(stop_path(self.path)):
                    # asked between two steps: nothing of the next one began
                    self.warn("Stopped by hand before %s (%s)" % (next_step.name, stop_path(self.path)))
                    return self.after_failure(None, "Stopped by hand before %s (%s); remove it before the "
                                                    "next run" % (next_step.name, stop_path(self.path)))
                step = next_step
                self.run_step(step)
                if step.name == self.p.get("stop_after"):
                    return self.end(STOPPED_AFTER)
            return self.end(self.plan.success)
        except Exception as exc:  # pylint: disable=broad-except
            # whatever failed (OmsError, the SDK, a bug): the window must still end in one state
            error = str(exc) if isinstance(exc, OmsError) else "%s: %s" % (type(exc).__name__, exc)
            name = step.name if step is not None else None
            if name:
                self.record(name, "failed", error=error)
            return self.after_failure(name, error)

    def run_step(self, step: Step) -> None:
        self.current = step.name
        if not step.own_start:
            self.record(step.name, "started")
        seconds = int(self.p.get(step.timeout) or 0) if step.timeout else 0
        with ChildWatchdog(seconds) as watchdog:
            try:
                result, data = step.action(self)
            except Exception:
                if watchdog.expired:
                    raise self.timed_out(step, seconds)
                raise
        if watchdog.expired:
            raise self.timed_out(step, seconds)
        self.record(step.name, "done", data=data)
        self.results[step.name] = result
        self.current = None

    def timed_out(self, step: Step, seconds: int) -> StepTimedOut:
        return StepTimedOut("%s took longer than its timeout of %d s (%s): its clients were killed"
                            % (step.name, seconds, step.timeout),
                            "Raise that timeout if the step is slow but sound (the dump's rate is in the "
                            "journal of the rehearsal and the benchmark), then run again")

    def after_failure(self, step: Optional[str], error: str) -> Dict[str, Any]:
        message = "%s failed: %s" % (step or "the window", error)
        if self.committed() or not self.stopped() or not self.plan.undo_of:
            return self.end(self.plan.outcome(self, step, message, None), message)
        if not self.plan.auto_rollback:
            return self.end(self.plan.outcome(self, step, message, None),
                            message + " (auto_rollback is false: not rolled back, OMS is down)")
        try:
            self.compensate()
        except Exception as exc:  # pylint: disable=broad-except
            undo_error = str(exc) if isinstance(exc, OmsError) else "%s: %s" % (type(exc).__name__, exc)
            if self.current:
                self.record(self.current, "failed", error=undo_error)
            message = "%s; the rollback failed too, at %s: %s" % (message, self.current, undo_error)
            return self.end(self.plan.outcome(self, step, message, False), message)
        return self.end(self.plan.outcome(self, step, message, True), message)

    def undo_plan(self) -> List[Step]:
        """The undo steps of every step that began, newest first, each once, in that order."""
        order = list(self.plan.undo_of.get("before", ())) + self.plan.names()
        names: List[str] = []
        for name in reversed(order):
            if self.begun(name):
                names.extend(n for n in self.plan.undo_of.get(name, ()) if n not in names)
        return [self.plan.undo_steps[n] for n in names]

    def compensate(self) -> None:
        self.compensating = True
        for step in self.undo_plan():
            if self.status(step.name) == "done" or not step.applies(self):
                continue
            self.run_step(step)

    def end(self, outcome: str, error: Optional[str] = None) -> Dict[str, Any]:
        try:
            self.set_window(status="ended", outcome=outcome, error=error,
                            ended_at=journal_file.iso(journal_file.utc_now()))
        except (OmsError, OSError, IOError, ValueError) as exc:
            self.journal_errors.append("window end: %s" % exc)
        return self.result(outcome, error)

    def attach(self, window: Dict[str, Any]) -> Dict[str, Any]:
        if (window.get("kind") or self.plan.kind) != self.plan.kind:
            raise Refused("The %s window started at %s by process %s still runs on this deployment"
                          % (window.get("kind"), window.get("started_at"), (window.get("owner") or {}).get("pid")),
                          "Wait for it to end (the journal %s says how it ended), then run again; nothing "
                          "was changed" % self.path)
        self.warn("The window started at %s by process %s (run %s) still runs: following it to its end "
                  "instead of starting another" % (window.get("started_at"), (window.get("owner") or {}).get("pid"),
                                                   window.get("run_id") or "?"))
        # Its own deadline, not only async_wrapper's: the longest the other window may run by its
        # step timeouts, after which this job says so instead of being killed in silence.
        limit = self.plan.limit(self.p)
        deadline = self.clock() + limit
        while True:
            self.sleep(ATTACH_EVERY)
            window = self.load().get("window") or {}
            if window.get("status") != "running" or not process_owner.owner_alive(window.get("owner")):
                break
            if self.clock() > deadline:
                raise OmsError("The window started at %s by process %s still runs after %d s, longer than "
                               "its step timeouts allow" % (window.get("started_at"),
                                                            (window.get("owner") or {}).get("pid"), limit),
                               "It ends by itself, committed or rolled back, unless it hangs: look at "
                               "that process on the OMS host and at the journal %s, and run again "
                               "once it has ended" % self.path)
        if window.get("status") == "running":
            # it died while this run followed it: the next start finishes it
            raise OmsError("The window's own process (pid %s) died while this run followed it"
                           % (window.get("owner") or {}).get("pid"),
                           "Run the playbook again: it finishes the transaction from the journal %s" % self.path)
        return self.result(window.get("outcome") or "unknown", window.get("error"), attached=True)

    def result(self, outcome: str, error: Optional[str], attached: bool = False) -> Dict[str, Any]:
        return dict(outcome=outcome, error=error, attached=attached, changed=bool(self.done_now) or attached,
                    steps_done=list(self.done_now), results=self.results, journal_errors=self.journal_errors,
                    previous_owner_died=bool(self.died))


def run_window(window: Any, params: Dict[str, Any], settings: Callable[[], Any], docker: Any, console: Any,
               clients: Dict[str, str], warn: Callable[[str], None], actions: Any = None,
               **kwargs: Any) -> Dict[str, Any]:
    """Run the plan of `window` (upgrade_window or rollback_window: plan(params, actions) and
    result(tx, ended)); `actions` replaces the steps' actions (the tests' recorders)."""
    plan = window.plan(params) if actions is None else window.plan(params, actions)
    tx = Transaction(plan, params, settings, docker, console, clients, warn, **kwargs)
    return window.result(tx, tx.run())
