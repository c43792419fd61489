"""Whether the running OMS took the new ha.config (ha_reload.py): the sign's parsing, the log
watch's shell run for real on a local directory standing in for the container's logs, and what
each mode does when OMS re-reads ha.config, caches it until a restart, or shows nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import ha_reload
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

WRITTEN = {"enable": True, "enableStore": True, "perceiveStoreClientCheckpoint": True,
           "refetchStoreIntervalMin": 30, "enableHost": False}
# what the test bed's simulator prints (Python's True), and a Java-like rendering
SIGN_ON = ("2026-12-04 19:00:01.123 [INFO] ha.config reloaded: enable=True enableStore=True "
           "perceiveStoreClientCheckpoint=True refetchStoreIntervalMin=30")
SIGN_OFF = SIGN_ON.replace("enable=True", "enable=False")


def test_parse_sign():
    assert ha_reload.parse_sign(SIGN_ON) == {"enable": "true", "enableStore": "true",
                                             "perceiveStoreClientCheckpoint": "true",
                                             "refetchStoreIntervalMin": "30"}
    assert ha_reload.parse_sign("nothing here") is None


def test_shows_compares_each_field_the_sign_names():
    assert ha_reload.shows(ha_reload.parse_sign(SIGN_ON), WRITTEN)
    assert ha_reload.shows(ha_reload.parse_sign("ha.config reloaded: enable=true, refetchStoreIntervalMin=30"), WRITTEN)
    assert not ha_reload.shows(ha_reload.parse_sign(SIGN_OFF), WRITTEN)
    assert ha_reload.differences(ha_reload.parse_sign(SIGN_OFF), WRITTEN) == ["enable: OMS shows false, written true"]
    assert not ha_reload.shows(ha_reload.parse_sign("ha.config reloaded: unrelated=1"), WRITTEN)
    assert not ha_reload.shows({}, WRITTEN)


class Container(object):
    """docker exec run for real, locally: `logs` is the container's /home/admin/logs. The console
    re-reads ha.config (`rereads`), or logs it only when it restarts (the `ha_config_cached` side),
    or never prints a sign (`silent`: what a real OMS may do)."""

    def __init__(self, logs, rereads=True, silent=False, restart_rc=0):
        self.logs, self.rereads, self.silent, self.restart_rc = logs, rereads, silent, restart_rc
        self.restarts = 0
        self.log_line("OMS service start successfully")
        self.log_line(SIGN_OFF)  # what it read when it started, after step 1

    def log_line(self, line, name="oms_sim.log"):
        with open(os.path.join(self.logs, name), "a") as handle:
            handle.write(line + "\n")

    def written(self):
        """ha.config was written: a console that re-reads it says so."""
        if self.rereads and not self.silent:
            self.log_line(SIGN_ON)

    def exec_command(self, name, argv, timeout, tail_lines=50):
        if argv == ha_reload.RESTART_ARGV:
            self.restarts += 1
            if self.restart_rc == 0 and not self.silent:
                self.log_line(SIGN_ON)  # a console that starts reads ha.config
            return {"rc": self.restart_rc, "stdout_tail": ["oms_console: ERROR (no such process)"]
                    if self.restart_rc else ["oms_console: stopped", "oms_console: started"]}
        assert argv[:2] == ["sh", "-c"]
        args = [a.replace(ha_reload.DEFAULT_LOGS, os.path.join(self.logs, "*.log")) for a in argv[3:]]
        done = subprocess.run(["sh", "-c", argv[2]] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=timeout, check=False)
        return {"rc": done.returncode, "stdout_tail": done.stdout.splitlines()[-tail_lines:]}


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(container, mode, wait=5):
    watch = ha_reload.LogWatch(container, "oms_420")
    watch.mark()
    container.written()
    clock = Clock()
    healthy = []
    result = ha_reload.ensure(container, "oms_420", WRITTEN, watch, mode, wait,
                              healthy=healthy.append, clock=clock, sleep=clock.sleep)
    return result, healthy


def test_the_watch_sees_only_what_was_appended_after_the_mark(tmp_path):
    c = Container(str(tmp_path))
    watch = ha_reload.LogWatch(c, "oms_420")
    assert watch.mark() == {os.path.join(str(tmp_path), "oms_sim.log"): os.path.getsize(str(tmp_path / "oms_sim.log"))}
    assert watch.signs() == []  # the start-up sign came before the mark
    c.log_line(SIGN_ON)
    c.log_line("ha.config reloaded: enable=False", name="other.log")  # a file that did not exist at the mark
    assert watch.signs() == [SIGN_ON, "ha.config reloaded: enable=False"]


def test_a_rotated_log_is_read_from_its_start(tmp_path):
    c = Container(str(tmp_path))
    watch = ha_reload.LogWatch(c, "oms_420")
    watch.mark()
    with open(str(tmp_path / "oms_sim.log"), "w") as handle:
        handle.write(SIGN_ON + "\n")
    assert watch.signs() == [SIGN_ON]


def test_a_log_name_with_spaces_and_quotes_is_read(tmp_path):
    c = Container(str(tmp_path))
    watch = ha_reload.LogWatch(c, "oms_420")
    watch.mark()
    c.log_line(SIGN_ON, name="it's a log.log")
    assert watch.signs() == [SIGN_ON]


@pytest.mark.parametrize("mode", [ha_reload.CHECK, ha_reload.RESTART])
def test_a_console_that_rereads_it_is_not_restarted(tmp_path, mode):
    c = Container(str(tmp_path))
    result, healthy = run(c, mode)
    assert result["outcome"] == ha_reload.TAKEN and c.restarts == 0 and healthy == []
    assert result["sign"] == SIGN_ON


def test_cached_without_restart_says_so_and_what_to_do(tmp_path):
    c = Container(str(tmp_path), rereads=False)
    result, healthy = run(c, ha_reload.CHECK)
    assert result["outcome"] == ha_reload.NOT_TAKEN and c.restarts == 0
    # it printed its start-up value before the write, and nothing since
    assert "showed no sign" in result["message"] and "within 5 s" in result["message"]
    assert "docker exec oms_420 supervisorctl restart oms_console" in result["message"]
    assert "oms_ha_reload=restart" in result["message"]


def test_cached_with_restart_restarts_waits_for_health_and_sees_it(tmp_path):
    c = Container(str(tmp_path), rereads=False)
    result, healthy = run(c, ha_reload.RESTART)
    assert result["outcome"] == ha_reload.RESTARTED and c.restarts == 1
    assert healthy == [result["restarted_at"]] and result["sign"] == SIGN_ON


def test_a_silent_oms_is_not_confirmed_and_a_restart_is_said_to_show_nothing(tmp_path):
    c = Container(str(tmp_path), silent=True)
    result, _healthy = run(c, ha_reload.CHECK)
    assert result["outcome"] == ha_reload.NOT_TAKEN and "showed no sign" in result["message"]
    result, healthy = run(Container(str(tmp_path / ".."), silent=True), ha_reload.RESTART)
    assert result["outcome"] == ha_reload.RESTARTED_NO_SIGN and len(healthy) == 1


def test_a_failed_restart_fails_with_what_to_do(tmp_path):
    c = Container(str(tmp_path), rereads=False, restart_rc=4)
    with pytest.raises(OmsError) as err:
        run(c, ha_reload.RESTART)
    assert "failed (rc=4)" in err.value.msg and "docker restart oms_420" in err.value.hint


def test_restarted_and_still_other_values_fails(tmp_path):
    c = Container(str(tmp_path), rereads=False)
    c.exec_command_real = c.exec_command

    def restart_shows_old(name, argv, timeout, tail_lines=50):
        if argv == ha_reload.RESTART_ARGV:
            c.log_line(SIGN_OFF)
            return {"rc": 0, "stdout_tail": []}
        return c.exec_command_real(name, argv, timeout, tail_lines)
    c.exec_command = restart_shows_old
    with pytest.raises(OmsError, match="still shows other values"):
        run(c, ha_reload.RESTART)


def test_none_looks_at_nothing(tmp_path):
    c = Container(str(tmp_path), rereads=False)
    result, _healthy = run(c, ha_reload.NONE)
    assert result["outcome"] == ha_reload.NOT_CHECKED and c.restarts == 0


def test_unreadable_logs_are_said_not_fatal(tmp_path):
    class Broken(Container):
        def exec_command(self, name, argv, timeout, tail_lines=50):
            if argv[:2] == ["sh", "-c"]:
                return {"rc": 126, "stdout_tail": ["OCI runtime exec failed"]}
            return Container.exec_command(self, name, argv, timeout, tail_lines)
    result, _healthy = run(Broken(str(tmp_path)), ha_reload.CHECK)
    assert result["outcome"] == ha_reload.NOT_TAKEN and "could not be read" in result["message"]
