"""`/root/docker_init.sh`: initialise the MetaDB, or on upgrade apply 4.2.0's schema change.

[doc] It initialises the MetaDB, applies the schema changes of the three databases on upgrade, may
be re-run, and logs failures to /home/admin/logs/docker_init*.log. What it checks, and the fault
init_fail_halfway (rm migrated, cm and cm_hb not, exit 1), are the test bed's choices [guess].
"""

import pymysql

from oms_sim import faults, schema, settings
from oms_sim.logs import Log
from oms_sim.metadb import MetaDB

BLANK = ("absent", "empty")


def run():
    log = Log("docker_init.log")
    log("docker_init.sh started (image %s)" % _version())
    try:
        conf = settings.load()
    except settings.ConfigError as exc:
        log.error("docker_init.sh failed: %s" % exc)
        return 1
    meta = MetaDB(conf)
    try:
        meta.wait_reachable(10)
        return _init(conf, meta, log, faults.active())
    except pymysql.MySQLError as exc:
        log.error("docker_init.sh failed: MetaDB %s:%s error: %s. Check that the MetaDB runs and "
                  "the credentials in config.yaml are right, then run it again"
                  % (conf.meta_host, conf.meta_port, exc))
        return 1
    finally:
        meta.close()


def _version():
    import os
    return os.environ.get("OMS_SIM_VERSION", schema.V411)


def _init(conf, meta, log, active_faults):
    states = schema.states(meta, conf)
    log("MetaDB schema versions: %s" % ", ".join(
        "%s=%s" % (conf.databases[r], states[r]) for r in schema.ROLES))
    if all(states[r] in BLANK for r in schema.ROLES):
        schema.create_411(meta, conf, log)
        if conf.version == schema.V420:
            for role in schema.ROLES:
                schema.migrate_420(meta, conf.databases[role], role, log)
        log("docker_init.sh finished: MetaDB initialised at %s" % conf.version)
        return 0
    allowed = (schema.V411,) if conf.version == schema.V411 else (schema.V411, schema.V420)
    bad = [r for r in schema.ROLES if states[r] not in allowed]
    if bad:
        log.error("docker_init.sh failed: database(s) %s hold schema %s, which is neither %s; "
                  "nothing was changed. Restore the %s backup of the three databases and run "
                  "it again" % (", ".join(conf.databases[r] for r in bad),
                                ", ".join(repr(states[r]) for r in bad),
                                " nor ".join(allowed), schema.V411))
        return 1
    if conf.version == schema.V411:
        log("docker_init.sh finished: MetaDB already at %s, nothing to change" % schema.V411)
        return 0
    for index, role in enumerate(schema.ROLES):
        db = conf.databases[role]
        if states[role] == schema.V420:
            log("%s is already at %s, skipped" % (db, schema.V420))
        else:
            log("applying the %s schema change to %s" % (schema.V420, db))
            schema.migrate_420(meta, db, role, log)
        if index == 0 and "init_fail_halfway" in active_faults:
            rest = ", ".join(conf.databases[r] for r in schema.ROLES[1:])
            log.error("docker_init.sh failed half way: %s migrated, %s not (injected fault "
                      "init_fail_halfway)" % (db, rest))
            return 1
    log("generating component configs and restarting components")
    log("docker_init.sh finished: %s at %s" % (", ".join(conf.databases[r] for r in schema.ROLES),
                                               schema.V420))
    return 0
