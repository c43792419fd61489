"""Steps launched ahead wait for their turn (module_utils/step_chain.py): a real journal and watch
file in a temporary directory, real processes for the owners, a fake clock for the waits, and a
stand-in for AnsibleModule (params, argument_spec, check mode, fail_json)."""
import os
import subprocess
import sys

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import journal, step_chain
from ansible_collections.obtools.oms.plugins.module_utils.step_journal import StepJournal

RUN = "controller:4242:20261204T030000Z"


class Failed(Exception):
    pass


class FakeModule(object):
    argument_spec = {"restart_policy": {"type": "str"}, "started_after": {"type": "str"},
                     "timeout": {"type": "int"}}

    def __init__(self, path, step="run_new", run=RUN, after=None, inputs=None, check_mode=False,
                 **params):
        self.params = {"journal_path": path, "journal_step": step, "journal_run": run,
                       "journal_after": after, "journal_inputs": inputs, "journal_watch_seconds": 60,
                       "restart_policy": None, "started_after": None, "timeout": None}
        self.params.update(params)
        self.check_mode = check_mode
        self.no_log_values = set()
        self.failed_with = None

    def warn(self, text):
        pass

    def fail_json(self, **kwargs):
        self.failed_with = kwargs
        raise Failed(kwargs.get("msg"))


class Clock(object):
    """time.time and time.sleep for wait_for_turn; `during` runs at each sleep (another process
    writing the journal meanwhile). The watch file's mtime is the real one: start near it."""

    def __init__(self, during=None):
        self.now = __import__("time").time()
        self.sleeps = 0
        self.during = during

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds
        if self.during:
            self.during(self.sleeps)
        if self.sleeps > 10000:
            raise AssertionError("still waiting")


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "journal.json")


def record(path, step, status, run=RUN, data=None, error=None):
    current = journal.load(path)
    new, _c, _n = journal.apply_step(current, step, "started", owner={"pid": 1, "run": run}, force=True)
    if status != "started":
        new, _c, _n = journal.apply_step(new, step, status, data=data, error=error)
    journal.write(path, new)


def wait(module, clock):
    return step_chain.wait_for_turn(module, clock=clock, sleep=clock.sleep)


def test_waits_for_the_step_before_then_acts_within_one_check(path):
    step_chain.write_watch(path, RUN)
    record(path, "backup", "started")
    clock = Clock(during=lambda n: n == 20 and record(path, "backup", "done"))
    module = FakeModule(path, after="backup")
    waited = wait(module, clock)
    assert module.failed_with is None
    assert clock.sleeps == 20  # not one check more than the step's end needed
    assert waited == pytest.approx(20 * step_chain.CHECK_EVERY)


def test_waits_for_the_go_before_acting(path):
    clock = Clock(during=lambda n: n == 5 and step_chain.write_watch(path, RUN))
    wait(FakeModule(path, step="stop_old"), clock)
    assert clock.sleeps == 5


def test_no_go_at_all_stands_down(path):
    module = FakeModule(path, step="stop_old")
    with pytest.raises(Failed, match="never gave the go"):
        wait(module, Clock())
    assert module.failed_with["stood_down"] is True


def test_the_step_before_failing_in_this_run_stands_it_down(path):
    step_chain.write_watch(path, RUN)
    record(path, "backup", "failed", error="mysqldump: Got error 2013")
    module = FakeModule(path, after="backup")
    with pytest.raises(Failed, match="the step before it, backup, failed: mysqldump: Got error 2013"):
        wait(module, Clock())
    assert "was not started, nothing was done" in module.failed_with["msg"]


def test_a_failure_of_an_earlier_run_is_no_verdict(path):
    """The step before failed in the last run and is launched again: wait for this run's outcome."""
    step_chain.write_watch(path, RUN)
    record(path, "backup", "failed", run="controller:1:earlier")
    clock = Clock(during=lambda n: n == 3 and record(path, "backup", "done"))
    module = FakeModule(path, after="backup")
    wait(module, clock)
    assert module.failed_with is None and clock.sleeps == 3


def test_a_step_done_by_an_earlier_run_lets_it_act_at_once(path):
    step_chain.write_watch(path, RUN)
    record(path, "backup", "done", run="controller:1:earlier")
    clock = Clock()
    wait(FakeModule(path, after="backup"), clock)
    assert clock.sleeps == 0


