"""Nothing in plugins/ may use a statement one of the MetaDB engines refuses, or a weaker client option.

docs/development/design.md's "What makes it safe" says why the restore is proven without CHECKSUM TABLE: it
is a syntax error on OceanBase (1064), so a dump or restore built on it fails on most OMS deployments.
--defaults-extra-file lets ~/.my.cnf on the OMS host override host, user and password.
"""

import os
import re

import pytest

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins")

REFUSED = [
    # (pattern, why) -- case-insensitive, whitespace-tolerant
    (r"CHECKSUM\s+TABLE", "OceanBase has no CHECKSUM TABLE (error 1064)"),
    (r"defaults-extra-file", "the clients must get --defaults-file= first (~/.my.cnf must not apply)"),
]


def plugin_files():
    for root, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(root, name)


def test_plugins_are_there():
    assert len(list(plugin_files())) > 10


@pytest.mark.parametrize("pattern,why", REFUSED)
def test_no_refused_statement_in_plugins(pattern, why):
    hits = []
    rx = re.compile(pattern, re.I)
    for path in plugin_files():
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if rx.search(line):
                    hits.append("%s:%d: %s" % (os.path.relpath(path, PLUGINS), number, line.strip()))
    assert not hits, "%s:\n%s" % (why, "\n".join(hits))
