# -*- coding: utf-8 -*-
"""The restart policy of container_stop_start: parsed or refused, and set only when it differs
(in check mode, said and not set)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import container_stop_start as lifecycle
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError


class Client(object):
    """Records the policy updates asked of the engine."""

    def __init__(self):
        self.updates = []

    def update_restart_policy(self, name, policy):
        self.updates.append((name, policy))
        return {"HostConfig": {"RestartPolicy": policy}}


def inspect(name, count=0):
    return {"HostConfig": {"RestartPolicy": {"Name": name, "MaximumRetryCount": count}}}


def test_a_policy_is_parsed_or_refused():
    assert lifecycle.wanted_policy(None) is None
    assert lifecycle.wanted_policy("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    with pytest.raises(OmsError) as raised:
        lifecycle.wanted_policy("sometimes")
    assert "not a Docker restart policy" in raised.value.msg


def test_the_policy_is_set_only_when_it_differs():
    client = Client()
    diff = dict(before={}, after={})
    same, changed = lifecycle.set_policy(client, "oms_411", inspect("always"), "always", diff)
    assert not changed and client.updates == [] and diff == dict(before={}, after={})
    after, changed = lifecycle.set_policy(client, "oms_411", inspect("always"), "no", diff)
    assert changed and client.updates == [("oms_411", {"Name": "no", "MaximumRetryCount": 0})]
    assert diff == dict(before={"restart_policy": "always"}, after={"restart_policy": "no"})
    assert after["HostConfig"]["RestartPolicy"]["Name"] == "no"


def test_check_mode_says_the_change_and_sets_nothing():
    client = Client()
    diff = dict(before={}, after={})
    found = inspect("unless-stopped")
    after, changed = lifecycle.set_policy(client, "oms_411", found, "no", diff, check=True)
    assert changed and after is found and client.updates == []
    assert diff["after"] == {"restart_policy": "no"}
