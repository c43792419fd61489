"""The simulated MetaDB schema: 4.1.1's tables and data, and the 4.2.0 change docker_init.sh applies.

[guess] OMS's real schema and its 4.1.1 -> 4.2.0 change are not public. Documented (OMS_FACTS.md):
oms_normal_config(cfg_name, cfg_value) with ha.config in rm; host(ip, host_status) in cm;
heart_beat(task_name, task_type, host_ip, gmt_modified) and heatbeat_sequence(id, gmt_created, gmt_modified) in cm_hb.
Everything else here (oms_meta_version, the other tables, the 4.2.0 change) is invented.
"""

import json

V411 = "4.1.1-CE"
V420 = "4.2.0-CE"
V421 = "4.2.1-CE"
V422 = "4.2.2-CE"
# [doc] oms-doc V4.2.0/V4.2.1/V4.2.2 1300.upgrade-guide: each release upgrades only from the one before.
CHAIN = (V411, V420, V421, V422)
ROLES = ("rm", "cm", "cm_hb")

# [doc] system-parameters/modify-ha-configurations: the documented default, keys in this order.
HA_CONFIG_DEFAULT = json.dumps({
    "enable": False, "enableHost": False, "enableStore": True,
    "perceiveStoreClientCheckpoint": False, "enableConnector": True, "enableJdbcWriter": True,
    "subtopicStoreNumberThreshold": 5, "checkRequestIntervalSec": 600,
    "checkJdbcWriterIntervalSec": 600, "checkHostDownIntervalSec": 540,
    "checkModuleExceptionIntervalSec": 240, "clearAbnormalResourceHours": 72,
    "refetchStoreIntervalMin": 30}, separators=(",", ":"))

MARKER_DDL = ("CREATE TABLE IF NOT EXISTS oms_meta_version (id int PRIMARY KEY, "
              "version varchar(32) NOT NULL, gmt_modified datetime NOT NULL)")

DDL_411 = {
    "rm": [
        MARKER_DDL,
        "CREATE TABLE IF NOT EXISTS oms_normal_config (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "cfg_name varchar(128) NOT NULL, cfg_value text, description varchar(512), "
        "gmt_created datetime NOT NULL, gmt_modified datetime NOT NULL, "
        "UNIQUE KEY uk_cfg_name (cfg_name))",
        "CREATE TABLE IF NOT EXISTS oms_project (id varchar(64) PRIMARY KEY, "
        "name varchar(128) NOT NULL, type varchar(32) NOT NULL, status varchar(32) NOT NULL, "
        "owner varchar(64), importance varchar(16), source_endpoint_type varchar(32), "
        "sink_endpoint_type varchar(32), gmt_create datetime NOT NULL, "
        "gmt_modified datetime NOT NULL, gmt_start datetime NULL, gmt_finish datetime NULL)",
        "CREATE TABLE IF NOT EXISTS oms_datasource (id varchar(64) PRIMARY KEY, "
        "name varchar(128) NOT NULL, type varchar(32) NOT NULL, host varchar(128), port int, "
        "username varchar(64), gmt_create datetime NOT NULL)",
    ],
    "cm": [
        MARKER_DDL,
        "CREATE TABLE IF NOT EXISTS host (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "ip varchar(64) NOT NULL, host_status varchar(32) NOT NULL, region varchar(64), "
        "location int, gmt_created datetime NOT NULL, gmt_modified datetime NOT NULL, "
        "UNIQUE KEY uk_ip (ip))",
        "CREATE TABLE IF NOT EXISTS region (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "region varchar(64) NOT NULL, location int NOT NULL, is_default tinyint NOT NULL, "
        "gmt_created datetime NOT NULL)",
        "CREATE TABLE IF NOT EXISTS host_process (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "ip varchar(64) NOT NULL, process_name varchar(64) NOT NULL, status varchar(32) NOT NULL, "
        "gmt_modified datetime NOT NULL, UNIQUE KEY uk_ip_process (ip, process_name))",
    ],
    "cm_hb": [
        MARKER_DDL,
        "CREATE TABLE IF NOT EXISTS heart_beat (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "task_name varchar(128) NOT NULL, task_type varchar(64) NOT NULL, "
        "host_ip varchar(64) NOT NULL, status varchar(32), "
        "gmt_created datetime NOT NULL, gmt_modified datetime NOT NULL, "
        "UNIQUE KEY uk_task_ip (task_name, host_ip))",
        "CREATE TABLE IF NOT EXISTS heatbeat_sequence (id bigint AUTO_INCREMENT PRIMARY KEY, "
        "gmt_created datetime, gmt_modified datetime)",
    ],
}

