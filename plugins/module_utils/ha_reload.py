# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the running OMS took the ha.config just written, and making it take it.

ha.config is written into the rm database's oms_normal_config (ha_config.py): OMS documents no
API for it, and neither whether a running console re-reads it nor where it would show that it did
(OMS_FACTS.md). If the console reads it once when it starts, HA acts on the old value (step 1's
enable=false) until oms_console restarts, while the MetaDB, the console's page and our report
all say HA is on.

So the value OMS shows is looked for where it would show it: a line `ha.config reloaded: enable=...
enableStore=... perceiveStoreClientCheckpoint=... refetchStoreIntervalMin=...` appended to the
container's logs (/home/admin/logs/*.log by default) after the write. The test bed's simulator
prints that line (the repository's notes on the simulator's fidelity: a guess, with its unfavourable side
`ha_config_cached`, read once at start); on a real OMS whose logs never show it, the check finds
no sign and says so. What to do then is the mode's:
- check: wait up to `wait` seconds for the sign; none (or one showing other values) is reported
  with the command that makes OMS read it, and the run goes on (the upgrade is committed by then);
- restart: the same, then `supervisorctl restart oms_console` in the container (the operators'
  command, OMS docs 1100.o-m-guide/100.manage-oms-services.md), every server Online again, and
  the sign looked for once more: a console that starts reads ha.config, so without a sign the
  restart still counts, and the result says it could not be seen;
- none: nothing is looked at.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import time

from ansible_collections.obtools.oms.plugins.module_utils import ha_config
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

NONE, CHECK, RESTART = "none", "check", "restart"
MODES = (NONE, CHECK, RESTART)
SIGN = "ha.config reloaded:"
DEFAULT_LOGS = "/home/admin/logs/*.log"
RESTART_ARGV = ["supervisorctl", "restart", "oms_console"]
RESTART_TIMEOUT = 180
EXEC_TIMEOUT = 30
POLL_EVERY = 1.0

# How it ended (RV(reload.outcome) and the journal's ha_reload.outcome)
NOT_CHECKED = "not_checked"    # mode none
UNCHANGED = "unchanged"        # nothing new was written: nothing for OMS to take
TAKEN = "taken"                # OMS showed the written value
NOT_TAKEN = "not_taken"        # mode check: no sign, or a sign of other values
RESTARTED = "restarted"        # mode restart: restarted, then OMS showed it
RESTARTED_NO_SIGN = "restarted_no_sign"  # restarted and Online again; OMS shows no sign either way

_PAIR = re.compile(r"([A-Za-z][A-Za-z0-9_.]*)=(\S+)")


def parse_sign(line):
    """{field: value as text, lower case} of a `ha.config reloaded:` line, or None."""
    at = line.find(SIGN)
    if at < 0:
        return None
    return dict((k, v.rstrip(",;").lower()) for k, v in _PAIR.findall(line[at + len(SIGN):]))


def _text(value):
    """A written value as a log shows it: JSON's words (true, false, null) and numbers."""
    return ha_config.dump_ha_config(value).strip('"').lower()


def differences(sign, config):
    """The fields a sign shows with another value than `config` ('field: shows x, written y')."""
    return ["%s: OMS shows %s, written %s" % (k, v, _text(config[k]))
            for k, v in sorted(sign.items()) if k in config and v not in (_text(config[k]), repr(config[k]).lower())]


def shows(sign, config):
    """Whether a parsed sign shows `config` (each field it names, at least one of them)."""
    return bool(sign) and any(k in config for k in sign) and not differences(sign, config)


class LogWatch(object):
    """The sign lines appended to the container's logs since mark(), read through docker exec
    (the engine may be remote; the logs mount is the container's business)."""

    def __init__(self, docker, container, logs=DEFAULT_LOGS):
        self.docker, self.container, self.logs = docker, container, logs or DEFAULT_LOGS
        self.marks = {}
        self.errors = []

    def _exec(self, script, *args):
        try:
            result = self.docker.exec_command(self.container, ["sh", "-c", script, "sh"] + list(args),
                                              timeout=EXEC_TIMEOUT, tail_lines=1000)
        except OmsError as exc:
            self.errors.append(str(exc))
            return []
        if result["rc"] != 0:
            self.errors.append("rc=%s: %s" % (result["rc"], " ".join(result["stdout_tail"][-3:])))
            return []
        return result["stdout_tail"]

    def sizes(self):
        """{path: bytes} of the log files the pattern names now."""
        # $1 unquoted on purpose: it is the glob
        lines = self._exec('for f in $1; do [ -f "$f" ] && printf "%s %s\\n" "$(wc -c < "$f")" "$f"; done; true',
                           self.logs)
        found = {}
        for line in lines:
            size, _sep, path = line.strip().partition(" ")
            if size.isdigit() and path:
                found[path] = int(size)
        return found

    def mark(self):
        """Remember where each log ends: only what is appended afterwards counts."""
        self.marks = self.sizes()
        return self.marks

    def signs(self):
        """The sign lines appended since mark(), oldest first (a file that shrank was rotated: all of it)."""
        script = []
        args = [SIGN]
        for path, size in sorted(self.sizes().items()):
            start = self.marks.get(path, 0)
            if size < start:
                start = 0
            if size > start:
                args += [str(start + 1), path]
                script.append('tail -c +"${%d}" "${%d}" | grep -F -e "$1"' % (len(args) - 1, len(args)))
        if not script:
            return []
        return [line for line in self._exec("; ".join(script) + "; true", *args) if SIGN in line]


