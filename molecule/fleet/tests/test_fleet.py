"""fleet: r6 ends on 4.2.0, r7 (docker_init.sh failed) is back on 4.1.1 with identical data."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_each_deployment_ends_where_it_should(host):
    inst = checks.instance_of(host)
    d = checks.describe(inst)
    if inst == "r6":
        checks.assert_upgraded(d)
    else:
        snap = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "testbed", inst + ".snapshot.json")
        checks.assert_rolled_back(d, snap)
