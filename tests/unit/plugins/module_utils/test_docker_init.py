# -*- coding: utf-8 -*-
"""docker_init.sh's outcome: the documented success line, the not-ready failure, exit 0 without
the line."""

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
