# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module that is one step of the run records that step in the journal itself.

With journal_path and journal_step (doc fragment `journal`), the module writes "started" before it
changes anything, and "done" with what it did (or "failed" with its error) when it ends, in the
same process. So a play needs no journal task around each step (one round trip each), and a
step run in the background records its end when it happens, not when the controller next polls.

- A "started" that cannot be written fails the module before it acts: nothing changed.
- A "done" that cannot be written (a full disk) does not undo the work: the module returns it
  with a warning and RV(journal.written=false); the role's next write fails in turn, and a re-run
  repeats the step, which every step allows.
- Data written with "started" (what was there before, e.g. a restart policy) never replaces a
  value the step or the journal's facts already hold: a re-run after a kill must not record what
  the killed run had set.
- Check mode writes nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule, remove_values

from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError


def journal_argument_spec() -> Dict[str, Dict[str, Any]]:
    return dict(
        journal_path=dict(type="path"),
        journal_step=dict(type="str"),
    )


# for AnsibleModule(required_by=...): a step without a journal to write it in is a mistake
JOURNAL_REQUIRED_BY = {"journal_step": "journal_path"}


class StepJournal(object):
    """The journal step of one module run (inactive without journal_step, and in check mode)."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.path: str = module.params.get("journal_path") or ""
        self.step: str = module.params.get("journal_step") or ""
        self.active = bool(self.path and self.step) and not module.check_mode
        self.started = False
        # whether an earlier run started this step and did not finish it (a crash, a kill): its
        # work may be half done, so what this run finds is not what was there before the step
        self.resumed = False
        self.ended = False
        self._fail_json = module.fail_json

    def start(self, before: Optional[Dict[str, Any]] = None) -> None:
        """Record the step as started (once per run), with `before` kept where nothing is yet."""
        if not self.active or self.started:
            return
        previous = self._write("started", before=before or {})
        self.resumed = (((previous.get("steps") or {}).get(self.step) or {}).get("status")) in ("started", "failed")
        self.started = True
        # Every way the module can fail from here (its own checks, AnsibleModule's) records the
        # step as failed with the module's message before the module exits.
        self.module.fail_json = self._fail_and_record

    def done(self, result: Dict[str, Any], data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Record the step as done with `data`; returns `result` with RV(journal) added."""
        if not self.active:
            return result
        self.start()
        self.ended = True
        result = dict(result)
        result["journal"] = self._record("done", data=data or {})
        if not result["journal"]["written"]:
            self.module.warn("The step %s was done but the journal %s could not say so: %s. A re-run "
                             "repeats the step." % (self.step, self.path, result["journal"]["error"]))
        return result

    def _fail_and_record(self, msg: Optional[str] = None, **kwargs: Any) -> None:
        if not self.ended:
            self.ended = True
            # AnsibleModule hides no_log values in what it prints; the journal gets the same
            error = remove_values(msg or "failed", self.module.no_log_values)
            kwargs["journal"] = self._record("failed", error=error)
        self._fail_json(msg=msg, **kwargs)

    def _record(self, status: str, **kwargs: Any) -> Dict[str, Any]:
        """Write the step's end; what RV(journal) says of it (never raises: the work is done)."""
        try:
            self._write(status, **kwargs)
        except (OmsError, OSError, IOError, ValueError) as exc:
            return dict(path=self.path, step=self.step, written=False, error=str(exc))
        return dict(path=self.path, step=self.step, written=True, status=status)

    def _write(self, status: str, before: Optional[Dict[str, Any]] = None,
               data: Optional[Dict[str, Any]] = None, error: Optional[str] = None) -> Dict[str, Any]:
        """One atomic journal write of this step's `status`. `before` is data that only fills keys
        the step and the journal's facts do not hold yet. Returns the journal as it was before."""
        return journal_file.record_step(self.path, self.step, status, data=data, error=error, before=before)[0]
