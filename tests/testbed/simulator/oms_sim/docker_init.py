"""`/root/docker_init.sh`: initialise the MetaDB, or on upgrade apply its release's schema change
(4.2.0's on 4.1.1 data, 4.2.1's on 4.2.0 data, 4.2.2's on 4.2.1 data).

[doc] zh-CN/400.deployment-guide/800.scale-out-oms.md (V4.1.1, V4.2.0): its steps are 1. initialise
the data in the MetaDB, 2. generate every component's config, 3. restart every component, 4.
initialise resource tags and groups; it takes 2-4 minutes (profile.init_seconds here) and on
success prints 【结束】全部初始化步骤执行成功. [doc] 900.check-the-deployment.md: it may be re-run
after a failure; failures log to /home/admin/logs/docker_init*.log (500.deploy-oms-on-a-single-
node.md). [guess] what it prints when supervisord does not answer yet (the container still
boots), its exit codes, what it checks, and the faults init_fail_halfway (rm migrated, cm and
cm_hb not, exit 1) and init_no_success_line (exit 0 without the success line).
"""

import time

import pymysql

from oms_sim import faults, params_420, profile, schema, settings, supervisor
from oms_sim.logs import Log
from oms_sim.metadb import MetaDB

BLANK = ("absent", "empty")
SUCCESS_LINE = u"\u3010\u7ed3\u675f\u3011\u5168\u90e8\u521d\u59cb\u5316\u6b65\u9aa4\u6267\u884c\u6210\u529f"
# = 【结束】全部初始化步骤执行成功 ("[end] every initialisation step succeeded")
# Share of init_seconds each documented step takes [guess].
STEP_SHARES = (0.25, 0.15, 0.45, 0.15)


def run():
    log = Log("docker_init.log")
    log("docker_init.sh started (image %s)" % _version())
    try:
        supervisor.request("status", timeout=5)
    except OSError:
        # [guess] what supervisorctl says when supervisord does not answer.
        log.error("unix://%s no such file" % supervisor.SOCKET_PATH)
        log.error("docker_init.sh failed: supervisor is not running yet (the container is still "
                  "starting); run docker_init.sh again once `supervisorctl status` answers")
        return 1
    try:
        conf = settings.load()
    except settings.ConfigError as exc:
        log.error("docker_init.sh failed: %s" % exc)
        return 1
    _reach_out(conf, log, faults.active())
    meta = MetaDB(conf)
    try:
        meta.wait_reachable(10)
        rc = _init(conf, meta, log, faults.active())
        if rc is not None:
            return rc
        return _restart_components(log, faults.active())
    except pymysql.MySQLError as exc:
        log.error("docker_init.sh failed: MetaDB %s:%s error: %s. Check that the MetaDB runs and "
                  "the credentials in config.yaml are right, then run it again"
                  % (conf.meta_host, conf.meta_port, exc))
        return 1
    finally:
        meta.close()


def _reach_out(conf, log, active_faults):
    """[guess] A rehearsing OMS sees the copied projects as running and may reach out to their
    sources and targets and to the databases of the MetaDB it was copied from: with the faults
    reach_out and reach_out_dbs it tries, and prints one line per attempt (CONNECTED or failed)."""
    import socket
    for target in str(active_faults.get("reach_out") or "").split("/"):
        host, dummy, port = target.rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            sock = socket.create_connection((host, int(port)), 3)
            sock.close()
            log("reach_out: %s CONNECTED" % target)
        except OSError as exc:
            log("reach_out: %s failed (%s)" % (target, exc.__class__.__name__))
    for database in str(active_faults.get("reach_out_dbs") or "").split("/"):
        if not database:
            continue
        try:
            conn = pymysql.connect(host=conf.meta_host, port=conf.meta_port, user=conf.meta_user,
                                   password=conf.meta_password, database=database,
                                   connect_timeout=5)
            conn.close()
            log("reach_out: database %s CONNECTED" % database)
        except pymysql.MySQLError as exc:
            log("reach_out: database %s failed (%s)" % (database, exc.args[0] if exc.args else exc))


