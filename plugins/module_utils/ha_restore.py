# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What steps 8 and 9.6 write back into ha.config, from the value found before step 1.

The procedure turns HA off at step 1 "if HA is enabled" and on at step 8 (9.6 after a rollback).
A DBA expects ha.config to come out of the run as it went in, with only what the procedure itself
changes. So every field found before step 1 (the journal's ha_config_before) is written back, and:
- enable: as it was before step 1, unless the inventory says otherwise (enable_after). A
  deployment that ran without HA ends without HA: the procedure's steps 1 and 8 do nothing there.
- With HA on after the run, the procedure's own changes:
  - step 8.5 sets perceiveStoreClientCheckpoint true, but OMS documents that it works only with
    enable and enableStore true (OMS_FACTS.md, ha.config), so with enableStore false it is left
    as it was;
  - step 8.6: whenever the checkpoint cannot be used, refetchStoreIntervalMin must exceed T2 - T1
    in minutes (computed at write time, see ha_config.refetch_from_downtime);
  - step 9.6 sets refetchStoreIntervalMin after a rollback whatever the checkpoint (the procedure
    asks it there), and leaves perceiveStoreClientCheckpoint as it was.
- With HA off after the run, nothing else changes: HA acts on neither field while it is off.

plan() is pure; write() applies it to the rm database through ha_config.write_ha_config.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import OrderedDict

from ansible_collections.obtools.oms.plugins.module_utils import ha_config
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

UPGRADE = "upgrade"    # step 8
ROLLBACK = "rollback"  # step 9.6
PURPOSES = (UPGRADE, ROLLBACK)
ENABLE = "enable"
ENABLE_STORE = "enableStore"
CHECKPOINT = "perceiveStoreClientCheckpoint"
REFETCH = ha_config.REFETCH
# OMS's documented default of the two fields when ha.config lacks them (OMS_FACTS.md)
DEFAULT_ENABLE = False
DEFAULT_ENABLE_STORE = True


def _flag(value, default):
    return value if isinstance(value, bool) else default


def plan(before, purpose=UPGRADE, enable_after=None, set_checkpoint=True):
    """What to write, from `before` (ha.config as found before step 1, a dict).

    enable_after: True/False from the inventory, None for "as before step 1".
    set_checkpoint (step 8 only): True sets perceiveStoreClientCheckpoint true where enableStore
    allows it; False sets it false, so refetchStoreIntervalMin is computed (step 8.6).
    Returns a dict: fields (to merge into the current value; refetchStoreIntervalMin left out when
    it is computed), enable (after), enable_before, checkpoint (whether a Store restarts from the
    downstream's checkpoint), refetch (whether refetchStoreIntervalMin is computed from T2 - T1),
    notes (why, one sentence per decision, for the plan and the report).
    """
    if purpose not in PURPOSES:
        raise OmsError("Unknown purpose %r" % purpose, "Give one of %s" % ", ".join(PURPOSES))
    if not isinstance(before, dict):
        raise OmsError("The ha.config found before step 1 is not an object (got %r)" % (before,),
                       "Check facts.ha_config_before in the journal")
    if enable_after is not None and not isinstance(enable_after, bool):
        raise OmsError("enable_after must be true, false or unset, not %r" % (enable_after,),
                       "Set oms_ha_enable_after to true or false, or leave it unset (as before step 1)")
    step = "Step 8" if purpose == UPGRADE else "Step 9.6"
    enable_before = _flag(before.get(ENABLE), DEFAULT_ENABLE)
    enable = enable_before if enable_after is None else enable_after
    fields = OrderedDict(before)
    fields[ENABLE] = enable
    notes = []
    if enable_after is None:
        notes.append("%s: enable=%s, as it was before step 1" % (step, _text(enable)))
    else:
        notes.append("%s: enable=%s, as the inventory says (oms_ha_enable_after; it was %s before step 1)"
                     % (step, _text(enable), _text(enable_before)))
    if not enable:
        notes.append("HA stays off: ha.config is put back as it was before step 1 with enable=false; "
                     "perceiveStoreClientCheckpoint and refetchStoreIntervalMin are left as they were "
                     "(HA acts on neither while it is off)")
        return dict(fields=fields, enable=False, enable_before=enable_before, checkpoint=False,
                    refetch=False, notes=notes)

    store = _flag(before.get(ENABLE_STORE), DEFAULT_ENABLE_STORE)
    checkpoint_before = _flag(before.get(CHECKPOINT), False)
    if purpose == ROLLBACK:
        checkpoint = checkpoint_before and store
        refetch = True
        notes.append("Step 9.6: refetchStoreIntervalMin set to more than the minutes since T1, as the "
                     "procedure asks; perceiveStoreClientCheckpoint left as it was (%s)" % _text(checkpoint_before))
    elif set_checkpoint and store:
        fields[CHECKPOINT] = True
        checkpoint, refetch = True, False
        notes.append("Step 8.5: perceiveStoreClientCheckpoint=true (enableStore is true): a Store starts "
                     "at the downstream's earliest checkpoint, so refetchStoreIntervalMin is left as it was")
    elif set_checkpoint:
        checkpoint, refetch = False, True
        notes.append("Step 8.6: enableStore is false, and perceiveStoreClientCheckpoint works only with it: "
                     "perceiveStoreClientCheckpoint left as it was (%s), refetchStoreIntervalMin set to more "
                     "than T2 - T1 in minutes" % _text(checkpoint_before))
    else:
        fields[CHECKPOINT] = False
        checkpoint, refetch = False, True
        notes.append("Step 8.6: perceiveStoreClientCheckpoint=false (oms_upgrade_perceive_store_client_checkpoint), "
                     "refetchStoreIntervalMin set to more than T2 - T1 in minutes")
    if refetch:
        fields.pop(REFETCH, None)  # computed at write time, never below what it was
    return dict(fields=fields, enable=True, enable_before=enable_before, checkpoint=checkpoint,
                refetch=refetch, notes=notes)


def _text(value):
    """A field's value as ha.config's JSON writes it (true, 30, "x")."""
    return ha_config.dump_ha_config(value)


def side_by_side(before, after):
    """Every field of either value, in their order: [{field, before, after, changed}]."""
    before, after = before or {}, after or {}
    rows = []
    for field in list(before) + [f for f in after if f not in before]:
        rows.append(OrderedDict([("field", field), ("before", before.get(field)), ("after", after.get(field)),
                                 ("changed", field not in before or field not in after
                                  or before[field] != after[field])]))
    return rows


def changes(before, after):
    """The changed fields as 'field: before -> after' lines (JSON values), [] when none."""
    return ["%s: %s -> %s" % (r["field"], _text(r["before"]), _text(r["after"]))
            for r in side_by_side(before, after) if r["changed"]]


def write(settings, before, purpose=UPGRADE, enable_after=None, set_checkpoint=True, downtime_since=None,
          margin_min=30, check_mode=False):
    """Write back ha.config as plan() says. refetchStoreIntervalMin, when computed, is more than the
    minutes from downtime_since (T1) to the write (T2), never below what it was before step 1 or
    is now. Without downtime_since it can only be planned (check mode): it is then left as it is
    and the notes say so. Returns write_ha_config's result with plan, notes, and the computed
    downtime_minutes and refetch_store_interval_min, and the changed fields from what was there
    just before (changes) and from `before` (changes_from_restore)."""
    decided = plan(before, purpose, enable_after, set_checkpoint)
    extra = {}
    compute = None
    if decided["refetch"]:
        if downtime_since:
            compute = ha_config.refetch_from_downtime(downtime_since, None, margin_min, extra,
                                                      floor=before.get(REFETCH))
        elif check_mode:
            decided["notes"].append("refetchStoreIntervalMin is computed when it is written, from T1 (not known "
                                    "yet) to then, plus %s minutes, never below %s"
                                    % (margin_min, _text(before.get(REFETCH))))
        else:
            raise OmsError("refetchStoreIntervalMin must be computed from the downtime, and no T1 was given",
                           "Give downtime_since (T1, when the old container stopped)")
    result = ha_config.write_ha_config(settings, decided["fields"], None, check_mode=check_mode, compute=compute)
    result.update(extra)
    result.update(plan=dict((k, v) for k, v in decided.items() if k not in ("fields", "notes")), notes=decided["notes"],
                  changes=changes(result["previous"], result["config"]),
                  changes_from_restore=changes(before, result["config"]))
    return result
