"""ha.config merge and validation, and the refetchStoreIntervalMin arithmetic."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

import pytest


from ansible_collections.obtools.oms.plugins.module_utils import ha_config  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402

DEFAULT = ('{"enable":false,"enableHost":false,"enableStore":true,"perceiveStoreClientCheckpoint":false,'
           '"enableConnector":true,"enableJdbcWriter":true,"subtopicStoreNumberThreshold":5,'
           '"checkRequestIntervalSec":600,"checkJdbcWriterIntervalSec":600,"checkHostDownIntervalSec":540,'
           '"checkModuleExceptionIntervalSec":240,"clearAbnormalResourceHours":72,"refetchStoreIntervalMin":30}')


def test_merge_keeps_other_fields_their_order_and_types():
    current = ha_config.parse_ha_config(DEFAULT)
    merged = ha_config.merge_settings(current, {"refetchStoreIntervalMin": 90, "enable": True})
    assert list(merged) == list(current)
    assert merged["enable"] is True and merged["refetchStoreIntervalMin"] == 90
    for k in current:
        if k not in ("enable", "refetchStoreIntervalMin"):
            assert merged[k] == current[k] and type(merged[k]) is type(current[k])
    assert ha_config.dump_ha_config(merged) == DEFAULT.replace('"enable":false', '"enable":true').replace(
        '"refetchStoreIntervalMin":30', '"refetchStoreIntervalMin":90')


def test_unchanged_merge_is_equal():
    current = ha_config.parse_ha_config(DEFAULT)
    assert ha_config.merge_settings(current, {"enable": False}) == current


@pytest.mark.parametrize("settings,words", [
    ({"enable": "true"}, "enable must be a boolean"),
    ({"enable": 1}, "enable must be a boolean"),
    ({"refetchStoreIntervalMin": True}, "must be an integer"),
    ({"refetchStoreIntervalMin": 1.5}, "must be an integer"),
    ({"refetchStoreIntervalMin": "90"}, "must be an integer"),
    ({"enabel": True}, "enabel is not a field"),
])
def test_wrong_types_and_unknown_fields_are_refused(settings, words):
    with pytest.raises(OmsError) as e:
        ha_config.merge_settings(ha_config.parse_ha_config(DEFAULT), settings)
    assert words in e.value.msg and "nothing was written" in e.value.msg


def test_every_problem_is_listed():
    with pytest.raises(OmsError) as e:
        ha_config.merge_settings(ha_config.parse_ha_config(DEFAULT), {"enable": "x", "foo": 1})
    assert "enable must be" in e.value.msg and "foo is not a field" in e.value.msg


def test_documented_field_missing_from_current_is_accepted_with_its_type():
    current = ha_config.parse_ha_config('{"enable":false}')
    assert ha_config.merge_settings(current, {"perceiveStoreClientCheckpoint": True})[
        "perceiveStoreClientCheckpoint"] is True
    with pytest.raises(OmsError):
        ha_config.merge_settings(current, {"perceiveStoreClientCheckpoint": "yes"})


def test_an_undocumented_field_keeps_its_own_type():
    current = ha_config.parse_ha_config('{"enable":false,"someFutureKnob":"a","ratio":0.5}')
    assert ha_config.merge_settings(current, {"someFutureKnob": "b", "ratio": 1})["ratio"] == 1
    with pytest.raises(OmsError):
        ha_config.merge_settings(current, {"someFutureKnob": 3})


@pytest.mark.parametrize("raw,words", [
    ('{"enable":', "not valid JSON"),
    ("[1]", "not an object"),
    ('"x"', "not an object"),
])
def test_parse_refuses_non_objects(raw, words):
    with pytest.raises(OmsError) as e:
        ha_config.parse_ha_config(raw)
    assert words in e.value.msg


def test_plan_with_whole_value_keeps_the_given_text():
    current = ha_config.parse_ha_config(DEFAULT)
    new, raw = ha_config.plan(current, value=DEFAULT)
    assert new == current and raw == DEFAULT
    with pytest.raises(OmsError):
        ha_config.plan(current, value='{"enable":"no"}')


@pytest.mark.parametrize("t1,t2,margin,expected", [
    ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", 30, 90),        # OMS's FAQ: 60 down + 30
    ("2024-05-01T10:00:00Z", "2024-05-01T11:00:01Z", 30, 91),        # rounded up
    ("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00Z", 1, 1),     # no downtime: still > 0
    ("2024-05-01T10:00:00.5Z", "2024-05-01T10:12:00Z", 10, 22),
    ("2024-05-01T12:00:00+02:00", "2024-05-01T10:30:00Z", 30, 60),   # offsets honoured
    ("2024-05-01 10:00:00", "2024-05-01 10:45:00", 30, 75),          # naive means UTC
])
def test_refetch_interval(t1, t2, margin, expected):
    value = ha_config.refetch_interval_min(t1, t2, margin)
    assert value == expected
    assert value > ha_config.minutes_between(t1, t2)


def test_refetch_interval_refuses_nonsense():
    with pytest.raises(OmsError):
        ha_config.refetch_interval_min("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z")
    with pytest.raises(OmsError):
        ha_config.refetch_interval_min("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", 0)
    with pytest.raises(OmsError):
        ha_config.parse_time("yesterday")


def test_parse_time_accepts_datetimes():
    naive = datetime.datetime(2024, 5, 1, 10, 0, 0)
    assert ha_config.parse_time(naive).tzinfo is not None
    assert json.dumps(ha_config.parse_time("2024-05-01T10:00:00Z").isoformat()) == '"2024-05-01T10:00:00+00:00"'
