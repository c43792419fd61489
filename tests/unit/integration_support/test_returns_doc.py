"""The RETURN-documentation check the integration tests apply to every module result."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))

import returns_doc  # noqa: E402  pylint: disable=wrong-import-position,import-error

GOOD_JOURNAL_INFO = {"changed": False, "exists": True, "journal": {}, "done_steps": [], "window_running": False,
                     "window_waited": 0.0}


def test_a_result_as_documented_passes():
    assert returns_doc.problems("oms_journal_info", {"path": "/j"}, GOOD_JOURNAL_INFO) == []


def test_a_missing_always_key_is_found():
    result = dict(GOOD_JOURNAL_INFO)
    del result["exists"]
    assert returns_doc.problems("oms_journal_info", {"path": "/j"}, result) == [
        "oms_journal_info: exists is documented as returned always but is missing"]


def test_an_undocumented_key_is_found():
    result = dict(GOOD_JOURNAL_INFO, total_bytes=3)
    assert returns_doc.problems("oms_journal_info", {"path": "/j"}, result) == [
        "oms_journal_info: total_bytes is returned but not in RETURN"]


def test_a_wrong_type_is_found_and_null_is_accepted():
    result = dict(GOOD_JOURNAL_INFO, exists="yes", done_steps=None)
    assert returns_doc.problems("oms_journal_info", {"path": "/j"}, result) == [
        "oms_journal_info: exists is str, documented as bool"]


def test_a_key_returned_without_the_option_its_condition_names_is_found():
    result = dict(GOOD_JOURNAL_INFO, next_step="ha_off", pending_steps=["ha_off"])
    found = returns_doc.problems("oms_journal_info", {"path": "/j"}, result)
    assert len(found) == 2 and all("returned without steps" in f for f in found)
    assert returns_doc.problems("oms_journal_info", {"path": "/j", "steps": ["ha_off"]}, result) == []


def test_a_key_returned_in_a_state_its_condition_does_not_name_is_found():
    result = {"changed": False, "container": {"exists": True, "name": "x"}, "started_at": None,
              "restart_policy_before": "always", "stopped_at": None}
    found = returns_doc.problems("oms_container_upgrade", {"name": "x", "state": "started"}, result)
    assert found == ["oms_container_upgrade: stopped_at is returned with state=started, "
                     "documented only 'when O(state=stopped)'"]


def test_nested_keys_must_be_documented_under_contains():
    result = {"changed": False, "image": {"name": "i", "present": True, "id": "sha256:1", "version": None,
                                          "extra": 1}}
    found = returns_doc.problems("oms_container_info", {"image": "i"}, result)
    assert found == ["oms_container_info: image.extra is returned but not documented under contains"]


def test_failed_results_are_not_checked():
    assert returns_doc.problems("oms_journal_info", {}, {"failed": True, "msg": "x"}) == []


def test_states_named_reads_both_forms():
    assert returns_doc.states_named("when O(state=dumped) (not in check mode), O(state=restored)") == {
        "dumped", "restored"}
    assert returns_doc.states_named("when O(state) is C(stopped), C(started) or C(upgraded)") == {
        "stopped", "started", "upgraded"}


def test_a_key_returned_without_the_list_value_its_condition_names_is_found():
    result = {"changed": False, "manifest": {"format": 1}, "estimate_bytes": 3}
    found = returns_doc.problems("oms_metadb_info", {"gather": ["backup"], "backup_dir": "/b"}, result)
    assert found == ["oms_metadb_info: estimate_bytes is returned with gather=['backup'], "
                     "documented 'when O(gather) includes V(estimate)'"]
    # the option's default counts when it is not given
    found = returns_doc.problems("oms_metadb_info", {}, {"changed": False, "engine": {"engine": "mysql"},
                                                         "manifest": {}})
    assert found == ["oms_metadb_info: manifest is returned with gather=['engine', 'estimate'], "
                     "documented 'when O(gather) includes V(backup)'"]


def test_list_values_named_reads_or():
    assert returns_doc.list_values_named("when O(gather) includes V(engine) or V(estimate)") == {
        "gather": {"engine", "estimate"}}
