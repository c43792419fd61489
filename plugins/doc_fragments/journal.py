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
'''
