"""What steps 8 and 9.6 write back into ha.config, given what step 1 found (ha_restore.plan), and
the write itself against a fake rm database row (ha_restore.write)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
from collections import OrderedDict

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import ha_config, ha_restore
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

DEFAULT = ('{"enable":false,"enableHost":false,"enableStore":true,"perceiveStoreClientCheckpoint":false,'
           '"enableConnector":true,"enableJdbcWriter":true,"subtopicStoreNumberThreshold":5,'
           '"checkRequestIntervalSec":600,"checkJdbcWriterIntervalSec":600,"checkHostDownIntervalSec":540,'
           '"checkModuleExceptionIntervalSec":240,"clearAbnormalResourceHours":72,"refetchStoreIntervalMin":30}')


def found(**fields):
    """ha.config as step 1 found it: OMS's documented default with these fields changed."""
    value = ha_config.parse_ha_config(DEFAULT)
    value.update(fields)
    return value


def test_ha_off_before_stays_off_and_nothing_else_changes():
    before = found(enableHost=True, refetchStoreIntervalMin=45)
    plan = ha_restore.plan(before)
    assert plan["enable"] is False and not plan["refetch"] and not plan["checkpoint"]
    assert plan["fields"] == before and list(plan["fields"]) == list(before)
    assert "HA stays off" in " ".join(plan["notes"]) and "as it was before step 1" in plan["notes"][0]


def test_ha_on_before_comes_back_on_with_the_checkpoint_where_enable_store_allows_it():
    before = found(enable=True, refetchStoreIntervalMin=45)
    plan = ha_restore.plan(before)
    assert plan["enable"] is True and plan["checkpoint"] and not plan["refetch"]
    assert plan["fields"]["perceiveStoreClientCheckpoint"] is True
    # the checkpoint is used: refetchStoreIntervalMin stays what the DBA had
    assert plan["fields"]["refetchStoreIntervalMin"] == 45
    assert [k for k in before if before[k] != plan["fields"][k]] == ["perceiveStoreClientCheckpoint"]


def test_enable_store_false_leaves_the_checkpoint_and_computes_refetch():
    before = found(enable=True, enableStore=False)
    plan = ha_restore.plan(before)
    assert plan["enable"] is True and not plan["checkpoint"] and plan["refetch"]
    assert plan["fields"]["perceiveStoreClientCheckpoint"] is False
    assert "refetchStoreIntervalMin" not in plan["fields"]  # computed at write time
    assert "enableStore is false" in " ".join(plan["notes"])


def test_enable_store_false_with_a_checkpoint_already_true_keeps_it_and_still_computes_refetch():
    before = found(enable=True, enableStore=False, perceiveStoreClientCheckpoint=True)
    plan = ha_restore.plan(before)
    assert plan["fields"]["perceiveStoreClientCheckpoint"] is True
    assert not plan["checkpoint"] and plan["refetch"]


def test_checkpoint_refused_by_the_inventory_is_set_false_and_refetch_computed():
    plan = ha_restore.plan(found(enable=True, perceiveStoreClientCheckpoint=True), set_checkpoint=False)
    assert plan["fields"]["perceiveStoreClientCheckpoint"] is False and plan["refetch"]


@pytest.mark.parametrize("enable_before,enable_after,expected", [
    (False, True, True), (True, False, False), (True, None, True), (False, None, False)])
def test_the_inventory_may_say_otherwise(enable_before, enable_after, expected):
    plan = ha_restore.plan(found(enable=enable_before), enable_after=enable_after)
    assert plan["enable"] is expected and plan["fields"]["enable"] is expected
    assert plan["enable_before"] is enable_before
    assert ("oms_ha_enable_after" in plan["notes"][0]) is (enable_after is not None)


def test_ha_off_by_the_inventory_changes_nothing_but_enable():
    before = found(enable=True, enableStore=False, refetchStoreIntervalMin=45)
    plan = ha_restore.plan(before, enable_after=False)
    assert [k for k in before if before[k] != plan["fields"][k]] == ["enable"]
    assert not plan["refetch"]


def test_rollback_always_computes_refetch_and_leaves_the_checkpoint():
    plan = ha_restore.plan(found(enable=True), ha_restore.ROLLBACK)
    assert plan["refetch"] and plan["fields"]["perceiveStoreClientCheckpoint"] is False
    assert "refetchStoreIntervalMin" not in plan["fields"]
    off = ha_restore.plan(found(enable=False), ha_restore.ROLLBACK)
    assert not off["refetch"] and off["fields"]["refetchStoreIntervalMin"] == 30


