"""Dump verification on sample files, sha256, the manifest and its atomic writes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess

import pytest


from ansible_collections.obtools.oms.plugins.module_utils import atomic_file  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import dump_files  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump, metadb_restore  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.oms_config import MetaDBSettings  # noqa: E402

HEAD = b"""-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: 127.0.0.1    Database: rm_411
/*!40101 SET NAMES utf8mb4 */;
"""
TABLE = b"""DROP TABLE IF EXISTS `%s`;
CREATE TABLE `%s` (
  `id` int(11) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `%s` VALUES (1),(2);
"""
VIEW = b"""/*!50001 DROP VIEW IF EXISTS `v`*/;
/*!50001 CREATE TABLE `v` (
  `id` tinyint NOT NULL
) ENGINE=MyISAM */;
"""
TAIL = b"""/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;

-- Dump completed on 2024-05-01 10:00:00
"""


def sample(tables=3, complete=True, view=False):
    body = HEAD
    if view:
        body += VIEW
    for i in range(tables):
        name = ("t%d" % i).encode()
        body += TABLE % (name, name, name)
    return body + (TAIL if complete else b"INSERT INTO `t0` VALUES (3")


def write(path, data, compress="none"):
    if compress == "gzip":
        with gzip.open(str(path), "wb") as f:
            f.write(data)
    elif compress == "zstd":
        subprocess.run(["zstd", "-q", "-c"], input=data, stdout=open(str(path), "wb"), check=True)
    else:
        path.write_bytes(data)
    return str(path)


COMPRESSIONS = ["none", "gzip"] + (["zstd"] if shutil.which("zstd") else [])


@pytest.mark.parametrize("compress", COMPRESSIONS)
def test_complete_dump_verifies(tmp_path, compress):
    path = write(tmp_path / dump_files.dump_file_name("rm_411", compress), sample(3, view=True), compress)
    assert dump_files.check_dump_content(path, compress, expected_tables=3) == []


@pytest.mark.parametrize("compress", COMPRESSIONS)
def test_truncated_dump_is_refused(tmp_path, compress):
    path = write(tmp_path / "x.sql", sample(3, complete=False), compress)
    problems = dump_files.check_dump_content(path, compress, expected_tables=3)
    assert len(problems) == 1 and "truncated" in problems[0]


def test_table_count_mismatch_is_refused(tmp_path):
    path = write(tmp_path / "x.sql", sample(2))
    problems = dump_files.check_dump_content(path, "none", expected_tables=3)
    assert problems == ["%s has 2 CREATE TABLE statements, the database has 3 tables" % path]


def test_empty_and_corrupt_files(tmp_path):
    empty = write(tmp_path / "e.sql", b"")
    assert "is empty" in dump_files.check_dump_content(empty, "none", 0)[0]
    bad_gz = write(tmp_path / "b.sql.gz", b"not gzip at all")
    assert "cannot be read as a gzip dump" in dump_files.check_dump_content(bad_gz, "gzip", 0)[0]


def test_scan_counts_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(dump_files, "CHUNK", 7)  # every pattern straddles reads
    scan = dump_files.scan_dump(io.BytesIO(sample(5)))
    assert scan["create_tables"] == 5 and scan["completed"]
    assert scan["content_bytes"] == len(sample(5))


def test_create_table_on_the_first_line_counts():
    assert dump_files.scan_dump(io.BytesIO(b"CREATE TABLE `a` (x int);\n-- Dump completed\n"))[
        "create_tables"] == 1


def test_sha256_and_size(tmp_path):
    data = sample(4)
    path = write(tmp_path / "x.sql", data)
    assert dump_files.sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))


def entry_for(tmp_path, name="rm_411", compress="none", tables=3, data=None):
    data = data if data is not None else sample(tables)
    file_name = dump_files.dump_file_name(name, compress)
    path = write(tmp_path / file_name, data, compress)
    digest, size = dump_files.sha256_file(path)
    return {"role": "rm", "database": name, "file": file_name, "size": size, "sha256": digest,
            "tables": tables, "checksums": {}}


def test_verify_against_manifest(tmp_path):
    entry = entry_for(tmp_path)
    assert dump_files.verify_against_manifest(str(tmp_path), entry) == []
    with open(str(tmp_path / entry["file"]), "ab") as f:
        f.write(b"-- tampered\n")
    problems = dump_files.verify_against_manifest(str(tmp_path), entry)
    assert any("sha256" in p for p in problems) and any("bytes" in p for p in problems)
    os.unlink(str(tmp_path / entry["file"]))
    assert dump_files.verify_against_manifest(str(tmp_path), entry) == [
        "%s is missing" % (tmp_path / entry["file"])]


def test_a_truncated_file_whose_manifest_matches_still_fails_on_content(tmp_path):
    entry = entry_for(tmp_path, data=sample(3, complete=False))
    problems = dump_files.verify_against_manifest(str(tmp_path), entry)
    assert len(problems) == 1 and "truncated" in problems[0]


def test_write_json_atomic_is_0600_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "manifest.json")
    atomic_file.write_json_atomic(path, {"format": 1, "databases": []})
    atomic_file.write_json_atomic(path, {"format": 1, "databases": [1]})
    assert json.load(open(path)) == {"format": 1, "databases": [1]}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["manifest.json"]


def test_read_manifest(tmp_path):
    assert dump_files.read_manifest(str(tmp_path)) is None
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(OmsError):
        dump_files.read_manifest(str(tmp_path))
    (tmp_path / "manifest.json").write_text('{"format": 99, "databases": []}')
    with pytest.raises(OmsError) as e:
        dump_files.read_manifest(str(tmp_path))
    assert "format 1" in e.value.msg


def test_file_names_and_compression():
    assert dump_files.dump_file_name("cm_hb_411", "zstd") == "cm_hb_411.sql.zst"
    assert dump_files.compression_of("cm_hb_411.sql.gz") == "gzip"
    assert dump_files.compression_of("cm_hb_411.sql") == "none"
    with pytest.raises(OmsError):
        dump_files.dump_file_name("x", "bzip2")


def test_verify_lists_every_bad_file_before_anything_else(tmp_path):
    good = entry_for(tmp_path, "rm_411")
    bad = entry_for(tmp_path, "cm_411")
    with open(str(tmp_path / bad["file"]), "r+b") as f:
        f.truncate(10)
    manifest = {"format": 1, "databases": [good, bad]}
    atomic_file.write_json_atomic(str(tmp_path / "manifest.json"), manifest)
    with pytest.raises(OmsError) as e:
        metadb_dump.verify(str(tmp_path))
    assert "cm_411.sql" in e.value.msg and "rm_411.sql" not in e.value.msg
    assert "Do not restore" in e.value.hint


def test_restore_refuses_a_backup_of_other_databases():
    s = MetaDBSettings(host="h", user="u", rm_db="rm_411", cm_db="cm_411", cm_hb_db="cm_hb_411")
    manifest = {"databases": [{"role": "rm", "database": "rm_999"}]}
    with pytest.raises(OmsError) as e:
        metadb_restore.targets(s, manifest)
    assert "rm_999" in e.value.msg


def test_manifest_matches_roles_and_names():
    m = {"databases": [{"role": "rm", "database": "r"}, {"role": "cm", "database": "c"}]}
    assert metadb_dump.manifest_matches(m, [("cm", "c"), ("rm", "r")])
    assert not metadb_dump.manifest_matches(m, [("cm", "c"), ("rm", "r2")])


def test_run_jobs_collects_every_error():
    def ok():
        return 1

    def fail():
        raise OmsError("x failed", "do y")

    outcomes = metadb_dump.run_jobs([ok, fail, ok], parallel=True)
    assert [o[0] for o in outcomes] == [1, None, 1]
    with pytest.raises(OmsError) as e:
        metadb_dump.raise_first(outcomes, "Dumping")
    assert e.value.msg == "x failed"
