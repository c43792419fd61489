"""oms_ha_config against the test bed: read, set with check/diff, read back, previous, refusals."""

import datetime
import json
import os

import pymysql
import pytest

INSTANCE = os.environ.get("OMS_TEST_INSTANCE", "a")

DOCUMENTED_DEFAULT = (
    '{"enable":false,"enableHost":false,"enableStore":true,"perceiveStoreClientCheckpoint":false,'
    '"enableConnector":true,"enableJdbcWriter":true,"subtopicStoreNumberThreshold":5,'
    '"checkRequestIntervalSec":600,"checkJdbcWriterIntervalSec":600,"checkHostDownIntervalSec":540,'
    '"checkModuleExceptionIntervalSec":240,"clearAbnormalResourceHours":72,"refetchStoreIntervalMin":30}')


@pytest.fixture(scope="module")
def bed(testbed):
    testbed.reset(INSTANCE)
    return testbed.describe(INSTANCE)


def stored_raw(desc):
    m = desc["metadb"]
    conn = pymysql.connect(host=m["host"], port=m["port"], user=m["user"], password=m["password"],
                           database=m["rm_db"], autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT cfg_value FROM oms_normal_config WHERE cfg_name='ha.config'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def set_raw(desc, raw):
    m = desc["metadb"]
    conn = pymysql.connect(host=m["host"], port=m["port"], user=m["user"], password=m["password"],
                           database=m["rm_db"], autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE oms_normal_config SET cfg_value=%s WHERE cfg_name='ha.config'", (raw,))
    finally:
        conn.close()


@pytest.fixture
def default_ha(bed):
    set_raw(bed, DOCUMENTED_DEFAULT)
    return bed


def args(desc, **extra):
    a = {"config_file": desc["config_file"]}
    a.update(extra)
    return a


def test_read_only_returns_the_stored_value(default_ha, run_module):
    r = run_module("oms_ha_config", args(default_ha))
    assert not r.failed, r.get("msg")
    assert not r.changed
    assert r["raw"] == r["previous_raw"] == DOCUMENTED_DEFAULT
    assert list(r["config"]) == list(json.loads(DOCUMENTED_DEFAULT))


def test_set_fields_check_real_again_with_diff_and_previous(default_ha, run_module):
    a = args(default_ha, settings={"enable": True, "perceiveStoreClientCheckpoint": True})
    check = run_module("oms_ha_config", a, check=True, diff=True)
    assert not check.failed, check.get("msg")
    assert check.changed
    assert json.loads(check["diff"]["before"])["enable"] is False
    assert json.loads(check["diff"]["after"])["enable"] is True
    assert stored_raw(default_ha) == DOCUMENTED_DEFAULT

    real = run_module("oms_ha_config", a, diff=True)
    assert not real.failed, real.get("msg")
    assert real.changed
    assert real["previous_raw"] == DOCUMENTED_DEFAULT
    assert real["previous"]["enable"] is False
    assert real["config"]["enable"] is True and real["config"]["perceiveStoreClientCheckpoint"] is True
    # other fields: same order, same values, same types
    expected = json.loads(DOCUMENTED_DEFAULT)
    expected.update(enable=True, perceiveStoreClientCheckpoint=True)
    assert list(real["config"]) == list(expected)
    assert json.loads(stored_raw(default_ha)) == expected
    assert stored_raw(default_ha) == real["raw"]
    assert json.loads(real["diff"]["after"]) == expected

    again_check = run_module("oms_ha_config", a, check=True, diff=True)
    again = run_module("oms_ha_config", a, diff=True)
    assert not again_check.changed and not again.changed
    assert "diff" not in again.result or not again["diff"]

    back = run_module("oms_ha_config", args(default_ha, value=real["previous_raw"]))
    assert back.changed and stored_raw(default_ha) == DOCUMENTED_DEFAULT
    assert not run_module("oms_ha_config", args(default_ha, value=real["previous_raw"])).changed


@pytest.mark.parametrize("settings,words", [
    ({"enable": "yes"}, "enable must be a boolean"),
    ({"refetchStoreIntervalMin": "90"}, "refetchStoreIntervalMin must be an integer"),
    ({"refetchStoreIntervalMin": True}, "refetchStoreIntervalMin must be an integer"),
    ({"enabel": True}, "enabel is not a field of ha.config"),
])
def test_wrong_type_or_unknown_field_is_refused_row_untouched(default_ha, run_module, settings, words):
    r = run_module("oms_ha_config", args(default_ha, settings=settings))
    assert r.failed
    assert words in r["msg"] and "nothing was written" in r["msg"]
    assert stored_raw(default_ha) == DOCUMENTED_DEFAULT


@pytest.mark.parametrize("value,words", [
    ('{"enable":true,', "not valid JSON"),
    ('[1, 2]', "not an object"),
    ('{"enable":"true"}', "enable must be a boolean"),
])
def test_invalid_value_is_refused_row_untouched(default_ha, run_module, value, words):
    r = run_module("oms_ha_config", args(default_ha, value=value))
    assert r.failed and words in r["msg"]
    assert stored_raw(default_ha) == DOCUMENTED_DEFAULT


def test_refetch_interval_from_the_downtime(default_ha, run_module):
    # OMS's FAQ example: 60 minutes down + 30 margin = 90
    a = args(default_ha, settings={"enable": True}, downtime_since="2024-05-01T10:00:00Z",
             downtime_until="2024-05-01T11:00:00Z", refetch_margin_min=30)
    first = run_module("oms_ha_config", a, diff=True)
    assert not first.failed, first.get("msg")
    assert first.changed and first["refetch_store_interval_min"] == 90
    assert json.loads(stored_raw(default_ha))["refetchStoreIntervalMin"] == 90
    assert not run_module("oms_ha_config", a).changed
    # a shorter downtime never lowers it
    short = run_module("oms_ha_config", args(default_ha, downtime_since="2024-05-01T10:00:00Z",
                                             downtime_until="2024-05-01T10:05:00Z"))
    assert not short.changed and short["config"]["refetchStoreIntervalMin"] == 90


def test_wrong_password_and_unreachable_fail_clearly(default_ha, run_module):
    bad = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, login_password="nope-nope"))
    assert bad.failed and "refused the login" in bad["msg"]
    gone = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, login_port=1,
                                            connect_timeout=3))
    assert gone.failed and "Cannot reach the MetaDB" in gone["msg"]
    assert stored_raw(default_ha) == DOCUMENTED_DEFAULT


