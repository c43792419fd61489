# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """A module that is one step of the upgrade or rollback records that step in the journal."""

    DOCUMENTATION = r'''
options:
  journal_path:
    description:
      - The run's journal on the OMS host (see M(obtools.oms.oms_journal)), in which O(journal_step)
        is recorded. Normally set once for a whole play through C(module_defaults) and the
        C(group/obtools.oms.journal) action group.
      - Without O(journal_step) the module writes nothing to it.
    type: path
  journal_step:
    description:
      - The step of the run this task is, for example V(stop_old) or V(backup).
      - The module records it in O(journal_path) as started before it changes anything, and as
        done with what it did (the module's notes list the keys), or as failed with its error, when
        it ends. A step already done is started again only as a new attempt; data recorded when
        it starts (what was there before) never replaces a value the journal already holds.
      - When C(started) cannot be written, the module fails before it acts. When C(done) cannot
        be written (a full disk), the work stays done and the module returns with a warning and
        RV(journal.written=false).
      - In check mode nothing is written.
    type: str
  journal_run:
    description:
      - The run this task belongs to, when it is launched ahead of its turn as a background job
        (C(async) with C(poll) 0), for example the name of the run's lock holder.
      - The module then acts only once the watch file C(<journal_path>.watch) names this run (the
        role writes it once every step is launched, and touches it while it follows the jobs;
        M(obtools.oms.oms_journal) O(obtools.oms.oms_journal#module:state=watched)), and the step
        O(journal_after) is done.
      - It stands down, having changed nothing (its failed result says C(stood_down=true)), when the step
        before it failed in this run, when the watch file is removed or names another run, or when
        nobody touched it for O(journal_watch_seconds) (the controller is gone).
      - The step's record in the journal names its owner (pid, start time, run), so that
        M(obtools.oms.oms_journal) O(obtools.oms.oms_journal#module:state=settled) in a later run
        waits for a job that still works.
      - Ignored in check mode, which writes nothing to wait on.
    type: str
  journal_after:
    description:
      - The step that must be done in O(journal_path) before this module acts, for a task launched
        ahead of its turn; requires O(journal_run).
      - The module checks the journal every 0.05 s, so it starts within that of the step's end,
        with its imports and arguments already done.
    type: str
  journal_inputs:
    description:
      - Options this task leaves unset, taken from what an earlier step recorded, once it is this
        task's turn. Each key is an option of this module; each value is C(step.key), a key of
        that step's data in the journal (the modules' notes list them), for example the key
        C(started_after) with the value C(run_new.new_started_at).
      - An option given a value by the task keeps it. A key the journal does not hold leaves the
        option unset.
    type: dict
  journal_watch_seconds:
    description:
      - How long the watch file of O(journal_run) may go untouched before a job still waiting for
        its turn stands down, and how long it waits for the go.
    type: int
    default: 60
'''
