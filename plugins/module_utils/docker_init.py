# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run of /root/docker_init.sh said: done, not ready yet, or failed.

OMS's docs (oceanbase/oms-doc, V4.1.1 and V4.2.0, zh-CN/400.deployment-guide/800.scale-out-oms.md)
say the script regenerates every component's config, restarts every component, takes 2-4
minutes and, once it succeeded, prints SUCCESS_LINE. Its exit code is not documented, so success
is the exit code 0 AND that line; an exit 0 without it is a failure.

What the script prints when it runs before the container's supervisord answers (right after
`docker run`) is not documented either: supervisorctl's own words for a supervisord that does not
answer are taken as "not ready yet, run it again" (NOT_READY_MARKERS, a guess).

The docs say supervisord runs OMS's components and operators use `supervisorctl` inside the
container (1100.o-m-guide/100.manage-oms-services.md). So before the first run the module asks
`supervisorctl status` until it answers (classify_probe): the script then meets a booted container
instead of failing and waiting a retry interval. An image without supervisorctl falls back to
running the script and retrying it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# 【结束】全部初始化步骤执行成功: "[end] every initialisation step succeeded".
SUCCESS_LINE = u"\u3010\u7ed3\u675f\u3011\u5168\u90e8\u521d\u59cb\u5316\u6b65\u9aa4\u6267\u884c\u6210\u529f"
NOT_READY_MARKERS = ("supervisor.sock no such file", "supervisor is not running",
                     "supervisord is not running", "refused connection (already shut down?)")

SUCCEEDED = "succeeded"
NOT_READY = "not_ready"
FAILED = "failed"
NO_SUCCESS_LINE = "no_success_line"
TIMED_OUT = "timed_out"

# What the readiness probe runs, and how its exec result reads (classify_probe).
PROBE_COMMAND = ("supervisorctl", "status")
READY = "ready"
ABSENT = "absent"
# 126/127: the shell's and coreutils timeout's "cannot execute" / "not found"; the phrase is the
# engine's own when an exec names no shell.
ABSENT_EXIT_CODES = (126, 127)
ABSENT_MARKERS = ("executable file not found",)


def printed_success(lines):
    return any(SUCCESS_LINE in (line or "") for line in lines)


def not_ready(lines):
    text = "\n".join(lines or []).lower()
    return any(marker in text for marker in NOT_READY_MARKERS)


def classify(run):
    """One of SUCCEEDED, NOT_READY, TIMED_OUT, FAILED, NO_SUCCESS_LINE for an exec result
    ({rc, stdout_tail, timed_out})."""
    lines = run.get("stdout_tail") or []
    if run.get("timed_out"):
        return TIMED_OUT
    if printed_success(lines):
        return SUCCEEDED if run.get("rc") == 0 else FAILED
    if not_ready(lines):
        return NOT_READY
    return FAILED if run.get("rc") != 0 else NO_SUCCESS_LINE


def classify_probe(run):
    """READY, NOT_READY or ABSENT for an exec result ({rc, stdout_tail, timed_out}) of
    PROBE_COMMAND. supervisord answered (READY) whatever the programs' states: supervisorctl
    exits 3 when one is stopped, and docker_init.sh restarts them anyway."""
    lines = run.get("stdout_tail") or []
    text = "\n".join(lines).lower()
    if run.get("rc") in ABSENT_EXIT_CODES or any(marker in text for marker in ABSENT_MARKERS):
        return ABSENT
    # no answer within the exec's timeout is no answer
    if run.get("timed_out") or run.get("rc") is None or not_ready(lines):
        return NOT_READY
    return READY
