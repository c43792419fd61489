"""Reading an OMS container from inspect data: version, mounts, secrets, limits, deviations."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from ansible_collections.obtools.oms.plugins.module_utils import container_facts as facts  # noqa: E402
from inspect_samples import OLD_411, OLD_IMAGE_411, old_411  # noqa: E402


@pytest.mark.parametrize("text,expected", [
    ("feature_4.1.1-ce", "4.1.1-CE"),
    ("reg.example.com:5000/oms:feature_4.2.0-ce", "4.2.0-CE"),
    ("oms:feature_4.2.0_CE", "4.2.0-CE"),
    ("oms:4.2.0-ce", "4.2.0-CE"),
    ("oms:v4.2.1", "4.2.1"),
    ("oms:feature_4.2.0-ee", "4.2.0-EE"),
    ("oms:latest", None),
    ("reg.example.com:5000/oms", None),
    (None, None),
])
def test_parse_version(text, expected):
    assert facts.parse_version(text) == expected


def test_version_falls_back_to_image_tags_then_label():
    assert facts.image_version("sha256:abc", OLD_IMAGE_411) == ("4.1.1-CE", "tag")
    labelled = {"RepoTags": [], "Config": {"Labels": {"version": "4.2.0-CE"}}}
    assert facts.image_version("sha256:abc", labelled) == ("4.2.0-CE", "label")
    assert facts.image_version("sha256:abc", {"RepoTags": []}) == (None, None)


def test_describe_recorded_411_container():
    c = facts.describe(OLD_411, OLD_IMAGE_411)
    assert c["exists"] and c["name"] == "oms_411" and not c["running"]
    assert c["status"] == "exited"
    assert c["version"] == "4.1.1-CE"
    assert c["mounts"] == {"config": "/data/config.yaml", "logs": "/data/oms/oms_logs",
                           "store": "/data/oms/oms_store", "run": "/data/oms/oms_run",
                           "ssl_certificate": None, "ssl_key": None}
    # HostConfig.Binds order, not the engine's Mounts order; anonymous volumes left out
    assert c["binds"] == OLD_411["HostConfig"]["Binds"]
    assert c["network_mode"] == "host" and c["privileged"] is False
    assert c["pids_limit"] == -1
    assert c["ulimits"] == [{"name": "nproc", "soft": 65535, "hard": 65535}]
    assert c["oms_host_ip"] == "10.0.0.5" and c["is_upgrade"] is False
    assert c["started_at"] == "2024-05-06T08:00:02.651Z"  # the journal's format
    assert c["finished_at"] == "2024-05-06T08:15:30.963Z"


def test_secret_environment_values_are_masked():
    env = facts.describe(old_411(Config={"Env": [
        "OMS_META_PASSWORD=s3cret", "API_TOKEN=t", "SSH_KEY=k", "db_pwd=x", "AWS_SECRET=y",
        "OMS_HOST_IP=10.0.0.5", "EMPTY"]}))["env"]
    assert env == {"OMS_META_PASSWORD": "********", "API_TOKEN": "********",
                   "SSH_KEY": "********", "db_pwd": "********", "AWS_SECRET": "********",
                   "OMS_HOST_IP": "10.0.0.5", "EMPTY": None}
    assert "s3cret" not in repr(facts.describe(OLD_411))


@pytest.mark.parametrize("reported,expected", [(None, -1), (0, -1), (-1, -1), (4096, 4096),
                                               ("junk", -1)])
def test_pids_limit_unlimited_however_the_engine_reports_it(reported, expected):
    assert facts.normalize_pids_limit(reported) == expected


def test_mounts_from_dash_dash_mount_and_ssl_binds_with_mode():
    data = old_411(HostConfig={"Binds": OLD_411["HostConfig"]["Binds"] + [
        "/data/oms/https_crt:/etc/pki/nginx/oms_server.crt:ro",
        "/data/oms/https_key:/etc/pki/nginx/oms_server.key:ro,Z"]})
    data["Mounts"].append({"Type": "bind", "Source": "/srv/extra", "Destination": "/extra",
                           "RW": False})
    c = facts.describe(data)
    assert c["mounts"]["ssl_certificate"] == "/data/oms/https_crt"
    assert c["mounts"]["ssl_key"] == "/data/oms/https_key"
    assert "/data/oms/https_key:/etc/pki/nginx/oms_server.key:ro,Z" in c["binds"]
    assert c["binds"][-1] == "/srv/extra:/extra:ro"


def test_mounts_only_in_mounts_section_are_found():
    data = old_411(HostConfig={"Binds": None})
    c = facts.describe(data)
    assert c["mounts"]["store"] == "/data/oms/oms_store"
    assert len(c["binds"]) == 4


def test_zero_finished_at_is_none():
    c = facts.describe(old_411(State={"FinishedAt": "0001-01-01T00:00:00Z", "Running": True}))
    assert c["finished_at"] is None and c["running"]


def test_deviations_of_the_test_bed_container_is_only_privileged():
    c = facts.describe(OLD_411)
    assert facts.deviations(c) == ["not privileged, the docs run OMS with --privileged=true"]


def test_deviations_as_the_docs_run_it_are_none():
    c = facts.describe(old_411(HostConfig={"Privileged": True, "PidsLimit": -1}))
    assert facts.deviations(c) == []


def test_every_deviation_is_named():
    c = facts.describe(old_411(
        HostConfig={"NetworkMode": "bridge", "PidsLimit": 2048,
                    "Ulimits": [{"Name": "nproc", "Soft": 1024, "Hard": 4096}],
                    "Binds": ["/data/config.yaml:/home/admin/conf/config.yaml"]},
        Config={"Env": []}, Mounts=[]))
    found = facts.deviations(c)
    assert any("network mode is 'bridge'" in d for d in found)
    assert any("pids limit is 2048" in d for d in found)
    assert any("ulimit nproc is 1024:4096" in d for d in found)
    assert any("OMS_HOST_IP" in d for d in found)
    assert any("/home/ds/store" in d and "/home/admin/logs" in d for d in found)
    no_ulimit = facts.describe(old_411(HostConfig={"Ulimits": None}))
    assert any("no nproc ulimit" in d for d in facts.deviations(no_ulimit))


@pytest.mark.parametrize("host,text", [
    ({}, "no"),
    ({"RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}, "no"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}, "always"),
    ({"RestartPolicy": {"Name": "unless-stopped"}}, "unless-stopped"),
    ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}, "on-failure:3"),
    ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 0}}, "on-failure"),
])
def test_restart_policy_reads_and_parses_back(host, text):
    assert facts.restart_policy_string(host) == text
    assert facts.restart_policy_string({"RestartPolicy": facts.parse_restart_policy(text)}) == text


@pytest.mark.parametrize("text", ["sometimes", "always:3", "on-failure:x", "no:1", ""])
def test_restart_policy_refuses_what_docker_would(text):
    assert facts.parse_restart_policy(text) is None if text else facts.parse_restart_policy(text) == {
        "Name": "no", "MaximumRetryCount": 0}
