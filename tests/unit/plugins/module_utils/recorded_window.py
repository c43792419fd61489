"""A window whose steps are recorders (for the unit tests of upgrade_window.py and
rollback_window.py): each step records that it ran, `fail_at` raises in that step, `stop_at`
drops the stop file while it runs. The engine, the plans and the journal are the real ones."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.obtools.oms.plugins.module_utils import transaction
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

# the steps whose real action records its own start (with what it found before acting)
OWN_START = ("stop_old", "rollback_stop_new", "rollback_ha_off", "rollback_safety_dump")


class Actions(object):
    def __init__(self, recorded):
        self.recorded = recorded

    def __getattr__(self, name):
        return self.recorded.action(name)


class Recorded(object):
    def __init__(self, window, path, defaults, fail_at=None, stop_at=None, **params):
        self.window, self.path = window, str(path)
        self.p = dict(defaults, journal_path=str(path))
        self.p.update(params)
        self.ran, self.warnings = [], []
        self.fail_at, self.stop_at = fail_at, stop_at
        self.sleep = lambda seconds: None
        self.clock = None
        self.params_seen = {}

    def action(self, step):
        def run(tx):
            if step in OWN_START:
                tx.journal_step(step).start()
            self.ran.append(step)
            if step == "rollback_safety_dump":
                self.params_seen["safety_dump_dir"] = tx.p.get("safety_dump_dir")
            if step == self.stop_at:
                open(transaction.stop_path(self.path), "w").close()
            if step == self.fail_at or (isinstance(self.fail_at, (list, tuple)) and step in self.fail_at):
                raise OmsError("%s broke" % step, "fix it")
            return {"step": step}, {"%s_data" % step: 1}
        return run

    @property
    def rolled_back(self):
        return any(step.startswith("rollback_") for step in self.ran)

    def run(self):
        kwargs = dict(sleep=self.sleep)
        if self.clock is not None:
            kwargs["clock"] = self.clock
        return transaction.run_window(self.window, self.p, lambda: None, None, None, {}, self.warnings.append,
                                      actions=Actions(self), **kwargs)

    def limit(self):
        return self.window.plan(self.p).limit(self.p)


def read(path):
    return json.loads(path.read_text())
