"""metadb_dump.uses_databases: which sessions of the PROCESSLIST make the dump refuse. A MetaDB
often holds other deployments' databases too, whose names contain ours."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import pytest

from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump

OURS = ["rm_411", "cm_411", "cm_hb_411"]


@pytest.mark.parametrize("db, statement", [
    ("cm_411", None),
    (None, "INSERT INTO `cm_411`.host (ip) VALUES ('10.0.0.5')"),
    ("other", "select * from cm_hb_411.heatbeat_sequence"),
    (None, "UPDATE rm_411.oms_project SET status='RUNNING'"),
])
def test_a_session_on_our_databases_counts(db, statement):
    assert metadb_dump.uses_databases(db, statement, OURS)


@pytest.mark.parametrize("db, statement", [
    ("bench_cm_hb_411", "INSERT INTO `bench_cm_411`.host (ip, host_status) VALUES ('10.0.0.6', 'ONLINE')"),
    (None, "SELECT * FROM cm_411_old.host"),
    (None, "SELECT * FROM x$cm_411.host"),
    ("information_schema", None),
    (None, "SHOW PROCESSLIST"),
])
def test_another_deployments_session_does_not(db, statement):
    assert not metadb_dump.uses_databases(db, statement, OURS)