# [guess] The 4.2.0 schema change: one visible, checkable change per database.
MIGRATION_420 = {
    "rm": [("oms_project", "labels",
            "ALTER TABLE {db}.oms_project ADD COLUMN labels varchar(1024) NULL"),
           (None, None,
            "CREATE TABLE IF NOT EXISTS {db}.oms_project_label (id bigint AUTO_INCREMENT PRIMARY KEY, "
            "project_id varchar(64) NOT NULL, label_name varchar(128) NOT NULL)")],
    "cm": [("host", "host_version", "ALTER TABLE {db}.host ADD COLUMN host_version varchar(32) NULL")],
    "cm_hb": [("heart_beat", "component_version",
               "ALTER TABLE {db}.heart_beat ADD COLUMN component_version varchar(32) NULL")],
}

# [guess] 4.2.1's and 4.2.2's changes: one visible change per database each, on top of the one
# before, so that a skipped, repeated or out-of-order docker_init.sh shows in the columns. Neither
# is idempotent (no IF NOT EXISTS): a second run on the same databases fails with a duplicate
# column, the unfavourable side of what the docs do not say.
MIGRATIONS_LATER = {
    V421: {
        "rm": ["ALTER TABLE {db}.oms_project ADD COLUMN alarm_level varchar(16) NULL",
               "CREATE TABLE {db}.oms_project_quota (id bigint AUTO_INCREMENT PRIMARY KEY, "
               "project_id varchar(64) NOT NULL, max_connectors int NULL)"],
        "cm": ["ALTER TABLE {db}.host ADD COLUMN cpu_quota int NULL"],
        "cm_hb": ["ALTER TABLE {db}.heart_beat ADD COLUMN checkpoint_ts bigint NULL"],
    },
    V422: {
        "rm": ["ALTER TABLE {db}.oms_project ADD COLUMN sync_delay_seconds int NULL"],
        "cm": ["ALTER TABLE {db}.host ADD COLUMN arch varchar(16) NULL"],
        "cm_hb": ["ALTER TABLE {db}.heart_beat ADD COLUMN sequence_group varchar(32) NULL"],
    },
}


def predecessor(version):
    """The version `version` upgrades from, or None for 4.1.1 (or an unknown one)."""
    if version in CHAIN[1:]:
        return CHAIN[CHAIN.index(version) - 1]
    return None


PROJECTS = [
    # id, name, type, status, source, sink, days ago created, finished?
    ("np_4xtbsim0001", "mysql_orders_to_ob", "MIGRATION", "RUNNING", "MYSQL", "OB_MYSQL", 20, False),
    ("np_4xtbsim0002", "ob_users_to_kafka", "SYNC", "RUNNING", "OB_MYSQL", "KAFKA", 12, False),
    ("np_4xtbsim0003", "mysql_archive_2023", "MIGRATION", "FINISHED", "MYSQL", "OB_MYSQL", 40, True),
    ("np_4xtbsim0004", "ob_billing_to_mysql", "MIGRATION", "SUSPEND", "OB_MYSQL", "MYSQL", 5, False),
]

PROCESSES = ("nginx", "oms_console", "oms_drc_cm", "oms_drc_supervisor", "sshd")


def qname(db):
    return "`%s`" % db.replace("`", "``")


