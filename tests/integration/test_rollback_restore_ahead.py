"""The rollback loads the upgrade's dumps ahead of the stop and swaps them in inside the window
(module_utils/restore_ahead.py), on each MetaDB engine (scripts/test.sh runs this file on both).

After a committed upgrade, the rollback playbook (oms_rollback_restore_ahead left at its default):
- refuses, before the stop and with 4.2.0 still serving, when the MetaDB has too little room for
  the copies (oms_rollback_metadb_free_bytes stated too small);
- verifies every dump and loads it beside the tables while 4.2.0 still serves: both steps end
  before T3;
- loads a database whose dump holds a view inside the window instead (a view names the tables it
  reads: renamed, it would read the staged ones), and says so;
- leaves the staged tables out of the safety dump of what 4.2.0 wrote;
- swaps the staged tables in after the stop, leaves no staged table behind, and gives back every
  row of every table and the view, by this test's own reading of the rows (rows.py).
"""
import os

from conftest import INSTANCE
from obtestbed.access import connect
from playbooks import journal, run_playbook, serves, tail, write_inventory
from rows import differences, table_rows

VIEW = "oms_test_view"


def execute(d, statement):
    conn = connect(d)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.commit()
        conn.close()


def staged_tables(d):
    names = ", ".join("'%s'" % d["metadb"][k] for k in ("rm_db", "cm_db", "cm_hb_db"))
    return execute(d, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (%s) "
                      "AND TABLE_NAME LIKE '\\_oms\\_staged\\_%%'" % names)


def test_the_rollback_loads_ahead_of_the_stop_and_swaps_in_the_window(instance):
    d = instance
    cm = d["metadb"]["cm_db"]
    staged_dbs = sorted(d["metadb"][k] for k in ("rm_db", "cm_hb_db"))
    execute(d, "DROP VIEW IF EXISTS `%s`.`%s`" % (cm, VIEW))
    execute(d, "CREATE VIEW `%s`.`%s` AS SELECT 1 AS one" % (cm, VIEW))
    try:
        inventory = write_inventory(d)
        before = table_rows(d)
        up = run_playbook(inventory, "upgrade")
        assert up.rc == 0, tail(up)

        # too little room stated for the copies beside the serving tables: refused before the stop
        cramped = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true",
                                                       "oms_rollback_metadb_free_bytes": "1000"}, limit=INSTANCE)
        assert cramped.rc != 0, tail(cramped)
        assert "The MetaDB has 1000 bytes free" in cramped.output, tail(cramped)
        assert "oms_rollback_restore_ahead=false" in cramped.output, tail(cramped)
        assert journal(d)["window"]["outcome"] == "failed_before_stop"
        assert "rollback_stop_new" not in journal(d)["steps"] and staged_tables(d) == ()
        assert serves(d, d["new_container"]), tail(cramped)

        back = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true"}, limit=INSTANCE)
        assert back.rc == 0, tail(back)
        j = journal(d)
        facts, steps = j["facts"], j["steps"]
        assert sorted(facts["rollback_staged"]) == staged_dbs, facts
        assert list(facts["rollback_not_staged"]) == [cm] and "view" in facts["rollback_not_staged"][cm]
        assert "%s is not loaded ahead of the stop (the dump holds a view)" % cm in back.output
        # loaded while 4.2.0 served: before T3, the stop
        assert steps["rollback_verify"]["finished_at"] <= steps["rollback_stage"]["started_at"]
        assert steps["rollback_stage"]["finished_at"] <= facts["t3"]
        assert sorted(facts["rollback_swapped"]) == staged_dbs
        # the safety dump holds what 4.2.0 wrote, not the tables loaded beside it
        safety = facts["rollback_safety_dump_dir"]
        for entry in facts["rollback_safety_manifest"]["databases"]:
            with open(os.path.join(safety, entry["file"]), "rb") as handle:
                assert b"_oms_staged_" not in handle.read(), entry["file"]
        # the view's database was loaded inside the window; all three are put back
        assert sorted(facts["rollback_restored"]) == sorted(staged_dbs + [cm])
        assert staged_tables(d) == ()
        after = table_rows(d)
        assert after[cm][VIEW] == [("one=1",)]
        assert differences(before, after) == []
    finally:
        execute(d, "DROP VIEW IF EXISTS `%s`.`%s`" % (cm, VIEW))
