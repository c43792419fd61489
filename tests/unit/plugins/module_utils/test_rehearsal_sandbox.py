"""The rehearsing OMS's run spec: the old container's, with every data mount swapped for a scratch
one, in the `in` relay's namespace, labelled as the rehearsal's, with no restart policy and the
limits asked; a mount the rehearsal host lacks is left out and said."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from ansible_collections.obtools.oms.plugins.module_utils import rehearsal_sandbox as sandbox  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import UPGRADED_FROM_LABEL  # noqa: E402
from inspect_samples import OLD_IMAGE_411, old_411  # noqa: E402

IMAGE = "reg.example.com/oms:feature_4.2.0-ce"
CONTAINERS = {"oms": "obrh_oms_411", "relay_in": "obrh_oms_411_relay_in", "relay_out": "obrh_oms_411_relay_out"}


class Engine(object):
    is_local = True


def spec(old, warnings, elsewhere=None):
    return sandbox.oms_spec(Engine(), old, OLD_IMAGE_411, CONTAINERS, IMAGE, "/backup/obrh_oms_411", "oms_411",
                            "2g", 1.5, warnings.append, elsewhere)


def test_every_data_mount_is_a_scratch_one_and_the_network_is_the_relays():
    warnings = []
    found = spec(old_411(), warnings)
    sources = dict((bind.split(":")[1], bind.split(":")[0]) for bind in found["binds"])
    assert sources == {"/home/admin/conf/config.yaml": "/backup/obrh_oms_411/config.yaml",
                       "/home/admin/logs": "/backup/obrh_oms_411/logs",
                       "/home/ds/store": "/backup/obrh_oms_411/store",
                       "/home/ds/run": "/backup/obrh_oms_411/run"}
    assert found["network_mode"] == "container:obrh_oms_411_relay_in"
    assert found["labels"][sandbox.LABEL] == "oms_411" and UPGRADED_FROM_LABEL not in found["labels"]
    assert found["restart_policy"] is None and found["mem_limit"] == "2g"
    assert found["nano_cpus"] == 1500000000 and found["name"] == "obrh_oms_411"
    assert warnings == []


def test_a_mount_the_rehearsal_host_lacks_is_left_out_and_said(tmp_path):
    old = old_411()
    old["HostConfig"]["Binds"].append("%s:/home/admin/ssl" % (tmp_path / "absent"))
    warnings = []
    found = spec(old, warnings, elsewhere="box1")
    assert not any(bind.endswith(":/home/admin/ssl") for bind in found["binds"])
    assert len(warnings) == 1 and "box1" in warnings[0] and "/home/admin/ssl" in warnings[0]
    # on the OMS host itself the mount is kept as it is
    found = spec(old, [], elsewhere=None)
    assert any(bind.endswith(":/home/admin/ssl") for bind in found["binds"])
