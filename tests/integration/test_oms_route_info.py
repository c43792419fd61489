"""oms_route_info on the test bed's real image tarballs (4.2.0, 4.2.1, 4.2.2): the route planned
from their manifests, and the refusals that name the missing or misplaced tarball."""

import pytest


@pytest.fixture(scope="module")
def tarballs(testbed):
    return {"4.2.0-CE": testbed.images()[1], "4.2.1-CE": testbed.release_archive("4.2.1-CE"),
            "4.2.2-CE": testbed.release_archive("4.2.2-CE")}


def test_a_chain_from_4_1_1_in_route_order_whatever_the_given_order(tarballs, run_module):
    result = run_module("oms_route_info", {
        "running_version": "feature_4.1.1-ce",
        "archives": [tarballs["4.2.2-CE"], tarballs["4.2.0-CE"], tarballs["4.2.1-CE"]]})
    assert not result.failed, result.get("msg")
    assert not result.changed
    assert [(h["source"], h["target"], h["archive"]) for h in result["route"]] == [
        ("4.1.1-CE", "4.2.0-CE", tarballs["4.2.0-CE"]),
        ("4.2.0-CE", "4.2.1-CE", tarballs["4.2.1-CE"]),
        ("4.2.1-CE", "4.2.2-CE", tarballs["4.2.2-CE"])]
    assert result["target_version"] == "4.2.2-CE" and len(result["table"]) == 3


def test_a_single_hop_with_its_declared_version(tarballs, run_module):
    result = run_module("oms_route_info", {
        "running_version": "4.2.1-CE",
        "archives": [{"path": tarballs["4.2.2-CE"], "version": "4.2.2-CE"}]})
    assert not result.failed, result.get("msg")
    assert [h["branch"] for h in result["route"]] == ["V4.2.2"]


def test_a_missing_intermediate_tarball_is_named(tarballs, run_module):
    result = run_module("oms_route_info", {
        "running_version": "4.1.1-CE", "archives": [tarballs["4.2.0-CE"], tarballs["4.2.2-CE"]]})
    assert result.failed
    assert "the tarball of 4.2.1-CE is missing" in result["msg"]
    assert "Add the 4.2.1-CE image tarball (tag feature_4.2.1-ce)" in result["msg"]


def test_a_tarball_in_the_wrong_place_and_a_downgrade_are_refused(tarballs, run_module):
    wrong = run_module("oms_route_info", {
        "running_version": "4.2.0-CE",
        "archives": [{"path": tarballs["4.2.2-CE"], "version": "4.2.1-CE"}]})
    assert wrong.failed
    assert "is given for 4.2.1-CE but holds 4.2.2-CE" in wrong["msg"]
    down = run_module("oms_route_info", {
        "running_version": "4.2.1-CE", "archives": [tarballs["4.2.0-CE"]]})
    assert down.failed and "a downgrade" in down["msg"]
