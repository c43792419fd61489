"""The new container's settings derived from the old one's inspect data, and mount comparison."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from ansible_collections.obtools.oms.plugins.module_utils import container_spec as spec_mod  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import describe  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402
from inspect_samples import OLD_411, OLD_IMAGE_411, old_411  # noqa: E402

IMAGE = "reg.example.com/oms:feature_4.2.0-ce"


def build(old=None, **kwargs):
    return spec_mod.build_run_spec(old or OLD_411, "oms_420", IMAGE, old_image_inspect=OLD_IMAGE_411,
                                   **kwargs)


def test_new_container_copies_old_settings_and_adds_is_upgrade():
    spec = build()
    assert spec["name"] == "oms_420" and spec["image"] == IMAGE
    assert spec["binds"] == OLD_411["HostConfig"]["Binds"]
    assert spec["network_mode"] == "host"
    assert spec["privileged"] is False  # copied, not forced: this host refuses --privileged
    assert spec["pids_limit"] == -1
    assert spec["ulimits"] == [{"name": "nproc", "soft": 65535, "hard": 65535}]
    assert spec["cap_add"] == []
    assert spec["tty"] and spec["stdin_open"]
    assert spec["labels"] == {"obtools.oms.upgraded_from": "oms_411"}
    assert spec["restart_policy"] is None
    # the image's own PATH/LANG stay with the image; what the user set is carried
    assert spec["environment"] == {"OMS_HOST_IP": "10.0.0.5", "OMS_META_PASSWORD": "s3cret",
                                   "IS_UPGRADE": "true"}
    # the old command was the image's: the new image chooses its own
    assert spec["command"] is None and spec["entrypoint"] is None


def test_privileged_caps_and_restart_policy_are_copied():
    spec = build(old_411(HostConfig={"Privileged": True, "CapAdd": ["SYS_PTRACE"],
                                     "PidsLimit": 0,
                                     "RestartPolicy": {"Name": "always",
                                                       "MaximumRetryCount": 0}}))
    assert spec["privileged"] is True and spec["cap_add"] == ["SYS_PTRACE"]
    assert spec["pids_limit"] == -1
    assert spec["restart_policy"] == {"Name": "always", "MaximumRetryCount": 0}


def test_overridden_command_is_carried():
    spec = build(old_411(Config={"Cmd": ["sleep", "infinity"]}))
    assert spec["command"] == ["sleep", "infinity"]


def test_without_old_image_data_engine_env_is_still_dropped():
    spec = spec_mod.build_run_spec(OLD_411, "oms_420", IMAGE)
    assert "PATH" not in spec["environment"] and spec["environment"]["LANG"] == "en_US.UTF-8"
    assert spec["command"] is None


def test_is_upgrade_false_in_old_env_is_overridden():
    spec = build(old_411(Config={"Env": ["OMS_HOST_IP=10.0.0.5", "IS_UPGRADE=false"]}))
    assert spec["environment"]["IS_UPGRADE"] == "true"


def test_oms_host_ip_option_wins_and_is_required_somewhere():
    assert build(oms_host_ip="10.0.0.9")["environment"]["OMS_HOST_IP"] == "10.0.0.9"
    with pytest.raises(OmsError) as err:
        build(old_411(Config={"Env": []}))
    assert "OMS_HOST_IP" in err.value.msg and "oms_host_ip" in err.value.hint
    assert build(old_411(Config={"Env": []}), oms_host_ip="10.0.0.9")["environment"] == \
        {"OMS_HOST_IP": "10.0.0.9", "IS_UPGRADE": "true"}


def test_ssl_files_are_added_read_only():
    spec = build(ssl_certificate="/data/oms/https_crt", ssl_key="/data/oms/https_key")
    assert spec["binds"][-2:] == ["/data/oms/https_crt:/etc/pki/nginx/oms_server.crt:ro",
                                  "/data/oms/https_key:/etc/pki/nginx/oms_server.key:ro"]
    assert len(spec["binds"]) == 6


def test_given_ssl_files_replace_the_old_ones_and_old_ones_are_kept_otherwise():
    old = old_411(HostConfig={"Binds": OLD_411["HostConfig"]["Binds"] + [
        "/old/crt:/etc/pki/nginx/oms_server.crt", "/old/key:/etc/pki/nginx/oms_server.key"]})
    kept = build(old)
    assert "/old/crt:/etc/pki/nginx/oms_server.crt" in kept["binds"]
    replaced = build(old, ssl_certificate="/new/crt", ssl_key="/new/key")
    assert not any(b.startswith("/old/") for b in replaced["binds"])
    assert "/new/key:/etc/pki/nginx/oms_server.key:ro" in replaced["binds"]


def test_ssl_certificate_without_key_is_refused():
    with pytest.raises(OmsError):
        build(ssl_certificate="/data/oms/https_crt")


def test_planned_masks_secrets_but_spec_keeps_them():
    spec = build()
    shown = spec_mod.planned(spec)
    assert shown["environment"]["OMS_META_PASSWORD"] == "********"
    assert spec["environment"]["OMS_META_PASSWORD"] == "s3cret"


def test_spec_deviations_match_the_old_containers():
    assert spec_mod.spec_deviations(build()) == \
        ["not privileged, the docs run OMS with --privileged=true"]


ACTUAL = describe(OLD_411)["mounts"]


def test_same_mounts_match_even_with_trailing_slash_or_dot():
    assert spec_mod.mount_mismatches(ACTUAL, {"config": "/data/config.yaml",
                                              "logs": "/data/oms/oms_logs/",
                                              "store": "/data/oms/./oms_store",
                                              "run": "/data/oms/oms_run"}) == []
    assert spec_mod.mount_mismatches(ACTUAL, {"store": "/data/oms/oms_store"}) == []
    assert spec_mod.mount_mismatches(ACTUAL, {}) == []
    assert spec_mod.mount_mismatches(ACTUAL, {"logs": None}) == []


def test_mount_mismatch_names_both_paths():
    found = spec_mod.mount_mismatches(ACTUAL, {"store": "/data2/oms_store",
                                               "run": "/data/oms/oms_run"})
    assert found == ["store: expected /data2/oms_store, the old container mounts "
                     "/data/oms/oms_store at /home/ds/store"]
    with pytest.raises(OmsError) as err:
        spec_mod.check_mounts("oms_411", ACTUAL, {"store": "/data2/oms_store"})
    assert "oms_411" in err.value.msg and "/data2/oms_store" in err.value.msg


def test_expected_mount_missing_in_old_container():
    actual = dict(ACTUAL, run=None)
    found = spec_mod.mount_mismatches(actual, {"run": "/data/oms/oms_run"})
    assert "no such mount" in found[0]


def test_unknown_mount_key_is_refused():
    with pytest.raises(OmsError) as err:
        spec_mod.mount_mismatches(ACTUAL, {"stor": "/x"})
    assert "stor" in err.value.msg


def test_old_container_without_data_mounts_is_refused():
    spec_mod.check_data_mounts("oms_411", ACTUAL)
    with pytest.raises(OmsError) as err:
        spec_mod.check_data_mounts("oms_411", dict(ACTUAL, store=None, logs=None))
    assert "/home/admin/logs" in err.value.msg and "/home/ds/store" in err.value.msg


def test_user_labels_are_carried_image_labels_are_not():
    image = dict(OLD_IMAGE_411, Config=dict(OLD_IMAGE_411["Config"],
                                            Labels={"vendor": "OceanBase"}))
    old = old_411(Config={"Labels": {"vendor": "OceanBase", "team": "dba",
                                     "obtools.oms.upgraded_from": "older"}})
    spec = spec_mod.build_run_spec(old, "oms_420", IMAGE, old_image_inspect=image)
    assert spec["labels"] == {"team": "dba", "obtools.oms.upgraded_from": "oms_411"}
