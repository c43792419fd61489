"""The content digest that proves a restore at rollback: what it ignores and what it must see."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import dump_digest

MARIADB = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: 127.0.0.1    Database: rm_411
-- ------------------------------------------------------
-- Server version\t10.11.19-MariaDB-0+deb12u1

/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `oms_normal_config`;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `oms_normal_config` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `cfg_value` text DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `oms_normal_config`
--
-- ORDER BY:  `id`

LOCK TABLES `oms_normal_config` WRITE;
/*!40000 ALTER TABLE `oms_normal_config` DISABLE KEYS */;
INSERT INTO `oms_normal_config` VALUES
(1,'{\\"enable\\":false}\\n-- not a comment\\n) AUTO_INCREMENT=7'),
(3,'x');
/*!40000 ALTER TABLE `oms_normal_config` ENABLE KEYS */;
UNLOCK TABLES;
CREATE TABLE `we``ird` (
  `a` int
) ORGANIZATION INDEX AUTO_INCREMENT = 1376221 DEFAULT CHARSET = utf8mb4 TABLET_SIZE = 134217728 PCTFREE = 0;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-29 10:00:00
"""


def chunked(data, size):
    d = dump_digest.ContentDigest()
    for i in range(0, len(data), size):
        d.feed(data[i:i + size])
    return d.hexdigest(), d.tables


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100, 1000, 1 << 20])
def test_same_digest_and_tables_for_every_chunk_size(size):
    digest, tables = chunked(MARIADB, size)
    assert digest == dump_digest.digest_of(MARIADB)
    assert tables == ["oms_normal_config", "we`ird"]


@pytest.mark.parametrize("old,new", [
    (b"AUTO_INCREMENT=4 ", b"AUTO_INCREMENT=991 "),                 # MariaDB/MySQL reload
    (b"AUTO_INCREMENT = 1376221 ", b"AUTO_INCREMENT = 5000001 "),   # OceanBase's cached ranges
    (b"AUTO_INCREMENT = 1376221 ", b""),
    (b"-- Dump completed on 2026-11-29 10:00:00", b"-- Dump completed"),
    (b"-- Host: 127.0.0.1 ", b"-- Host: 10.0.0.7 "),
    (b"-- Server version\t10.11.19-MariaDB-0+deb12u1", b"-- Server version\t5.7.25"),
    (b"/*M!999999\\- enable the sandbox mode */\n", b""),
])
def test_what_a_reload_may_change_is_ignored(old, new):
    assert old in MARIADB
    assert dump_digest.digest_of(MARIADB.replace(old, new, 1)) == dump_digest.digest_of(MARIADB)


@pytest.mark.parametrize("old,new", [
    (b"(3,'x')", b"(3,'y')"),                                       # a value
    (b"(3,'x');", b"(3,'x'),\n(4,'z');"),                          # a row more
    (b"(1,'{\\\"enable\\\":false}\\n-- not a comment\\n) AUTO_INCREMENT=7'),\n", b""),  # a row less
    (b"AUTO_INCREMENT=7'", b"AUTO_INCREMENT=8'"),                   # inside a value it is data
    (b"`cfg_value` text", b"`cfg_value` mediumtext"),              # the schema
    (b"COLLATE=utf8mb4_general_ci", b"COLLATE=utf8mb4_bin"),       # a table option that matters
    (b"PCTFREE = 0", b"PCTFREE = 10"),
    (b"DROP TABLE IF EXISTS `oms_normal_config`;\n", b""),
])
def test_every_change_of_schema_or_data_is_seen(old, new):
    assert old in MARIADB
    assert dump_digest.digest_of(MARIADB.replace(old, new, 1)) != dump_digest.digest_of(MARIADB)


def test_a_truncated_stream_differs():
    assert dump_digest.digest_of(MARIADB[:-60]) != dump_digest.digest_of(MARIADB)