def _version():
    import os
    return os.environ.get("OMS_SIM_VERSION", schema.V411)


def _init(conf, meta, log, active_faults):
    states = schema.states(meta, conf)
    log("MetaDB schema versions: %s" % ", ".join(
        "%s=%s" % (conf.databases[r], states[r]) for r in schema.ROLES))
    if all(states[r] in BLANK for r in schema.ROLES):
        schema.create_at(meta, conf, conf.version, log)
        log("MetaDB initialised at %s" % conf.version)
        return None
    if conf.version not in (schema.V411, schema.V420):
        return _init_later(conf, meta, log, active_faults, states)
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
        log("MetaDB already at %s, nothing to change" % schema.V411)
        return None
    durations = profile.load()
    log("[1/4] initialising the data in the MetaDB")
    started = time.monotonic()
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
        if index == 0:
            params_420.write(meta, db, schema.V420, log)
    log("MetaDB %s at %s" % (", ".join(conf.databases[r] for r in schema.ROLES), schema.V420))
    _sleep_until(started, durations["init_seconds"] * STEP_SHARES[0])
    return None


def _init_later(conf, meta, log, active_faults, states):
    """4.2.1's and 4.2.2's change, only on their predecessor's schema [doc: each upgrades only
    from the one before]. [guess] No step is skipped when already done: on databases it already
    changed, the change fails (duplicate column) and docker_init.sh exits 1."""
    version = conf.version
    before = schema.predecessor(version)
    bad = [r for r in schema.ROLES if states[r] not in (before, version)]
    if bad:
        log.error("docker_init.sh failed: database(s) %s hold schema %s, not %s: %s upgrades only "
                  "from %s; nothing was changed. Restore the %s backup of the three databases, "
                  "or run each release's docker_init.sh in turn"
                  % (", ".join(conf.databases[r] for r in bad),
                     ", ".join(repr(states[r]) for r in bad), before, version, before, before))
        return 1
    durations = profile.load()
    log("[1/4] initialising the data in the MetaDB")
    started = time.monotonic()
    for index, role in enumerate(schema.ROLES):
        db = conf.databases[role]
        log("applying the %s schema change to %s" % (version, db))
        schema.migrate_to(meta, db, role, version, log)
        if index == 0 and "init_fail_halfway" in active_faults:
            rest = ", ".join(conf.databases[r] for r in schema.ROLES[1:])
            log.error("docker_init.sh failed half way: %s migrated, %s not (injected fault "
                      "init_fail_halfway)" % (db, rest))
            return 1
        if index == 0:
            params_420.write(meta, db, version, log)
    log("MetaDB %s at %s" % (", ".join(conf.databases[r] for r in schema.ROLES), version))
    _sleep_until(started, durations["init_seconds"] * STEP_SHARES[0])
    return None


def _sleep_until(started, seconds):
    left = started + seconds - time.monotonic()
    if left > 0:
        time.sleep(left)


def _restart_components(log, active_faults):
    """Steps 2-4: configs, a restart of every component (health false meanwhile), tags."""
    durations = profile.load()
    total = durations["init_seconds"]
    started = time.monotonic()
    log("[2/4] generating every component's config")
    _sleep_until(started, total * STEP_SHARES[1])
    log("[3/4] restarting every component")
    supervisor.request("restart")
    if "init_no_success_line" in active_faults:
        log.error("restart of oms_drc_cm did not complete (injected fault init_no_success_line)")
        return 0
    _sleep_until(started, total * sum(STEP_SHARES[1:3]))
    log("[4/4] initialising resource tags and resource groups")
    _sleep_until(started, total * sum(STEP_SHARES[1:]))
    deadline = time.monotonic() + durations["boot_seconds"] + 120
    while supervisor.request("status") != "RUNNING":
        if time.monotonic() > deadline:
            log.error("docker_init.sh failed: the components did not come back after the "
                      "restart; read /home/admin/logs/oms_sim.log, then run it again")
            return 1
        time.sleep(0.5)
    log(SUCCESS_LINE)
    return 0
