"""preflight: three refusals, nothing changed: containers, MetaDB, files."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_nothing_changed(host):
    checks.assert_nothing_changed(host)


def test_the_other_version_container_untouched(host):
    other = checks.container("oms_%s_402" % checks.instance_of(host))
    assert other is not None and other.status == "created"