def test_missing_fields_take_omss_documented_defaults():
    # enable absent: off (the documented default); enableStore absent: true
    assert ha_restore.plan(OrderedDict())["enable"] is False
    assert ha_restore.plan(OrderedDict(enable=True))["checkpoint"] is True


@pytest.mark.parametrize("kwargs,words", [
    (dict(before=[]), "not an object"), (dict(before={}, purpose="x"), "Unknown purpose"),
    (dict(before={}, enable_after="false"), "enable_after must be")])
def test_nonsense_is_refused(kwargs, words):
    with pytest.raises(OmsError, match=words):
        ha_restore.plan(**kwargs)


def test_side_by_side_and_changes():
    before = found(enable=True)
    after = OrderedDict(before, perceiveStoreClientCheckpoint=True, extra=1)
    rows = ha_restore.side_by_side(before, after)
    assert [r["field"] for r in rows] == list(before) + ["extra"]
    assert [r["field"] for r in rows if r["changed"]] == ["perceiveStoreClientCheckpoint", "extra"]
    assert ha_restore.changes(before, after) == ["perceiveStoreClientCheckpoint: false -> true", "extra: null -> 1"]
    assert ha_restore.changes(before, before) == []


class FakeRow(object):
    """write_ha_config with the rm database's row in memory (the real one is tested on the test bed)."""

    def __init__(self, monkeypatch, raw):
        self.raw = raw
        self.writes = 0

        def write(settings, fields, value, check_mode=False, compute=None):
            previous = ha_config.parse_ha_config(self.raw)
            fields = OrderedDict(fields or {})
            if compute is not None:
                fields.update(compute(previous))
            new = ha_config.merge_settings(previous, fields)
            changed = new != previous
            if changed and not check_mode:
                self.raw = ha_config.dump_ha_config(new)
                self.writes += 1
            return dict(changed=changed, previous=previous, config=new)
        monkeypatch.setattr(ha_config, "write_ha_config", write)


def test_step_8_after_step_1_puts_back_what_was_there(monkeypatch):
    before = found(enable=True, enableHost=True)
    # what step 1 left: enable false, the rest as found
    row = FakeRow(monkeypatch, ha_config.dump_ha_config(OrderedDict(before, enable=False)))
    result = ha_restore.write(None, before, downtime_since="2024-05-01T10:00:00Z")
    assert result["changed"] and row.writes == 1
    assert json.loads(row.raw) == dict(before, perceiveStoreClientCheckpoint=True)
    assert result["changes"] == ["enable: false -> true", "perceiveStoreClientCheckpoint: false -> true"]
    assert result["changes_from_restore"] == ["perceiveStoreClientCheckpoint: false -> true"]
    assert "refetch_store_interval_min" not in result


def test_step_8_with_ha_off_before_writes_nothing(monkeypatch):
    row = FakeRow(monkeypatch, DEFAULT)
    result = ha_restore.write(None, ha_config.parse_ha_config(DEFAULT), downtime_since="2024-05-01T10:00:00Z")
    assert not result["changed"] and row.writes == 0 and row.raw == DEFAULT
    assert result["changes_from_restore"] == [] and result["plan"]["enable"] is False


def test_refetch_is_computed_from_t1_and_never_below_the_value_before(monkeypatch):
    t1 = (ha_config.utc_now() - datetime.timedelta(minutes=61)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = found(enable=True, enableStore=False)
    FakeRow(monkeypatch, ha_config.dump_ha_config(OrderedDict(before, enable=False)))
    result = ha_restore.write(None, before, downtime_since=t1, margin_min=30)
    assert result["refetch_store_interval_min"] in (92, 93)  # 61-62 minutes rounded up, + 30
    assert result["config"]["refetchStoreIntervalMin"] == result["refetch_store_interval_min"]
    # a larger value before step 1 (4.2.0's docker_init.sh might have reset it) is kept
    before = found(enable=True, enableStore=False, refetchStoreIntervalMin=500)
    FakeRow(monkeypatch, ha_config.dump_ha_config(OrderedDict(before, enable=False, refetchStoreIntervalMin=30)))
    assert ha_restore.write(None, before, downtime_since=t1)["config"]["refetchStoreIntervalMin"] == 500


def test_refetch_needs_t1_except_in_check_mode(monkeypatch):
    before = found(enable=True, enableStore=False)
    FakeRow(monkeypatch, DEFAULT)
    with pytest.raises(OmsError, match="no T1"):
        ha_restore.write(None, before)
    planned = ha_restore.write(None, before, check_mode=True)
    assert planned["config"]["refetchStoreIntervalMin"] == 30
    assert "computed when it is written" in planned["notes"][-1]