def db_state(meta, db):
    """'absent', 'empty', 'unknown', or the version marker of database `db`."""
    if not meta.query("SELECT 1 FROM information_schema.schemata WHERE schema_name=%s", (db,)):
        return "absent"
    tables = [r[0] for r in meta.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema=%s", (db,))]
    if not tables:
        return "empty"
    if "oms_meta_version" not in tables:
        return "unknown"
    rows = meta.query("SELECT version FROM %s.oms_meta_version ORDER BY id LIMIT 1" % qname(db))
    return rows[0][0] if rows else "unknown"


def states(meta, settings):
    return {role: db_state(meta, db) for role, db in settings.databases.items()}


def create_411(meta, settings, log):
    """First start on empty databases: the 4.1.1 schema and its initial data."""
    for role in ROLES:
        db = qname(settings.databases[role])
        meta.execute("CREATE DATABASE IF NOT EXISTS %s" % db)
        for ddl in DDL_411[role]:
            meta.execute(ddl.replace("IF NOT EXISTS ", "IF NOT EXISTS %s." % db, 1))
    rm, cm = qname(settings.rm_db), qname(settings.cm_db)
    configs = [("ha.config", HA_CONFIG_DEFAULT, "HA configuration"),
               ("oms.alarm.enable", "true", "[guess] alarm switch"),
               ("store.default.keep.hours", "168", "[guess] default store log retention")]
    for name, value, desc in configs:
        meta.execute("INSERT IGNORE INTO %s.oms_normal_config (cfg_name, cfg_value, description, "
                     "gmt_created, gmt_modified) VALUES (%%s, %%s, %%s, NOW(), NOW())" % rm,
                     (name, value, desc))
    for pid, name, ptype, status, src, sink, days, finished in PROJECTS:
        meta.execute(
            "INSERT IGNORE INTO %s.oms_project (id, name, type, status, owner, importance, "
            "source_endpoint_type, sink_endpoint_type, gmt_create, gmt_modified, gmt_start, "
            "gmt_finish) VALUES (%%s, %%s, %%s, %%s, 'admin', 'MEDIUM', %%s, %%s, "
            "NOW() - INTERVAL %%s DAY, NOW() - INTERVAL 1 HOUR, NOW() - INTERVAL %%s DAY, %s)"
            % (rm, "NOW() - INTERVAL 1 DAY" if finished else "NULL"),
            (pid, name, ptype, status, src, sink, days, days - 1))
    meta.execute("INSERT IGNORE INTO %s.oms_datasource (id, name, type, host, port, username, "
                 "gmt_create) VALUES ('e_4xtbsim01', 'src_mysql', 'MYSQL', '10.0.0.11', 3306, "
                 "'migrator', NOW()), ('e_4xtbsim02', 'dst_ob', 'OB_MYSQL', '10.0.0.12', 2881, "
                 "'migrator@tenant', NOW())" % rm)
    meta.execute("INSERT IGNORE INTO %s.region (id, region, location, is_default, gmt_created) "
                 "VALUES (1, %%s, %%s, 1, NOW())" % cm, (settings.cm_region, settings.cm_location))
    meta.execute("INSERT IGNORE INTO %s.host (ip, host_status, region, location, gmt_created, "
                 "gmt_modified) VALUES (%%s, 'OFFLINE', %%s, %%s, NOW(), NOW())" % cm,
                 (settings.host_ip, settings.cm_region, settings.cm_location))
    for role in ROLES:
        set_marker(meta, settings.databases[role], V411)
    log("MetaDB initialised with the %s schema: %s" % (V411, ", ".join(
        settings.databases[r] for r in ROLES)))


def set_marker(meta, db, version):
    meta.execute("INSERT INTO %s.oms_meta_version (id, version, gmt_modified) VALUES (1, %%s, "
                 "NOW()) ON DUPLICATE KEY UPDATE version=VALUES(version), gmt_modified=NOW()"
                 % qname(db), (version,))


def column_exists(meta, db, table, column):
    return bool(meta.query("SELECT 1 FROM information_schema.columns WHERE table_schema=%s AND "
                           "table_name=%s AND column_name=%s", (db, table, column)))


def migrate_to(meta, db, role, version, log):
    """Apply one release's change to one database: 4.2.0's skips what is there, the later ones
    do not (their statements fail on a second run)."""
    if version == V420:
        return migrate_420(meta, db, role, log)
    for ddl in MIGRATIONS_LATER[version][role]:
        statement = ddl.format(db=qname(db))
        meta.execute(statement)
        log("  %s: %s" % (db, statement))
    set_marker(meta, db, version)
    return None


def create_at(meta, settings, version, log):
    """First start on empty databases: 4.1.1's schema and data, then every change up to `version`."""
    create_411(meta, settings, log)
    for step in CHAIN[1:CHAIN.index(version) + 1]:
        for role in ROLES:
            migrate_to(meta, settings.databases[role], role, step, log)


def migrate_420(meta, db, role, log):
    """Apply 4.2.0's change to one database (each step skipped when already there)."""
    for table, column, ddl in MIGRATION_420[role]:
        if table and column_exists(meta, db, table, column):
            continue
        statement = ddl.format(db=qname(db))
        meta.execute(statement)
        log("  %s: %s" % (db, statement))
    set_marker(meta, db, V420)
