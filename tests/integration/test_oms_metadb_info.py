"""oms_metadb_info against the test bed's real MetaDB: the engine, the dumps' size estimate, and the
proof of a backup directory (which needs no MetaDB), all changing nothing.

It shares test_oms_metadb_backup's test bed (an instance reset to a fresh 4.1.1 deployment, its OMS
container stopped) and its own SQL helpers.
"""

import os

import pytest

from test_oms_metadb_backup import (
    add_tricky_data,
    args,
    clear_heartbeats,
    dbs,
    engine_of,
    insert_heartbeats,
    query,
    stopped_bed,
)


@pytest.fixture(scope="module", name="bed")
def bed_fixture(request):
    return stopped_bed(request)


@pytest.fixture(name="backup_dir")
def backup_dir_fixture(tmp_path):
    return str(tmp_path / "backup")


ESTIMATE_KEYS = {"estimate_bytes", "total_bytes", "margin", "databases", "method", "missing_databases"}


def test_estimate_reports_the_three_databases_in_check_mode_too(bed, run_module, backup_dir):
    for check in (False, True):
        r = run_module("oms_metadb_info", args(bed, backup_dir=backup_dir), check=check)
        assert not r.failed, r.get("msg")
        assert not r.changed
        assert [d["database"] for d in r["databases"]] == dbs(bed)
        assert r["missing_databases"] == []
        assert r["estimate_bytes"] >= r["total_bytes"] > 0
        assert r["enough_space"] is True and r["free_bytes"] > 0
        assert r["engine"]["engine"] == engine_of(bed)
        assert r["method"] == ("sampled" if engine_of(bed) == "oceanbase" else "information_schema")
        assert "manifest" not in r.result
        assert not os.path.exists(backup_dir)


def test_estimate_covers_the_real_dump_and_is_never_zero(bed, run_module, backup_dir):
    """The preflight's estimate against the dump it estimates, on whichever engine the bed runs."""
    add_tricky_data(bed)
    insert_heartbeats(bed, 30000)  # rows that information_schema may not count yet (OceanBase: 0)
    if engine_of(bed) != "oceanbase":
        # MariaDB's estimate is information_schema's, which InnoDB refreshes in the background
        # (a running OMS's tables have it); rows inserted a second ago need their statistics now.
        query(bed, "ANALYZE TABLE heatbeat_sequence", database=bed["metadb"]["cm_hb_db"])
    est = run_module("oms_metadb_info", args(bed, gather=["estimate"], backup_dir=backup_dir))
    assert not est.failed, est.get("msg")
    dumped = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
    assert not dumped.failed, dumped.get("msg")
    real = sum(e["size"] for e in dumped["manifest"]["databases"])
    by_db = dict((d["database"], d["bytes"]) for d in est["databases"])
    print("estimate (%s, %s): %s bytes before margin, %s with it; real dump %s bytes"
          % (est["engine"]["engine"], est["method"], est["total_bytes"], est["estimate_bytes"], real))
    assert by_db[bed["metadb"]["cm_hb_db"]] > 30000 * 20  # the heartbeat rows are seen
    assert est["estimate_bytes"] >= real
    assert dumped["manifest"]["engine"]["engine"] == engine_of(bed)
    clear_heartbeats(bed)


def test_engine_alone_reads_only_the_engine(bed, run_module):
    r = run_module("oms_metadb_info", args(bed, gather=["engine"]))
    assert not r.failed and not r.changed, r.get("msg")
    assert r["engine"]["engine"] == engine_of(bed) and r["engine"]["version"]
    assert not ESTIMATE_KEYS & set(r.result) and "manifest" not in r.result


def test_backup_alone_proves_the_dumps_without_connecting(bed, run_module, backup_dir):
    dumped = run_module("oms_metadb_backup", args(bed, state="dumped", backup_dir=backup_dir))
    assert not dumped.failed, dumped.get("msg")
    # an unreachable MetaDB: the proof of the files never needs it
    nowhere = {"gather": ["backup"], "backup_dir": backup_dir, "login_host": "127.0.0.1",
               "login_port": 1, "connect_timeout": 1}
    for check in (False, True):
        r = run_module("oms_metadb_info", nowhere, check=check)
        assert not r.failed and not r.changed, r.get("msg")
        assert r["manifest"] == dumped["manifest"]
        assert "engine" not in r.result and not ESTIMATE_KEYS & set(r.result)

    every = run_module("oms_metadb_info", args(bed, gather=["engine", "estimate", "backup"],
                                               backup_dir=backup_dir))
    assert not every.failed, every.get("msg")
    assert every["manifest"] == dumped["manifest"] and every["engine"]["engine"] == engine_of(bed)
    assert every["estimate_bytes"] > 0 and every["enough_space"] is True

    hb = os.path.join(backup_dir, dumped["manifest"]["databases"][2]["file"])
    with open(hb, "ab") as f:
        f.write(b"-- one more line\n")
    damaged = run_module("oms_metadb_info", nowhere)
    assert damaged.failed and hb in damaged["msg"] and "does not verify" in damaged["msg"]


def test_backup_without_backup_dir_and_a_missing_manifest_fail_clearly(bed, run_module, backup_dir):
    r = run_module("oms_metadb_info", {"gather": ["backup"]})
    assert r.failed and "backup_dir" in r["msg"]
    r = run_module("oms_metadb_info", {"gather": ["backup"], "backup_dir": backup_dir})
    assert r.failed and "No backup manifest" in r["msg"]
