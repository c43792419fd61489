"""`serve`: the OMS server process, run (and restarted) by the supervisor (supervisor.py). Boots,
checks config and metadata, serves the console, and while it runs keeps heartbeats, host status
and its files current. A refusal ends this process, never the container.
"""

import datetime
import json
import os
import signal
import threading
import time

import pymysql

from oms_sim import faults, profile, schema, settings, supervisor
from oms_sim.console import Console
from oms_sim.ha_watch import HaWatch
from oms_sim.logs import Log
from oms_sim.metadb import MetaDB
from oms_sim.schema import qname

BLANK = ("absent", "empty")
STORE_DIR = "/home/ds/store"
RUN_DIR = "/home/ds/run"


class StartRefused(Exception):
    """The server must not start on this metadata; the message says why and what to do."""


class State(object):
    """What /oms/health reports, updated by the main loop."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "starting"      # running | awaiting_init
        self.booting = True         # [guess] nginx answers 502 while the components boot
        self.db_ok = False
        self.online = False
        self.reasons = ["starting"]

    def set(self, mode, db_ok, online, reasons):
        with self.lock:
            self.mode, self.db_ok, self.online, self.reasons = mode, db_ok, online, reasons

    def health(self):
        with self.lock:
            return self.online and self.db_ok, list(self.reasons)


def decide_mode(conf, meta, log):
    """Create, accept or refuse the metadata this image finds. Returns running | awaiting_init."""
    states = schema.states(meta, conf)
    log("MetaDB %s:%s schema versions: %s" % (conf.meta_host, conf.meta_port, ", ".join(
        "%s=%s" % (conf.databases[r], states[r]) for r in schema.ROLES)))
    values = set(states.values())
    if values <= set(BLANK):
        schema.create_at(meta, conf, conf.version, log)
        return "running"
    if values == {conf.version}:
        log("existing %s metadata found, not reinitialising" % conf.version)
        return "running"
    before = schema.predecessor(conf.version)
    if before and values <= {before, conf.version}:
        if conf.is_upgrade:
            log("IS_UPGRADE=true on %s metadata: serving, but this server stays offline until "
                "/root/docker_init.sh has migrated rm, cm and cm_hb to %s" % (
                    before, conf.version))
            return "awaiting_init"
        raise StartRefused(
            "MetaDB holds %s metadata and IS_UPGRADE is not true: refusing to start rather than "
            "reinitialise it. Start the %s container with -e IS_UPGRADE=true and run "
            "/root/docker_init.sh" % (before, conf.version))
    raise StartRefused(
        "MetaDB databases hold schema versions %s, which this OMS %s cannot run on. Restore the "
        "databases from the backup that matches this version" % (
            ", ".join("%s=%s" % (conf.databases[r], states[r]) for r in schema.ROLES),
            conf.version))


class Server(object):
    def __init__(self, conf, log, stop):
        self.conf = conf
        self.log = log
        self.stop = stop
        self.meta = MetaDB(conf)
        self.state = State()
        self.ha = HaWatch(conf, log)
        self.mode = "starting"
        self.db_error = None
        self.tick = 0

    def startup(self):
        self.mode = decide_mode(self.conf, self.meta, self.log)
        # Before our first heartbeat: with HA on, a downtime shows as a stale supervisor row.
        self.ha.check(self.meta)
        self.update()

    def loop(self):
        while not self.stop.wait(1.0):
            self.tick += 1
            self.update()

    def update(self):
        try:
            active = faults.active()
            self.meta.execute("INSERT INTO %s.heatbeat_sequence (gmt_created, gmt_modified) VALUES "
                              "(NOW(), NOW())" % qname(self.conf.cm_hb_db))
            if self.tick % 2 == 0:
                self.refresh(active)
            if self.tick % 5 == 0:
                self.ha.check(self.meta)
            if self.db_error:
                self.log("MetaDB reachable again")
                self.db_error = None
        except pymysql.MySQLError as exc:
            self.meta.close()
            if str(exc) != self.db_error:
                self.log.error("MetaDB error, retrying every second: %s" % exc)
            self.db_error = str(exc)
            self.state.set(self.mode, False, False, ["MetaDB error: %s" % exc])
        if self.tick % 10 == 0:
            self.write_files()

    def refresh(self, active):
        # [guess] a server that started on 4.1.1 metadata stays offline until docker_init.sh has
        # migrated it AND restarted the components (its step 3); migrated metadata alone does not
        # bring this process online.
        reasons = []
        if self.mode == "awaiting_init":
            reasons.append("started on %s metadata: waiting for /root/docker_init.sh to migrate "
                           "it to %s and restart the components" % (
                               schema.predecessor(self.conf.version), self.conf.version))
        if "never_online" in active:
            reasons.append("injected fault never_online")
        online = not reasons
        cm, hb = qname(self.conf.cm_db), qname(self.conf.cm_hb_db)
        if online:
            self.meta.execute("INSERT INTO %s.heart_beat (task_name, task_type, host_ip, status, "
                              "gmt_created, gmt_modified) VALUES ('supervisor', 'supervisor', %%s, "
                              "'RUNNING', NOW(), NOW()) "
                              "ON DUPLICATE KEY UPDATE gmt_modified=NOW(), status='RUNNING'" % hb,
                              (self.conf.host_ip,))
        status = "ONLINE" if online else "OFFLINE"  # [guess] the value when not online
        self.meta.execute("INSERT INTO %s.host (ip, host_status, region, location, gmt_created, "
                          "gmt_modified) VALUES (%%s, %%s, %%s, %%s, NOW(), NOW()) ON DUPLICATE "
                          "KEY UPDATE gmt_modified=IF(host_status=VALUES(host_status), "
                          "gmt_modified, NOW()), host_status=VALUES(host_status)" % cm,
                          (self.conf.host_ip, status, self.conf.cm_region, self.conf.cm_location))
        for name in schema.PROCESSES:
            self.meta.execute("INSERT INTO %s.host_process (ip, process_name, status, "
                              "gmt_modified) VALUES (%%s, %%s, %%s, NOW()) ON DUPLICATE KEY "
                              "UPDATE status=VALUES(status), gmt_modified=NOW()" % cm,
                              (self.conf.host_ip, name, "RUNNING" if online else "STARTING"))
        self.state.set(self.mode, True, online, reasons)

    def write_files(self):
        now = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        healthy, reasons = self.state.health()
        _write_json(os.path.join(RUN_DIR, "oms_sim_status.json"), {
            "version": self.conf.version, "mode": self.mode, "healthy": healthy,
            "reasons": reasons, "host_ip": self.conf.host_ip, "updated_at": now})
        _write_json(os.path.join(STORE_DIR, "store_checkpoint.json"), {
            "store": "store_%s" % self.conf.host_ip, "checkpoint": int(time.time()),
            "updated_at": now})


def _write_json(path, data):
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass


def run():
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log = Log("oms_sim.log")
    version = os.environ.get("OMS_SIM_VERSION", schema.V411)
    durations = profile.load()
    log("OMS %s (simulator) starting" % version)
    try:
        conf = settings.load()
    except settings.ConfigError as exc:
        log.error("OMS failed to start: %s" % exc)
        return 1
    server = Server(conf, log, stop)
    try:
        console = Console(conf, server.state, log)
    except (OSError, ValueError) as exc:
        log.error("OMS failed to start: console port %s: %s" % (conf.console_port, exc))
        return 1
    console.start()
    try:
        return _boot_and_serve(server, console, conf, log, stop, durations)
    finally:
        console.stop()
        server.meta.close()


def _boot_and_serve(server, console, conf, log, stop, durations):
    # [obd] start.py waits 60 s after `docker run` before its first look: the boot phase, during
    # which nginx answers 502 [guess: the status], is profile.boot_seconds long.
    log("booting the components (%.1f s); the console answers 502 meanwhile"
        % durations["boot_seconds"])
    if stop.wait(durations["boot_seconds"]):
        return 0
    delay = faults.slow_start_seconds(faults.active())
    if delay:
        log("slow start: waiting %d s before starting (injected fault slow_start)" % delay)
        if stop.wait(delay):
            return 0
    try:
        server.meta.wait_reachable(int(os.environ.get("OMS_SIM_METADB_WAIT", "15")), stop)
        server.startup()
    except pymysql.MySQLError as exc:
        log.error("OMS failed to start: MetaDB %s:%s (user %s) is not reachable: %s. Check "
                  "oms_meta_host, oms_meta_port, oms_meta_user and oms_meta_password in "
                  "config.yaml" % (conf.meta_host, conf.meta_port, conf.meta_user, exc))
        return 1
    except StartRefused as exc:
        log.error("OMS failed to start: %s" % exc)
        return 1
    if stop.is_set():
        return 0
    for path in (RUN_DIR, STORE_DIR):
        os.makedirs(path, exist_ok=True)
    server.write_files()
    server.state.booting = False
    with open(supervisor.SERVING_FLAG, "w") as f:
        f.write(str(os.getpid()))
    log("console listening on %s://0.0.0.0:%s" % (console.scheme, conf.console_port))
    log("OMS service start successfully")
    log.quiet = True
    server.loop()
    log("SIGTERM received: stopping", console=True)
    return 0
