"""Rows 4.2.0's docker_init.sh writes into 4.1.1 metadata besides the schema change.

[doc] zh-CN/1000.system-management/400.system-parameters/100.modify-system-parameters.md at V4.2.0
lists the system parameter struct.obkv.createtable (with this default value); the same page at
V4.1.1 does not, so an upgrade adds its row to <rm>.oms_normal_config. A rollback that does not
restore rm leaves it behind.
[obd] plugins/oms/1.0.0/upgrade_version.py: CREATE TABLE IF NOT EXISTS `oms_version` (`version`
varchar(64) PRIMARY KEY, `gmt_modified` timestamp) and REPLACE INTO it the new version, on the
MetaDB connection whose database upgrade_pre.py selected (drc_rm_db).
"""

from oms_sim.schema import qname

PARAMETERS_420 = [
    ("struct.obkv.createtable",
     "create table if not exists {TABLE_NAME} (`K` varbinary(1024) not null,`Q` varbinary(256) "
     "not null,`T` bigint not null,`V` varbinary(1048576),primary key(`K`, `Q`, `T`)) partition "
     "by key(`K`) partitions 64;",
     "default OBKV table DDL of HBase to OBKV structure migration"),
]

OMS_VERSION_DDL = ("CREATE TABLE IF NOT EXISTS {db}.`oms_version` (`version` varchar(64) NOT NULL, "
                   "`gmt_modified` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, "
                   "PRIMARY KEY (`version`)) DEFAULT CHARSET = utf8mb4")


def write(meta, rm_db, version, log):
    rm = qname(rm_db)
    for name, value, description in PARAMETERS_420:
        added = meta.execute("INSERT IGNORE INTO %s.oms_normal_config (cfg_name, cfg_value, "
                             "description, gmt_created, gmt_modified) VALUES (%%s, %%s, %%s, "
                             "NOW(), NOW())" % rm, (name, value, description))
        if added:
            log("  %s: new system parameter %s" % (rm_db, name))
    meta.execute(OMS_VERSION_DDL.format(db=rm))
    # obd REPLACEs; INSERT IGNORE gives the same row and keeps a re-run from changing anything.
    meta.execute("INSERT IGNORE INTO %s.`oms_version` (`version`) VALUES (%%s)" % rm, (version,))
    log("  %s: oms_version %s" % (rm_db, version))