def test_a_watch_file_of_another_run_stands_it_down(path):
    step_chain.write_watch(path, "controller:9:newer")
    record(path, "backup", "started")
    with pytest.raises(Failed, match="names another run"):
        wait(FakeModule(path, after="backup"), Clock())


def test_a_removed_watch_file_stands_it_down(path):
    """failure.yml and a new run remove it (oms_journal state=settled)."""
    step_chain.write_watch(path, RUN)
    record(path, "backup", "started")
    clock = Clock(during=lambda n: n == 4 and step_chain.remove_watch(path))
    with pytest.raises(Failed, match="was removed"):
        wait(FakeModule(path, after="backup"), clock)
    assert clock.sleeps == 4


def test_a_watch_nobody_touches_stands_it_down(path):
    """The controller, and with it the progress probe, is gone."""
    step_chain.write_watch(path, RUN)
    record(path, "backup", "started")
    module = FakeModule(path, after="backup")
    with pytest.raises(Failed, match="was not touched for 6[01] s"):
        wait(module, Clock())


def test_inputs_fill_only_what_the_task_left_unset(path):
    record(path, "stop_old", "done", data={"old_restart_policy": "always", "t1": "2026-12-04T03:00:00Z"})
    record(path, "run_new", "done", data={"new_started_at": "2026-12-04T03:00:05Z"})
    module = FakeModule(path, step="health", run=None, started_after="given",
                        inputs={"started_after": "run_new.new_started_at",
                                "restart_policy": "stop_old.old_restart_policy",
                                "timeout": "stop_old.missing"})
    wait(module, Clock())
    assert module.params["started_after"] == "given"
    assert module.params["restart_policy"] == "always"
    assert module.params["timeout"] is None


def test_an_input_must_name_an_option_and_a_step_key(path):
    record(path, "stop_old", "done", data={"t1": "x"})
    for inputs in ({"nonsense": "stop_old.t1"}, {"restart_policy": "t1"}, {"journal_path": "stop_old.t1"}):
        with pytest.raises(Failed, match="journal_inputs"):
            wait(FakeModule(path, run=None, inputs=inputs), Clock())


def test_check_mode_waits_for_nothing(path):
    clock = Clock()
    wait(FakeModule(path, after="backup", check_mode=True), clock)
    assert clock.sleeps == 0


def test_a_step_records_its_owner_and_run(path):
    step = StepJournal(FakeModule(path, step="backup"))
    step.start()
    owner = journal.load(path)["steps"]["backup"]["owner"]
    assert owner["pid"] == os.getpid() and owner["run"] == RUN
    assert owner["start"] == step_chain.process_start(os.getpid())


def test_owner_alive_knows_a_running_process_from_an_ended_or_reused_one():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": proc.pid, "start": step_chain.process_start(proc.pid),
                 "boot": step_chain._read(step_chain.BOOT_ID)}
        assert step_chain.owner_alive(owner)
        assert not step_chain.owner_alive(dict(owner, start="1"))  # the pid reused since
        assert not step_chain.owner_alive(dict(owner, boot="another-boot"))
        assert not step_chain.owner_alive(step_chain.owner_of_self())  # never waits for itself
    finally:
        proc.kill()
        proc.wait()
    assert not step_chain.owner_alive(owner)


def test_settle_stands_down_and_waits_for_a_step_still_working(path):
    step_chain.write_watch(path, RUN)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": proc.pid, "start": step_chain.process_start(proc.pid)}
        new, _c, _n = journal.apply_step(None, "init", "started", owner=owner)
        journal.write(path, new)
        clock = Clock(during=lambda n: n == 3 and proc.kill())
        settled = step_chain.settle(path, 60, clock=clock, sleep=clock.sleep)
    finally:
        proc.kill()
        proc.wait()
    assert settled["stood_down"] is True and not os.path.exists(step_chain.watch_path(path))
    assert settled["still_running"] == [] and clock.sleeps >= 3


def test_settle_names_a_step_still_working_after_the_timeout(path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": proc.pid, "start": step_chain.process_start(proc.pid)}
        journal.write(path, journal.apply_step(None, "init", "started", owner=owner)[0])
        clock = Clock()
        settled = step_chain.settle(path, 5, clock=clock, sleep=clock.sleep)
    finally:
        proc.kill()
        proc.wait()
    assert settled["stood_down"] is False
    assert settled["still_running"] == ["init (pid %d)" % proc.pid]
