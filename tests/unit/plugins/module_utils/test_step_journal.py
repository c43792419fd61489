"""A module that is a step records it in the journal itself (module_utils/step_journal.py): a real
journal file in a temporary directory, a stand-in for AnsibleModule (its params, check mode, warn
and fail_json are all the helper touches)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json
import os

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import journal
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.step_journal import StepJournal


class Failed(Exception):
    pass


class FakeModule(object):
    def __init__(self, path, step, check_mode=False, no_log_values=()):
        self.params = {"journal_path": path, "journal_step": step}
        self.check_mode = check_mode
        self.no_log_values = set(no_log_values)
        self.warnings = []
        self.failed_with = None

    def warn(self, text):
        self.warnings.append(text)

    def fail_json(self, **kwargs):
        self.failed_with = kwargs
        raise Failed(kwargs.get("msg"))


def read(path):
    with open(path) as handle:
        return json.load(handle)


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "backup" / "journal.json")


def test_started_before_the_work_and_done_with_its_data(path):
    step = StepJournal(FakeModule(path, "stop_old"))
    step.start({"old_restart_policy": "always"})
    assert read(path)["steps"]["stop_old"]["status"] == "started"
    result = step.done({"changed": True}, {"t1": "2026-11-29T10:00:00Z"})
    j = read(path)
    assert j["steps"]["stop_old"]["status"] == "done"
    assert j["steps"]["stop_old"]["data"] == {"old_restart_policy": "always", "t1": "2026-11-29T10:00:00Z"}
    assert j["facts"]["t1"] == "2026-11-29T10:00:00Z"
    assert result["journal"] == {"path": path, "step": "stop_old", "written": True, "status": "done"}
    assert result["changed"] is True


def test_what_was_there_before_never_replaces_a_recorded_value(path):
    """A re-run after a kill finds the restart policy the killed run set (no): the first stays."""
    first = StepJournal(FakeModule(path, "stop_old"))
    first.start({"old_restart_policy": "always"})
    again = StepJournal(FakeModule(path, "stop_old"))
    again.start({"old_restart_policy": "no"})
    step = read(path)["steps"]["stop_old"]
    assert step["data"]["old_restart_policy"] == "always"
    assert step["attempts"] == 2


def test_a_failure_is_recorded_with_the_message_secrets_hidden(path):
    module = FakeModule(path, "backup", no_log_values=["s3cret"])
    step = StepJournal(module)
    step.start()
    with pytest.raises(Failed):
        module.fail_json(msg="mysqldump failed for user oms with password s3cret", rc=2)
    record = read(path)["steps"]["backup"]
    assert record["status"] == "failed"
    assert "s3cret" not in record["error"] and "mysqldump failed" in record["error"]
    assert module.failed_with["journal"]["status"] == "failed"
    assert module.failed_with["rc"] == 2


def test_a_done_that_cannot_be_written_keeps_the_work_and_warns(path, monkeypatch):
    module = FakeModule(path, "health")
    step = StepJournal(module)
    step.start()

    def full_disk(_path, _journal):
        raise OmsError("Cannot write the journal: [Errno 28] No space left on device", "Free space")
    monkeypatch.setattr(journal, "write", full_disk)
    result = step.done({"healthy": True}, {"servers_after": []})
    assert result["healthy"] is True
    assert result["journal"]["written"] is False and "No space left" in result["journal"]["error"]
    assert module.warnings and "A re-run repeats the step" in module.warnings[0]


def test_a_started_that_cannot_be_written_fails_before_the_work(path, monkeypatch):
    def full_disk(_path, _journal):
        raise OmsError("Cannot write the journal: [Errno 28] No space left on device", "Free space")
    monkeypatch.setattr(journal, "write", full_disk)
    with pytest.raises(OmsError):
        StepJournal(FakeModule(path, "ha_off")).start()


@pytest.mark.parametrize("params", [("path", None), (None, "backup")])
def test_nothing_is_written_without_both_options(tmp_path, params):
    path = str(tmp_path / "journal.json") if params[0] else None
    step = StepJournal(FakeModule(path, params[1]))
    step.start()
    assert step.done({"changed": True}, {"x": 1}) == {"changed": True}
    assert not os.listdir(str(tmp_path))


def test_check_mode_writes_nothing(path):
    step = StepJournal(FakeModule(path, "ha_off", check_mode=True))
    step.start()
    assert "journal" not in step.done({"changed": True}, {"ha_was_enabled": True})
    assert not os.path.exists(path)


def test_a_new_attempt_of_a_failed_step_starts_again(path):
    module = FakeModule(path, "init")
    StepJournal(module).start()
    with pytest.raises(Failed):
        module.fail_json(msg="docker_init.sh failed")
    StepJournal(FakeModule(path, "init")).start()
    record = read(path)["steps"]["init"]
    assert record["status"] == "started" and record["attempts"] == 2 and "error" not in record


def test_a_step_an_earlier_run_left_unfinished_is_resumed(path):
    """ha_off's module must know that what it finds may be its own earlier write."""
    first = StepJournal(FakeModule(path, "ha_off"))
    first.start({"ha_config_before": {"enable": True}})
    assert first.resumed is False
    again = StepJournal(FakeModule(path, "ha_off"))  # the first run was killed here
    again.start({"ha_config_before": {"enable": False}})  # what the killed run wrote
    assert again.resumed is True
    again.done({"changed": False})
    assert read(path)["facts"]["ha_config_before"] == {"enable": True}
    fresh = StepJournal(FakeModule(path, "backup"))
    fresh.start()
    assert fresh.resumed is False
