"""The obtools.oms test bed: a real Docker engine, a real MariaDB MetaDB and an OMS simulator.

    from obtestbed import Testbed
    bed = Testbed(); bed.up(["a"]); info = bed.describe("a"); bed.reset("a"); bed.down(["a"])
"""

from obtestbed.core import Testbed
from obtestbed.errors import TestbedError

__all__ = ["Testbed", "TestbedError"]