def test_a_step_records_itself_in_the_journal(default_ha, run_module, tmp_path):
    """journal_step: started before the write, done with what HA was and is; check mode writes
    nothing; a failure is recorded with the module's message."""
    path = str(tmp_path / "journal" / "journal.json")
    step = dict(journal_path=path, journal_step="ha_off")
    check = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, **step), check=True)
    assert check["changed"] and "journal" not in check and not os.path.exists(path)

    r = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, **step))
    assert r["journal"] == {"path": path, "step": "ha_off", "written": True, "status": "done"}
    with open(path) as handle:
        record = json.load(handle)["steps"]["ha_off"]
    assert record["status"] == "done" and record["attempts"] == 1
    assert record["data"]["ha_was_enabled"] is False and record["data"]["ha_config_after"]["enable"] is True

    bad = run_module("oms_ha_config", args(default_ha, settings={"enable": "yes please"},
                                           journal_path=path, journal_step="ha_on"))
    assert bad["failed"] and bad["journal"]["status"] == "failed"
    with open(path) as handle:
        record = json.load(handle)["steps"]["ha_on"]
    assert record["status"] == "failed" and record["error"] == bad["msg"]
    assert json.loads(stored_raw(default_ha))["enable"] is True


def test_a_step_without_a_journal_is_refused(default_ha, run_module):
    r = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, journal_step="ha_off"))
    assert r["failed"] and "journal_path" in r["msg"]


