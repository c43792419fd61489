# -*- coding: utf-8 -*-
"""docker_init_runner's judgment of a run: each outcome but success is an error that names the
script, the container and what to do, with the run's figures for the result."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import docker_init as di
from ansible_collections.obtools.oms.plugins.module_utils import docker_init_runner as runner
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

READY = dict(ready_probe="supervisorctl", ready_wait_seconds=12.0, ready_at=None)


def run(rc, lines):
    return dict(rc=rc, stdout_tail=lines)


def test_success_is_no_error():
    assert runner.failure(di.SUCCEEDED, "oms_420", run(0, ["ok"]), 3.0, 1, READY, 1800, 600) is None


@pytest.mark.parametrize("outcome, words", [
    (di.TIMED_OUT, ["did not finish within 1800 s in oms_420", "larger oms_upgrade_init_timeout (init_timeout"]),
    (di.NOT_READY, ["still starting", "on all 3 attempts over 40 s", "did not answer for 12 s",
                    "init_ready_timeout: 600 s"]),
    (di.NO_SUCCESS_LINE, ["exited 0 in oms_420 but did not print its success line"]),
    (di.FAILED, ["failed in oms_420 with exit code 7"]),
])
def test_each_failure_says_what_and_carries_the_figures(outcome, words):
    lines = ["line %d" % i for i in range(30)]
    error = runner.failure(outcome, "oms_420", run(7, lines), 40.0, 3, READY, 1800, 600)
    text = error.msg + " " + error.hint
    for word in words:
        assert word in text, text
    assert runner.INIT_SCRIPT in error.msg
    # the last 20 lines in the message, all of them in the details
    assert "line 9\n" not in error.msg and error.msg.endswith("line 29")
    assert error.details["stdout_tail"] == lines and error.details["attempts"] == 3
    assert error.details["ready_wait_seconds"] == 12.0 and error.details["rc"] == 7


def test_without_supervisorctl_the_not_ready_message_names_no_probe():
    no_probe = dict(READY, ready_probe="none")
    error = runner.failure(di.NOT_READY, "oms_420", run(1, []), 40.0, 3, no_probe, 1800, 600)
    assert "did not answer" not in error.msg and "on all 3 attempts" in error.msg


class StoppedAfterTheProbe(object):
    """An engine whose container answers the readiness probe, then is gone by the time
    docker_init.sh is started (stopped between the two execs)."""

    timeout = 10

    def __init__(self):
        self.running = True

    def exec_command(self, name, argv, timeout, tail_lines=None):
        if argv[0] == "supervisorctl":
            self.running = False  # docker stop lands here
            return dict(rc=0, stdout_tail=["oms_console RUNNING"], timed_out=False)
        raise OmsError("Running %s in %s: %s is not running" % (argv[0], name, name))

    def inspect_container(self, name):
        return {"State": {"Running": self.running, "ExitCode": 143,
                          "FinishedAt": "2026-12-07T21:54:06.2Z"}}

    def logs_tail(self, name, lines=20):
        return ["supervisord: SIGTERM"]


def test_a_container_stopped_after_the_probe_fails_with_how_it_ended():
    with pytest.raises(OmsError) as raised:
        runner._run_init(StoppedAfterTheProbe(), "oms_420", 300, 60, 10, None, lambda msg: None)
    assert "exited (exit code 143)" in raised.value.msg and "SIGTERM" in raised.value.msg
    assert "docker logs oms_420" in raised.value.hint
