"""How the rollback's load ahead renames a dump's tables on their way to mysql
(module_utils/restore_ahead.stage_line), and what it refuses to rename. The load, the swap and the
proof run on both MetaDB engines (tests/integration/test_rollback_restore_ahead.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
import pytest

from ansible_collections.obtools.oms.plugins.module_utils import restore_ahead
from ansible_collections.obtools.oms.plugins.module_utils.restore_ahead import NotStageable, stage_line

P = restore_ahead.STAGED_PREFIX.encode()


@pytest.mark.parametrize("line, renamed", [
    (b"DROP TABLE IF EXISTS `task`;\n", b"DROP TABLE IF EXISTS `" + P + b"task`;\n"),
    (b"CREATE TABLE `task` (\n", b"CREATE TABLE `" + P + b"task` (\n"),
    (b"LOCK TABLES `task` WRITE;\n", b"LOCK TABLES `" + P + b"task` WRITE;\n"),
    (b"/*!40000 ALTER TABLE `task` DISABLE KEYS */;\n", b"/*!40000 ALTER TABLE `" + P + b"task` DISABLE KEYS */;\n"),
    (b"INSERT INTO `task` VALUES (1,'INSERT INTO `x`'),(2,'b');\n",
     b"INSERT INTO `" + P + b"task` VALUES (1,'INSERT INTO `x`'),(2,'b');\n"),
    # a backquote in a name is doubled; only the first identifier is the table's
    (b"INSERT INTO `a``b` VALUES (1);\n", b"INSERT INTO `" + P + b"a``b` VALUES (1);\n"),
])
def test_every_statement_that_names_a_table_names_the_staged_one(line, renamed):
    assert stage_line(line) == renamed


@pytest.mark.parametrize("line", [
    b"-- Table structure for table `task`\n",
    b"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n",
    b"/*!50503 SET NAMES utf8mb4 */;\n",  # MySQL 8's mysqldump header: not a view
    b"  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n",
    b"  KEY `idx_task` (`task_id`),\n",
    b"UNLOCK TABLES;\n",
    b"(3,'CREATE TABLE `y`'),\n",
])
def test_other_lines_pass_as_they_are(line):
    assert stage_line(line) is line


@pytest.mark.parametrize("line, what", [
    (b"/*!50001 CREATE VIEW `v` AS SELECT 1 AS `x` */;\n", "view"),
    (b"/*!50013 DEFINER=`oms`@`%` SQL SECURITY DEFINER */\n", "view"),
    (b"DELIMITER ;;\n", "trigger or routine"),
    (b"  CONSTRAINT `fk_task` FOREIGN KEY (`pid`) REFERENCES `project` (`id`)\n", "constraint"),
])
def test_what_a_rename_would_break_is_refused(line, what):
    with pytest.raises(NotStageable, match=what):
        stage_line(line)


def test_a_name_too_long_for_the_prefix_is_refused():
    longest = b"t" * (restore_ahead.NAME_LIMIT - len(P))
    assert stage_line(b"CREATE TABLE `" + longest + b"` (\n").startswith(b"CREATE TABLE `" + P + longest)
    with pytest.raises(NotStageable, match="too long"):
        stage_line(b"CREATE TABLE `" + longest + b"t` (\n")


def test_a_name_that_does_not_end_on_its_line_is_refused():
    with pytest.raises(NotStageable):
        stage_line(b"CREATE TABLE `half\n")


def test_the_safety_dump_leaves_the_staged_tables_out_of_its_schema_dump():
    from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
    pieced = metadb_dump.PiecedDump("/nowhere", "mysqldump", "/nowhere/defaults.cnf")
    pieced.add("cm", sink=None, units=[], ignored=[P.decode() + "task"])
    argv = pieced._argv(pieced.dbs[0], metadb_dump.Slot("schema", None, None))
    assert "--ignore-table=cm.%stask" % P.decode() in argv and "--no-data" in argv
