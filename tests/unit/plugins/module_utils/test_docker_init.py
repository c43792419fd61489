# -*- coding: utf-8 -*-
"""docker_init.sh's outcome: the documented success line, the not-ready failure, exit 0 without
the line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils import docker_init as di

LINE = u"2026-01-02 10:00:00.000 [INFO] 【结束】全部初始化步骤执行成功"


def run(rc, lines, timed_out=False):
    return dict(rc=rc, stdout_tail=lines, timed_out=timed_out)


def test_success_needs_exit_0_and_the_documented_line():
    assert di.SUCCESS_LINE == u"【结束】全部初始化步骤执行成功"
    assert di.classify(run(0, ["[3/4] restarting", LINE])) == di.SUCCEEDED
    assert di.classify(run(1, [LINE])) == di.FAILED


def test_exit_0_without_the_line_is_not_success():
    assert di.classify(run(0, ["[3/4] restarting every component",
                               "[ERROR] restart of oms_drc_cm did not complete"])) == di.NO_SUCCESS_LINE
    assert di.classify(run(0, [])) == di.NO_SUCCESS_LINE


def test_supervisor_not_answering_means_not_ready():
    lines = ["[ERROR] unix:///var/run/supervisor.sock no such file",
             "[ERROR] docker_init.sh failed: supervisor is not running yet"]
    assert di.classify(run(1, lines)) == di.NOT_READY
    assert di.classify(run(0, lines)) == di.NOT_READY


def test_other_failures_and_timeouts():
    assert di.classify(run(1, ["MetaDB error"])) == di.FAILED
    assert di.classify(run(None, [], timed_out=True)) == di.TIMED_OUT


# the readiness probe: supervisorctl status before the first run ------------------------------
def test_probe_supervisord_answering_is_ready_whatever_the_programs_states():
    running = ["oms_console                      RUNNING   pid 42, uptime 0:00:12"]
    assert di.classify_probe(run(0, running)) == di.READY
    stopped = ["oms_console                      STOPPED   Not started"]
    assert di.classify_probe(run(3, stopped)) == di.READY


def test_probe_supervisord_not_answering_is_not_ready():
    assert di.classify_probe(run(4, ["unix:///var/run/supervisor.sock no such file"])) == di.NOT_READY
    assert di.classify_probe(run(1, ["supervisord is not running"])) == di.NOT_READY


def test_probe_that_hung_is_not_ready():
    assert di.classify_probe(run(124, [], timed_out=True)) == di.NOT_READY
    assert di.classify_probe(run(None, [], timed_out=True)) == di.NOT_READY


def test_probe_without_supervisorctl_in_the_image_is_absent():
    assert di.classify_probe(run(127, ["sh: 1: exec: supervisorctl: not found"])) == di.ABSENT
    assert di.classify_probe(run(127, ["timeout: failed to run command 'supervisorctl': "
                                       "No such file or directory"])) == di.ABSENT
    assert di.classify_probe(run(126, ["timeout: failed to run command 'supervisorctl': "
                                       "Permission denied"])) == di.ABSENT
    assert di.classify_probe(run(1, ['OCI runtime exec failed: exec failed: unable to start '
                                     'container process: exec: "supervisorctl": executable file '
                                     'not found in $PATH: unknown'])) == di.ABSENT
