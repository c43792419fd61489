"""The documented route table and the planning of one run's hops (pure logic)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import routes
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

REPO = "work.oceanbase-dev.com/obartifact-store/oms"


def tarball(version, path=None, declared=None):
    archive = {"path": path or "/data/oms_%s.tar" % version,
               "tags": ["%s:feature_%s-ce" % (REPO, version)]}
    if declared:
        archive["version"] = declared
    return archive


def targets(hops):
    return [(h["source"], h["target"], h["archive"]) for h in hops]


def test_table_is_the_three_documented_hops_each_from_its_predecessor():
    table = routes.table()
    assert [(h["source"], h["target"], h["branch"]) for h in table] == [
        ("4.1.1-CE", "4.2.0-CE", "V4.2.0"), ("4.2.0-CE", "4.2.1-CE", "V4.2.1"),
        ("4.2.1-CE", "4.2.2-CE", "V4.2.2")]
    for before, after in zip(table, table[1:]):
        assert before["target"] == after["source"]
    assert [h["image_tag"] for h in table] == [
        "feature_4.2.0-ce", "feature_4.2.1-ce", "feature_4.2.2-ce"]
    assert all(h["page"] == "en-US/1300.upgrade-guide/200.single-node-upgrade.md" for h in table)


@pytest.mark.parametrize("given, expected", [
    ("4.2.1", "4.2.1-CE"), ("V4.2.1-CE", "4.2.1-CE"), ("feature_4.2.1-ce", "4.2.1-CE"),
    ("4.2.1-ce", "4.2.1-CE"), ("4.2.1-EE", None), ("latest", None), (None, None)])
def test_versions_are_read_in_every_documented_spelling(given, expected):
    assert routes.normalize_version(given) == expected


def test_one_hop_from_each_documented_source():
    for source, target, branch in routes.HOPS:
        hops = routes.plan_route(source, [tarball(target[:5])])
        assert targets(hops) == [(source, target, "/data/oms_%s.tar" % target[:5])]
        assert hops[0]["branch"] == branch


def test_a_chain_is_planned_in_route_order_whatever_order_the_tarballs_come_in():
    hops = routes.plan_route("4.1.1-CE", [tarball("4.2.2"), tarball("4.2.0"), tarball("4.2.1")])
    assert targets(hops) == [("4.1.1-CE", "4.2.0-CE", "/data/oms_4.2.0.tar"),
                             ("4.2.0-CE", "4.2.1-CE", "/data/oms_4.2.1.tar"),
                             ("4.2.1-CE", "4.2.2-CE", "/data/oms_4.2.2.tar")]


def test_a_skipped_version_is_refused_naming_the_missing_tarball():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.1.1-CE", [tarball("4.2.0"), tarball("4.2.2")])
    assert "tarball of 4.2.1-CE is missing" in exc.value.msg
    assert "feature_4.2.1-ce" in exc.value.hint
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [tarball("4.2.2")])
    assert "4.2.1-CE is missing" in exc.value.msg


def test_an_explicit_target_beyond_the_tarballs_names_the_missing_one():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [tarball("4.2.1")], target_version="4.2.2")
    assert "4.2.2-CE is missing" in exc.value.msg
    assert targets(routes.plan_route("4.2.0-CE", [tarball("4.2.1")], "4.2.1-CE")) == [
        ("4.2.0-CE", "4.2.1-CE", "/data/oms_4.2.1.tar")]


def test_a_tarball_beyond_the_target_is_refused():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [tarball("4.2.1"), tarball("4.2.2")], target_version="4.2.1")
    assert "beyond the target 4.2.1-CE" in exc.value.msg


@pytest.mark.parametrize("running, given, word", [
    ("4.2.1-CE", "4.2.0", "a downgrade"), ("4.2.1-CE", "4.2.1", "the running version")])
def test_a_downgrade_or_the_running_version_is_refused(running, given, word):
    with pytest.raises(OmsError) as exc:
        routes.plan_route(running, [tarball(given)])
    assert word in exc.value.msg and "/data/oms_%s.tar" % given in exc.value.msg


def test_a_tarball_whose_content_is_not_its_declared_place_is_refused():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [tarball("4.2.2", path="/data/oms_421.tar",
                                               declared="4.2.1-CE")])
    assert exc.value.msg == "the image tarball /data/oms_421.tar is given for 4.2.1-CE but holds 4.2.2-CE"


def test_the_same_version_twice_is_refused():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [tarball("4.2.1", "/a.tar"), tarball("4.2.1", "/b.tar")])
    assert "/a.tar and /b.tar both hold 4.2.1-CE" in exc.value.msg


@pytest.mark.parametrize("running", ["4.0.0-CE", "4.2.2-EE", "4.3.0-CE", "3.2.2-CE"])
def test_no_route_from_an_undocumented_running_version(running):
    with pytest.raises(OmsError) as exc:
        routes.plan_route(running, [tarball("4.2.2")])
    assert "no documented upgrade route starts there" in exc.value.msg


def test_an_undocumented_or_untagged_tarball_is_refused():
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.1-CE", [tarball("4.3.0")])
    assert "no documented route reaches" in exc.value.msg
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.1-CE", [{"path": "/x.tar", "tags": ["busybox:latest"]}])
    assert "holds no OMS tag" in exc.value.msg
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.1-CE", [])
    assert exc.value.hint == "Give the tarball of 4.2.2-CE"


def test_several_versions_in_one_tarball_are_refused():
    both = {"path": "/x.tar", "tags": ["oms:feature_4.2.1-ce", "oms:feature_4.2.2-ce"]}
    with pytest.raises(OmsError) as exc:
        routes.plan_route("4.2.0-CE", [both])
    assert "several OMS versions" in exc.value.msg


def _repo_file(*parts):
    import os
    return os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", *parts)


def test_the_table_shown_by_ansible_doc_and_docs_routes_md_is_the_one_in_routes_py():
    import re

    import yaml
    with open(_repo_file("plugins", "modules", "oms_route_info.py")) as f:
        source = f.read()
    doc = yaml.safe_load(re.search(r"DOCUMENTATION = r'''(.*?)'''", source, re.S).group(1))
    shown = [tuple(m.groups()) for m in (
        re.match(r"^(\S+) -> (\S+), branch (\S+), image tag (\S+)\.$", note) for note in doc["notes"])
        if m]
    assert shown == [(h["source"], h["target"], h["branch"], h["image_tag"]) for h in routes.table()]
    with open(_repo_file("docs", "routes.md")) as f:
        rows = re.findall(r"^\| (\S+) -> (\S+) \| `(V[\d.]+)` \|", f.read(), re.M)
    assert rows == [h[:3] for h in routes.HOPS]
