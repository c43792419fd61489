"""check_mode: --check --diff changed nothing: containers, MetaDB, files."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
import checks  # noqa: E402


def test_nothing_changed(host):
    checks.assert_nothing_changed(host)