def wait_for_sign(watch, config, wait, clock=time.monotonic, sleep=time.sleep):
    """(taken, last sign line or None): poll until the last sign shows `config` or `wait` s passed."""
    deadline = clock() + max(0, wait)
    last = None
    while True:
        lines = watch.signs()
        if lines:
            last = lines[-1]
            if shows(parse_sign(last), config):
                return True, last
        if clock() >= deadline:
            return False, last
        sleep(POLL_EVERY)


def _not_seen(watch, config, last, wait):
    if last:
        return ("OMS reloaded ha.config but shows other values (%s): %s"
                % ("; ".join(differences(parse_sign(last), config)), last.strip()))
    seen = "no '%s' line in %s of %s within %s s" % (SIGN, watch.logs, watch.container, wait)
    if watch.errors:
        seen += " (the logs could not be read: %s)" % watch.errors[-1]
    return "OMS showed no sign that it took the new ha.config: " + seen


def restart_command(container):
    return "docker exec %s %s" % (container, " ".join(RESTART_ARGV))


def ensure(docker, container, config, watch, mode, wait, healthy=None, clock=time.monotonic, sleep=time.sleep):
    """After ha.config was written as `config` (watch.mark() taken before the write): confirm that
    OMS took it, restarting its console when the mode says so. `healthy(since)` waits until every
    server is Online with heartbeats after `since` (UTC ISO), and raises OmsError when not.
    Returns {mode, outcome, message, sign, restarted_at, command}; raises OmsError when a restart
    failed or OMS, restarted, shows other values."""
    result = dict(mode=mode, outcome=NOT_CHECKED, message=None, sign=None, restarted_at=None,
                  command=restart_command(container))
    if mode not in MODES:
        raise OmsError("Unknown reload mode %r" % mode, "Give one of %s" % ", ".join(MODES))
    if mode == NONE:
        result["message"] = "Whether OMS took the new ha.config was not checked (reload: none)"
        return result
    taken, last = wait_for_sign(watch, config, wait, clock, sleep)
    result["sign"] = last
    if taken:
        result.update(outcome=TAKEN, message="OMS took the new ha.config: %s" % last.strip())
        return result
    missing = _not_seen(watch, config, last, wait)
    if mode == CHECK:
        result.update(outcome=NOT_TAKEN, message=(
            "%s. If its console read ha.config only when it started, HA acts on the old value until "
            "oms_console restarts: run %s, or run with oms_ha_reload=restart" % (missing, result["command"])))
        return result
    restarted_at = journal_file.iso(journal_file.utc_now())
    done = docker.exec_command(container, RESTART_ARGV, timeout=RESTART_TIMEOUT)
    if done["rc"] != 0:
        raise OmsError("%s; restarting the console for it (%s) failed (rc=%s): %s"
                       % (missing, " ".join(RESTART_ARGV), done["rc"], " ".join(done["stdout_tail"][-5:])),
                       "Restart it by hand (%s, or docker restart %s), then check that every server is "
                       "Online and HA acts" % (result["command"], container))
    result["restarted_at"] = restarted_at
    if healthy is not None:
        healthy(restarted_at)
    taken, last = wait_for_sign(watch, config, wait, clock, sleep)
    result["sign"] = last
    if taken:
        result.update(outcome=RESTARTED, message="%s; oms_console restarted at %s, and OMS took it: %s"
                      % (missing, restarted_at, last.strip()))
        return result
    if last:
        raise OmsError("oms_console was restarted at %s for the new ha.config and still shows other values: %s"
                       % (restarted_at, "; ".join(differences(parse_sign(last), config))),
                       "Something else rewrites ha.config: look at System Parameters in the console and at "
                       "the rm database's oms_normal_config, and set it by hand")
    result.update(outcome=RESTARTED_NO_SIGN, message=(
        "%s; oms_console was restarted at %s and every server is Online again: a console that starts "
        "reads ha.config, but this OMS shows no sign of it either way" % (missing, restarted_at)))
    return result