def test_step_1_keeps_the_value_it_found_across_a_crash(default_ha, run_module, tmp_path):
    """ha_config_before is read before the first write; a re-run of a step left unfinished (a
    crash after its write) finds its own enable=false, and the journal keeps the first value."""
    found_raw = DOCUMENTED_DEFAULT.replace('"enable":false', '"enable":true')
    set_raw(default_ha, found_raw)
    path = str(tmp_path / "journal.json")
    step = dict(journal_path=path, journal_step="ha_off")
    first = run_module("oms_ha_config", args(default_ha, settings={"enable": False}, **step))
    assert first.changed and json.loads(stored_raw(default_ha))["enable"] is False
    with open(path) as handle:
        journal = json.load(handle)
    assert journal["facts"]["ha_config_before_raw"] == found_raw
    assert journal["facts"]["ha_config_before"]["enable"] is True
    journal["steps"]["ha_off"]["status"] = "started"  # what a crash after the write leaves
    with open(path, "w") as handle:
        json.dump(journal, handle)
    again = run_module("oms_ha_config", args(default_ha, settings={"enable": False}, **step))
    assert not again.changed and again["previous"]["enable"] is False
    with open(path) as handle:
        facts = json.load(handle)["facts"]
    assert facts["ha_config_before_raw"] == found_raw and facts["ha_config_before"]["enable"] is True


def test_restore_puts_back_the_value_before_step_1_with_the_procedures_changes(default_ha, run_module):
    """check, real, check again, real again (the rhythm of community.docker's tests)."""
    before = json.loads(DOCUMENTED_DEFAULT)
    before.update(enable=True, enableStore=False, enableHost=True)
    # what step 1 left: enable false, the rest as found
    set_raw(default_ha, json.dumps(dict(before, enable=False), separators=(",", ":")))
    # 40 min and 1 s ago: 41 min rounded up, and again until a minute has passed (a loaded machine's
    # four module runs must not cross to 42)
    t1 = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=40, seconds=1))
    a = args(default_ha, restore=before, downtime_since=t1.strftime("%Y-%m-%dT%H:%M:%SZ"), refetch_margin_min=30)
    check = run_module("oms_ha_config", a, check=True, diff=True)
    assert not check.failed, check.get("msg")
    assert check.changed
    assert check["plan"] == {"enable": True, "enable_before": True, "checkpoint": False, "refetch": True}
    assert any("enableStore is false" in n for n in check["notes"])
    assert json.loads(stored_raw(default_ha))["enable"] is False  # check mode wrote nothing

    real = run_module("oms_ha_config", a, diff=True)
    assert real.changed and real["refetch_store_interval_min"] == 71  # 40 min 1 s rounded up + 30
    assert json.loads(stored_raw(default_ha)) == dict(before, refetchStoreIntervalMin=71)
    assert real["changes_from_restore"] == ["refetchStoreIntervalMin: 30 -> 71"]
    assert real["changes"] == ["enable: false -> true", "refetchStoreIntervalMin: 30 -> 71"]
    assert json.loads(real["diff"]["before"])["enable"] is False and json.loads(real["diff"]["after"])["enable"] is True

    again_check = run_module("oms_ha_config", a, check=True, diff=True)
    again = run_module("oms_ha_config", a, diff=True)
    assert not again_check.changed and not again.changed
    # HA off by the inventory: every field as step 1 found it (refetchStoreIntervalMin too), enable false
    off = run_module("oms_ha_config", args(default_ha, restore=before, enable_after=False,
                                           downtime_since=t1.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert off["changes_from_restore"] == ["enable: true -> false"]
    assert off["changes"] == ["enable: true -> false", "refetchStoreIntervalMin: 71 -> 30"]
    assert off["plan"]["refetch"] is False


def test_reload_needs_the_container(default_ha, run_module):
    r = run_module("oms_ha_config", args(default_ha, settings={"enable": True}, reload="check"))
    assert r.failed and "container" in r["msg"]
    assert stored_raw(default_ha) == DOCUMENTED_DEFAULT
