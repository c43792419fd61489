# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rehearse steps 5-6 (docker_init.sh of 4.2.0) on a copy of the MetaDB, isolated, while OMS serves.

What a rehearsal does, in order (oms_rehearsal drives it; every name below is derived from the old
container's name, so the next run finds what a killed run left):
1. removes what an earlier rehearsal of this deployment left (the journal's `rehearsal_leftovers`,
   and every container labelled obtools.oms.rehearsal=<old container>);
2. dumps rm, cm and cm_hb (metadb_dump's mysqldump argv, --single-transaction: OMS keeps running)
   and loads each dump into a scratch database `obrh_<name>` on the same MetaDB (refused when one
   exists that is not recorded as ours);
3. creates a user granted only the scratch databases, when the login can (else the copy of
   config.yaml uses the login itself, and the result says the isolation is by network only);
4. starts two relays (a tiny Python TCP relay run by the 4.2.0 image's own Python, with an
   entrypoint override: nothing else needs to exist on an OMS host): `out`, on the host network,
   relays a Unix socket in the scratch directory to the MetaDB's address; `in`, in a network
   namespace of its own with no interface but loopback (network_mode none), relays
   127.0.0.1:<MetaDB port> to that socket;
5. starts the 4.2.0 container as step 4 does (build_run_spec of the old container), but in the
   `in` relay's namespace (network_mode container:<relay>: it reaches nothing but 127.0.0.1, so no
   project source or target, no console peer, no production database), with a copy of config.yaml
   pointing at 127.0.0.1 and the scratch databases, scratch logs/store, a copy of run, OMS_HOST_IP
   127.0.0.1, no restart policy, and memory and CPU limits;
6. runs docker_init.sh in it with docker_init_runner.initialized() (the same readiness probe and
   success checks as step 5-6), then measures how long the console takes to answer /oms/health;
7. reads what the migration changed (tables created, altered or dropped, oms_normal_config rows);
8. removes everything it created, in a finally, and records the outcome in the journal.

On another Docker host (rehearsal_host, the role's oms_rehearsal_host) the same happens there, with
what it reads of the serving deployment (the old container's settings, config.yaml, run) taken
from the bundle the OMS host exported (rehearsal_source), and its journal on that host: what it
created is removed there by the next run; the role copies the outcome to the OMS host's record.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils import metadb, mysql_clients, rehearsal_source
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    UPGRADED_FROM_LABEL,
)

PREFIX = "obrh_"
LABEL = "obtools.oms.rehearsal"
STEP = "rehearsal"
# MySQL and OceanBase identifiers and user names
MAX_DB_NAME = 64
MAX_USER_NAME = 32
RELAY_SOCKET = "metadb.sock"
# Defaults explained in the module's documentation.
DEFAULT_MEMORY = "4g"
DEFAULT_CPUS = 1.0
DEFAULT_MAX_AGE_HOURS = 72
# Estimates of the parts of the window a rehearsal cannot measure without stopping OMS.
DEFAULT_STOP_SECONDS = 10.0
DEFAULT_PRUNE_SECONDS = 1.0

# A TCP relay for Python 2.7 and 3: `unix PATH - HOST PORT` listens on a Unix socket and connects
# each client to HOST:PORT; `tcp HOST PORT PATH -` listens on HOST:PORT and connects to the socket.
# It prints one line per connection, so the relays' logs say what passed.
RELAY_CODE = r'''
import socket, sys, threading
mode = sys.argv[1]
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except Exception:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
def serve(c):
    try:
        if mode == "unix":
            u = socket.create_connection((sys.argv[4], int(sys.argv[5])), 10)
            u.settimeout(None)
        else:
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(sys.argv[4])
    except Exception as e:
        sys.stdout.write("relay: upstream refused: %s\n" % e)
        sys.stdout.flush()
        c.close()
        return
    t = threading.Thread(target=pipe, args=(u, c))
    t.daemon = True
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()
if mode == "unix":
    import os
    try:
        os.unlink(sys.argv[2])
    except OSError:
        pass
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(sys.argv[2])
else:
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[2], int(sys.argv[3])))
l.listen(64)
sys.stdout.write("relay: listening (%s)\n" % mode)
sys.stdout.flush()
n = 0
while True:
    c, a = l.accept()
    n += 1
    sys.stdout.write("relay: connection %d\n" % n)
    sys.stdout.flush()
    t = threading.Thread(target=serve, args=(c,))
    t.daemon = True
    t.start()
'''
# The relay runs with whichever Python the image has (supervisord, which OMS runs under, is one).
RELAY_ENTRYPOINT = ["sh", "-c",
                    'for p in python3 python python2; do if command -v "$p" >/dev/null 2>&1; '
                    'then exec "$p" -c "$OBRH_RELAY" "$@"; fi; done; '
                    'echo "relay: no python in this image" >&2; exit 127', "relay"]


# Names (pure) ------------------------------------------------------------------------------------
def _short(text, limit, tag):
    """`text` when it fits in `limit`, else its head and a hash of it."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return "%s_%s" % (text[:limit - 9], digest) if tag else text[:limit]


def scratch_database(name):
    """The scratch database for the OMS database `name`: obrh_<name> (64 characters at most)."""
    return _short(PREFIX + name, MAX_DB_NAME, True)


def names(source, databases):
    """Everything a rehearsal of the deployment whose old container is `source` creates.

    `databases` is [(role, name)]; returns {containers: {oms, relay_in, relay_out},
    databases: {role: scratch name}, user, workdir_name}."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", source)
    user = PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:10]
    return {
        "containers": {"oms": "%s%s" % (PREFIX, safe), "relay_in": "%s%s_relay_in" % (PREFIX, safe),
                       "relay_out": "%s%s_relay_out" % (PREFIX, safe)},
        "databases": dict((role, scratch_database(name)) for role, name in databases),
        "user": _short(user, MAX_USER_NAME, False),
        "workdir_name": "%s%s" % (PREFIX, safe),
    }


def grant_pattern(database):
    """A database name as GRANT reads it: `_` and `%` are wildcards there, so escaped."""
    return "`%s`" % database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


# config.yaml (pure) ------------------------------------------------------------------------------
def _yaml_scalar(value):
    """A YAML double-quoted scalar (JSON's string syntax is YAML's) or a bare integer."""
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def rewrite_config(text, values, lists=None):
    """config.yaml `text` with the top-level `values` ({key: scalar}) and `lists` ({key: [items]})
    set; every other line as it was. A key absent is appended."""
    lines = text.splitlines()
    out = []
    done = set()
    skipping = False
    for line in lines:
        if skipping:
            if line.startswith((" ", "\t", "-")) and line.strip():
                continue
            skipping = False
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*:", line)
        key = match.group(1) if match else None
        if key in (values or {}):
            out.append("%s: %s" % (key, _yaml_scalar(values[key])))
            done.add(key)
            skipping = True  # a value continued on the next lines goes with it
            continue
        if key in (lists or {}):
            out.append("%s:" % key)
            out.extend("  - %s" % _yaml_scalar(item) for item in lists[key])
            done.add(key)
            skipping = True
            continue
        out.append(line)
    for key, value in (values or {}).items():
        if key not in done:
            out.append("%s: %s" % (key, _yaml_scalar(value)))
    for key, items in (lists or {}).items():
        if key not in done:
            out.append("%s:" % key)
            out.extend("  - %s" % _yaml_scalar(item) for item in items)
    return "\n".join(out) + "\n"


def loopback_url(url):
    """cm_url with its host replaced by 127.0.0.1 (the rehearsing OMS is its own CM node)."""
    return re.sub(r"^(\w+://)(\[[^\]]*\]|[^:/]+)", r"\g<1>127.0.0.1", url or "")


def rehearsal_config(text, port, user, password, scratch):
    """The copy of config.yaml the rehearsing container mounts."""
    parsed = re.search(r"^cm_url\s*:\s*['\"]?([^'\"\s#]+)", text, re.M)
    values = {"oms_meta_host": "127.0.0.1", "oms_meta_port": int(port), "oms_meta_user": user,
              "oms_meta_password": password, "drc_rm_db": scratch["rm"],
              "drc_cm_db": scratch["cm"], "drc_cm_heartbeat_db": scratch["cm_hb"]}
    if parsed:
        values["cm_url"] = loopback_url(parsed.group(1))
    return rewrite_config(text, values, {"cm_nodes": ["127.0.0.1"]})


# Memory (pure) -----------------------------------------------------------------------------------
def parse_memory(text):
    """Bytes of a Docker memory size (512m, 4g, 1073741824)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", str(text).lower())
    if not match:
        raise OmsError("%r is not a memory size" % (text,), "Write it as Docker does: 512m, 4g")
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2)]
    return int(float(match.group(1)) * factor)


def mem_available(meminfo_text):
    """MemAvailable of /proc/meminfo text, in bytes (None when absent)."""
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", meminfo_text, re.M)
    return int(match.group(1)) * 1024 if match else None


def check_memory(limit_bytes, available_bytes, rehearsal_host=None):
    """OmsError when the host that rehearses has less memory available than the limit asks."""
    if available_bytes is not None and available_bytes < limit_bytes:
        where = ("the rehearsal host %s (oms_rehearsal_host)" % rehearsal_host if rehearsal_host
                 else "the host")
        raise OmsError("The rehearsal asks for %d MiB of memory but %s has %d MiB available"
                       % (limit_bytes // 1048576, where, available_bytes // 1048576),
                       "Lower oms_upgrade_rehearsal_memory, rehearse at a quieter time, or "
                       "rehearse on another Docker host that reaches the MetaDB "
                       "(oms_rehearsal_host)")


# The prediction and the decision (pure) ----------------------------------------------------------
def predict_window(measured, stop_seconds=DEFAULT_STOP_SECONDS, prune_seconds=DEFAULT_PRUNE_SECONDS):
    """{total, parts}: stop + in-window prune + dump + boot + docker_init.sh + health, in seconds.

    `measured` holds dump_seconds, boot_seconds, init_seconds, health_seconds from the rehearsal;
    the stop and the prune are estimates (a rehearsal does not stop OMS)."""
    parts = [("stop", float(stop_seconds)), ("prune", float(prune_seconds))]
    for key in ("dump", "boot", "init", "health"):
        parts.append((key, float(measured.get("%s_seconds" % key) or 0.0)))
    total = round(sum(v for _k, v in parts), 1)
    return {"total": total, "parts": dict((k, round(v, 1)) for k, v in parts)}


def verdict(record, now, max_age_hours):
    """(ok, why) of the journal's last rehearsal record for the window: passed and recent enough."""
    if not record or not record.get("status"):
        return False, "no rehearsal of this deployment is recorded"
    data = record.get("data") or {}
    outcome = data.get("rehearsal_outcome")
    if record.get("status") != "done" or outcome != "passed":
        return False, "the last rehearsal (%s) %s" % (
            record.get("finished_at") or record.get("started_at") or "?",
            "failed: %s" % (data.get("rehearsal_error") or record.get("error") or "?")
            if record.get("status") == "failed" or outcome == "failed" else "did not finish")
    finished = journal_file.parse_iso(record.get("finished_at"))
    if finished is None:
        return False, "the last rehearsal has no end time"
    age = (now - finished).total_seconds() / 3600.0
    if age > float(max_age_hours):
        return False, "the last rehearsal passed %.1f h ago, more than %s h" % (age, max_age_hours)
    return True, "the last rehearsal passed %.1f h ago" % age


NETWORK_ONLY = ("; isolated by its network only: the login cannot create a user limited to the "
                "scratch databases")


def summarize(outcome, duration, predicted, error=None, output_tail=None, user_limited=True,
              rehearsal_host=None):
    """The sentence the plan and the report show (naming the rehearsal host when it is another)."""
    what = "migration rehearsed on a copy%s" % (" (on %s)" % rehearsal_host if rehearsal_host else "")
    if outcome == "passed":
        return ("%s: passed in %.0f s; predicted window %.0f s (%s)%s"
                % (what, duration, predicted["total"], ", ".join(
                    "%s %.0f s" % (k, predicted["parts"][k])
                    for k in ("stop", "prune", "dump", "boot", "init", "health")),
                   "" if user_limited is not False else NETWORK_ONLY))
    return "%s: FAILED after %.0f s: %s%s" % (
        what, duration, error or "?",
        ("\n" + "\n".join(output_tail[-20:])) if output_tail else "")


# Scratch directories -----------------------------------------------------------------------------
def diff_schemas(before, after):
    """What the migration changed, from {table: create statement} before and after."""
    created = sorted(set(after) - set(before))
    dropped = sorted(set(before) - set(after))
    altered = sorted(t for t in set(before) & set(after) if before[t] != after[t])
    return {"tables_created": created, "tables_dropped": dropped, "tables_altered": altered}


class Cleanup(object):
    """What a rehearsal created, recorded in the journal before each is created."""

    def __init__(self, journal_path):
        self.path = journal_path
        self.created = {"containers": [], "databases": [], "user": None, "workdir": None}

    def record(self, kind, value):
        if kind in ("user", "workdir"):
            self.created[kind] = value
        elif value not in self.created[kind]:
            self.created[kind].append(value)
        self._write("started", {"rehearsal_leftovers": self.created})

    def _write(self, status, data, error=None):
        if not self.path:
            return
        current = journal_file.load(self.path) or {}
        step = (current.get("steps") or {}).get(STEP) or {}
        if status == "started" and step.get("status") == "started":
            status_data = dict(step.get("data") or {})
            status_data.update(data)
            current = dict(current)
            current["steps"] = dict(current["steps"])
            current["steps"][STEP] = dict(step, data=status_data)
            current["updated_at"] = journal_file.iso(journal_file.utc_now())
            journal_file.write(self.path, current)
            return
        new, changed, _note = journal_file.apply_step(current, STEP, status, data=data,
                                                      error=error, force=True)
        if changed:
            journal_file.write(self.path, new)


def leftovers(journal_path):
    """What the journal says an earlier rehearsal created and may have left."""
    current = journal_file.load(journal_path) if journal_path else None
    step = ((current or {}).get("steps") or {}).get(STEP) or {}
    return (step.get("data") or {}).get("rehearsal_leftovers") or {}


def remove_everything(client, settings, recorded, source, warn):
    """Remove the rehearsal's containers, scratch databases, user and directory. Returns what was
    removed; raises OmsError when something could not be."""
    removed = {"containers": [], "databases": [], "user": None, "workdir": None}
    names_ = set(recorded.get("containers") or []) | set(client.containers_with_label(LABEL, source))
    # the OMS container first, then the relays whose namespace it uses
    for name in sorted(names_, key=lambda n: (n.endswith("_relay_in"), n.endswith("_relay_out"))):
        if client.remove_container(name):
            removed["containers"].append(name)
    databases = [d for d in recorded.get("databases") or [] if d.startswith(PREFIX)]
    user = recorded.get("user")
    failure = None
    if databases or user:
        try:
            _drop(settings, databases, user, removed)
        except OmsError as exc:
            failure = exc  # the directory goes all the same; the next run drops what is left
    workdir = recorded.get("workdir")
    if workdir and os.path.basename(workdir.rstrip("/")).startswith(PREFIX) and os.path.isdir(workdir):
        shutil.rmtree(workdir)
        removed["workdir"] = workdir
    if failure is not None:
        raise failure
    return removed


def _drop(settings, databases, user, removed):
    """DROP the scratch databases and user that exist (part of remove_everything)."""
    if databases or user:
        conn = metadb.connect(settings)
        try:
            with conn.cursor() as cur:
                for database in databases:
                    cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                                "WHERE SCHEMA_NAME = %s", (database,))
                    if cur.fetchone()[0]:
                        cur.execute("DROP DATABASE %s" % metadb.quote_identifier(database))
                        removed["databases"].append(database)
                if user and user.startswith(PREFIX):
                    try:
                        cur.execute("DROP USER '%s'@'%%'" % user)
                        removed["user"] = user
                    except metadb.pymysql.err.MySQLError as exc:
                        if exc.args and exc.args[0] not in (1396, 5162):  # no such user
                            raise
            conn.commit()
        except metadb.pymysql.err.MySQLError as exc:
            raise metadb.translate_error(exc, settings, doing="remove the rehearsal's databases")
        finally:
            conn.close()


def table_definitions(conn, database):
    """{table: SHOW CREATE TABLE text without AUTO_INCREMENT} of `database`."""
    q = metadb.quote_identifier(database)
    result = {}
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE'", (database,))
        tables = [row[0] for row in cur.fetchall()]
        for table in tables:
            cur.execute("SHOW CREATE TABLE %s.%s" % (q, metadb.quote_identifier(table)))
            text = cur.fetchone()[1]
            result[table] = re.sub(r"\s+AUTO_INCREMENT=\d+", "", text)
    conn.rollback()
    return result


def row_counts(conn, database, tables):
    """{table: rows} for those of `tables` that exist in `database` (version and config tables)."""
    counts = {}
    q = metadb.quote_identifier(database)
    with conn.cursor() as cur:
        for table in tables:
            try:
                cur.execute("SELECT COUNT(*) FROM %s.%s" % (q, metadb.quote_identifier(table)))
                counts[table] = cur.fetchone()[0]
            except metadb.pymysql.err.MySQLError:
                continue
    conn.rollback()
    return counts


# A GET of the console's /oms/health from inside the rehearsal's namespace (run in the `in` relay,
# which shares it): prints the HTTP status and whether data.healthy is true.
HEALTH_PROBE = r'''
import json, sys
try:
    import http.client as client
except ImportError:
    import httplib as client
try:
    c = client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", "/oms/health")
    r = c.getresponse()
    body = json.loads(r.read().decode("utf-8"))
    sys.stdout.write("%s %s\n" % (r.status, bool((body.get("data") or {}).get("healthy"))))
except Exception as e:
    sys.stdout.write("0 %s\n" % type(e).__name__)
'''
PY_EXEC = ('code="$1"; shift; for p in python3 python python2; do if command -v "$p" >/dev/null '
           '2>&1; then exec "$p" -c "$code" "$@"; fi; done; echo "no python" >&2; exit 127')
VERSION_TABLES = ("oms_normal_config", "oms_version", "oms_schema_version", "schema_version")


class Rehearsal(object):
    """One rehearsal (see the module docstring): run() returns the result, never leaves anything."""

    def __init__(self, params, settings, admin, client, clients, warn, origin=None):
        self.p = params
        self.settings = settings      # the deployment's MetaDB login (what OMS uses)
        self.admin = admin            # the login that creates the scratch databases
        self.client = client
        self.clients = clients        # {"mysqldump": path, "mysql": path}
        self.warn = warn
        # the serving deployment (rehearsal_source.Source): read here when None, or the bundle
        # the OMS host exported when this is another host (rehearsal_host)
        self.origin = origin
        self.elsewhere = params.get("rehearsal_host")
        self.source = params["source_container"]
        self.databases = settings.databases()
        self.names = names(self.source, self.databases)
        self.cleanup = Cleanup(params["journal_path"])
        self.measured = {}
        self.result = {"names": self.names}

    # the run -------------------------------------------------------------------------------------
    @property
    def lock_path(self):
        return os.path.join(self.p["work_dir"], ".%s.lock" % self.names["workdir_name"])

    def run(self):
        """The rehearsal under a flock of this deployment's: a module that outlived its controller
        (a remote module goes on after the controller is lost) finishes, clean-up included,
        before the next run looks at what is left."""
        from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock
        if not os.path.isdir(self.p["work_dir"]):
            # on a rehearsal host the OMS host's backup directory may not exist yet
            os.makedirs(self.p["work_dir"], 0o700)
        lock = JobLock(self.p["work_dir"], "the rehearsal of %s" % self.source, self.warn)
        lock.path = self.lock_path
        with lock:
            self.result["lock_waited"] = lock.waited
            return self._run()

    def _run(self):
        started = time.time()
        if self.origin is None:
            self.origin = rehearsal_source.local(self.client, self.source, self.p["config_file"])
        self.result["rehearsal_host"] = self.elsewhere
        earlier = remove_everything(self.client, self.admin, leftovers(self.p["journal_path"]),
                                    self.source, self.warn)
        self.result["removed_before"] = earlier
        self._refuse_existing()
        limit = parse_memory(self.p["memory"])
        if self.client.is_local:
            try:
                with open("/proc/meminfo") as f:
                    check_memory(limit, mem_available(f.read()), self.elsewhere)
            except (IOError, OSError):
                self.warn("Cannot read /proc/meminfo: the free memory was not checked")
        else:
            self.warn("The Docker engine %s is not local: its free memory was not checked"
                      % self.client.docker_host)
        image = self.client.inspect_image(self.p["image"])
        self.result["image_loaded"] = False
        if image is None and self.elsewhere:
            self._archive_here()
        if image is None and self.p.get("image_archive"):
            # days ahead of the upgrade, the image may not be loaded yet: step 3's load, now
            from ansible_collections.obtools.oms.plugins.module_utils.image_load import image_loaded
            loaded = image_loaded(self.client, self.p["image"], self.p["image_archive"],
                                  self.p["load_timeout"], self.warn)
            self.result["image_loaded"] = bool(loaded.get("loaded"))
            image = self.client.inspect_image(self.p["image"])
        if image is None:
            raise OmsError("The image %s is not present in the engine" % self.p["image"],
                           "Load it first (the upgrade's step 3, or docker load of the tarball), "
                           "or give image_archive")
        outcome, error, tail = "passed", None, []
        self.cleanup.record("workdir", self.workdir)
        self.cleanup._write("started", {"rehearsal_started_at": journal_file.iso(journal_file.utc_now()),
                                        "rehearsal_host": self.elsewhere})
        try:
            self._rehearse(self.origin.container)
        except OmsError as exc:
            outcome, error = "failed", exc.msg
            tail = list(exc.details.get("stdout_tail") or self.result.get("init_output_tail") or [])
            self.result["hint"] = exc.hint
        except Exception as exc:  # pylint: disable=broad-except
            # whatever broke, the finally below removes what was created and the journal says so
            outcome, error = "failed", "%s: %s" % (type(exc).__name__, exc)
            tail = list(self.result.get("init_output_tail") or [])
        finally:
            try:
                self.result["removed"] = remove_everything(self.client, self.admin,
                                                           self.cleanup.created, self.source,
                                                           self.warn)
                self.cleanup.created = {"containers": [], "databases": [], "user": None,
                                        "workdir": None}
                self.result["left_behind"] = False
            except OmsError as exc:
                self.result["left_behind"] = True
                self.warn("The rehearsal could not remove everything it created (%s): the next "
                          "run removes it (the journal lists it)" % exc)
        duration = round(time.time() - started, 1)
        predicted = predict_window(self.measured, self.p["stop_seconds"], self.p["prune_seconds"])
        summary = summarize(outcome, duration, predicted, error, tail,
                            self.result.get("user_limited"), self.elsewhere)
        self.result.update(outcome=outcome, duration=duration, error=error,
                           init_output_tail=tail or self.result.get("init_output_tail") or [],
                           predicted_window=predicted, measured=self.measured, summary=summary)
        data = {"rehearsal_outcome": outcome, "rehearsal_duration": duration,
                "rehearsal_error": error, "rehearsal_summary": summary,
                "rehearsal_init_tail": self.result["init_output_tail"][-20:],
                "rehearsal_predicted_window": predicted, "rehearsal_measured": self.measured,
                "rehearsal_leftovers": self.cleanup.created, "rehearsal_host": self.elsewhere}
        # what the role copies to the OMS host's record when this is another host
        self.result["record"] = data
        self.cleanup._write("done" if outcome == "passed" else "failed", data,
                            error=None if outcome == "passed" else error)
        return self.result

    def _archive_here(self):
        """On a rehearsal host, a missing image needs its tarball there: say so in its terms."""
        archive = self.p.get("image_archive")
        if archive and os.path.isfile(archive):
            return
        raise OmsError("The image %s is not on the rehearsal host %s (oms_rehearsal_host), and %s"
                       % (self.p["image"], self.elsewhere,
                          "its tarball %s is not there either" % archive if archive
                          else "no tarball of it (oms_image_archive) was given"),
                       "Copy the tarball to %s on %s (the path oms_image_archive names: it is not "
                       "copied from the OMS host, for its size), or docker load it there, then "
                       "rehearse again; or leave oms_rehearsal_host unset to rehearse on the OMS "
                       "host" % (archive or "the path oms_image_archive names", self.elsewhere))

    @property
    def workdir(self):
        return os.path.join(self.p["work_dir"], self.names["workdir_name"])

    def _refuse_existing(self):
        conn = metadb.connect(self.admin)
        try:
            with conn.cursor() as cur:
                found = []
                for database in self.names["databases"].values():
                    cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                                "WHERE SCHEMA_NAME = %s", (database,))
                    if cur.fetchone()[0]:
                        found.append(database)
            conn.rollback()
        finally:
            conn.close()
        if found:
            raise OmsError("The scratch database(s) %s exist and no rehearsal recorded creating "
                           "them" % ", ".join(found),
                           "They are not this collection's to drop: check what they are and "
                           "drop them by hand, then rehearse again")
        if os.path.exists(self.workdir) and not self.cleanup.path:
            raise OmsError("The scratch directory %s exists" % self.workdir,
                           "Remove it by hand (no journal says a rehearsal made it)")
        if os.path.exists(self.workdir):
            shutil.rmtree(self.workdir)

    def _rehearse(self, old):
        os.makedirs(self.workdir, 0o700)
        self._copy_databases()
        before = self._schemas()
        user, password = self._scratch_user()
        self._scratch_dirs(user, password)
        self._relays()
        self._start_oms(old)
        self._init()
        self._health()
        after = self._schemas()
        changes = {}
        for role in self.names["databases"]:
            changes[role] = diff_schemas(before[role][0], after[role][0])
            changes[role]["rows_before"] = before[role][1]
            changes[role]["rows_after"] = after[role][1]
        self.result["changes"] = changes

    # steps ---------------------------------------------------------------------------------------
    def _copy_databases(self):
        """Dump the three (while OMS runs), load each into its scratch database."""
        from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
        dumps = os.path.join(self.workdir, "dump")
        os.makedirs(dumps, 0o700)
        conn = metadb.connect(self.admin)
        try:
            charsets = {}
            with conn.cursor() as cur:
                for _role, database in self.databases:
                    cur.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                                "information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
                    charsets[database] = cur.fetchone() or (None, None)
            conn.rollback()
        finally:
            conn.close()
        with metadb.client_defaults_file(self.settings, self.workdir) as defaults:
            def dump_job(database):
                def job():
                    argv = mysql_clients.dump_command(self.clients["mysqldump"], defaults, database)
                    return mysql_clients.run_dump_to_file(argv, os.path.join(dumps, database + ".sql"))
                return job
            began = time.time()
            outcomes = metadb_dump.run_jobs([dump_job(d) for _r, d in self.databases], True)
            metadb_dump.raise_first(outcomes, "Dumping the OMS databases for the rehearsal failed")
            self.measured["dump_seconds"] = round(time.time() - began, 1)
            self.measured["dump_bytes"] = sum(o[0]["size"] for o in outcomes)
        conn = metadb.connect(self.admin)
        try:
            with conn.cursor() as cur:
                for role, database in self.databases:
                    scratch = self.names["databases"][role]
                    self.cleanup.record("databases", scratch)
                    create = "CREATE DATABASE %s" % metadb.quote_identifier(scratch)
                    charset, collation = charsets[database]
                    if charset:
                        create += " CHARACTER SET %s" % charset
                    if collation:
                        create += " COLLATE %s" % collation
                    cur.execute(create)
            conn.commit()
        except metadb.pymysql.err.MySQLError as exc:
            raise metadb.translate_error(exc, self.admin, doing="create the scratch databases")
        finally:
            conn.close()
        began = time.time()
        with metadb.client_defaults_file(self.admin, self.workdir) as defaults:
            for role, database in self.databases:
                argv = mysql_clients.load_command(self.clients["mysql"], defaults,
                                                  self.names["databases"][role])
                mysql_clients.run_load_from_file(argv, os.path.join(dumps, database + ".sql"))
        self.measured["load_seconds"] = round(time.time() - began, 1)
        shutil.rmtree(dumps)

    def _schemas(self):
        conn = metadb.connect(self.admin)
        try:
            found = {}
            for role, database in self.names["databases"].items():
                found[role] = (table_definitions(conn, database),
                               row_counts(conn, database, VERSION_TABLES))
            return found
        except metadb.pymysql.err.MySQLError as exc:
            raise metadb.translate_error(exc, self.admin, doing="read the scratch databases")
        finally:
            conn.close()

    def _scratch_user(self):
        """(user, password) the rehearsing OMS logs in as: one granted only the scratch databases
        when the admin login may create it, else the deployment's own login (said in the result)."""
        user = self.names["user"]
        password = hashlib.sha256(os.urandom(32)).hexdigest()[:24]
        conn = metadb.connect(self.admin)
        try:
            with conn.cursor() as cur:
                self.cleanup.record("user", user)
                try:
                    cur.execute("CREATE USER '%s'@'%%%%' IDENTIFIED BY %%s" % user, (password,))
                except metadb.pymysql.err.MySQLError:
                    self.cleanup.record("user", None)  # not created: nothing to drop
                    raise
                for database in self.names["databases"].values():
                    cur.execute("GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%%'"
                                % (grant_pattern(database), user))
            conn.commit()
        except metadb.pymysql.err.MySQLError as exc:
            self.warn("The login %s cannot create a user limited to the scratch databases (%s): "
                      "the rehearsing OMS logs in as %s, isolated by its network only"
                      % (self.admin.user, exc.args[-1] if exc.args else exc, self.settings.user))
            self.result["user_limited"] = False
            return self.settings.user, self.settings.password
        finally:
            conn.close()
        self.result["user_limited"] = True
        return user, password

    def _scratch_dirs(self, user, password):
        text = self.origin.config_text
        conf = os.path.join(self.workdir, "config.yaml")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(rehearsal_config(text, self.settings.port, user, password,
                                     self.names["databases"]))
        m = re.search(r"^nginx_server_port\s*:\s*['\"]?(\d+)", text, re.M)
        self.console_port = int(m.group(1)) if m else 8089
        for key in ("logs", "store", "relay"):
            os.makedirs(os.path.join(self.workdir, key), 0o755)
        # run holds OMS's runtime state, which an upgrade's docker_init.sh finds there: a copy
        self.origin.copy_run(os.path.join(self.workdir, "run"))

    def _relay_spec(self, name, network_mode, args):
        return {"name": name, "image": self.p["image"], "tty": False, "stdin_open": False,
                "environment": {"OBRH_RELAY": RELAY_CODE}, "network_mode": network_mode,
                "binds": ["%s:/obrh_relay" % os.path.join(self.workdir, "relay")],
                "privileged": False, "cap_add": [], "pids_limit": None, "ulimits": [],
                "labels": {LABEL: self.source}, "restart_policy": None,
                "entrypoint": RELAY_ENTRYPOINT, "command": args,
                "mem_limit": "128m", "nano_cpus": int(0.5 * 1e9)}

    def _relays(self):
        c = self.names["containers"]
        sock = "/obrh_relay/" + RELAY_SOCKET
        host = self.settings.host
        for name, mode, args in (
                (c["relay_out"], "host", ["unix", sock, "-", host, str(self.settings.port)]),
                (c["relay_in"], "none", ["tcp", "127.0.0.1", str(self.settings.port), sock, "-"])):
            self.cleanup.record("containers", name)
            self.client.create_container(self._relay_spec(name, mode, args))
            self.client.start_container(name)
            self.client.wait_still_running(name, 0.5)
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(self.workdir, "relay", RELAY_SOCKET)):
            if time.time() > deadline:
                raise OmsError("The relay to the MetaDB did not start within 30 s: %s"
                               % " / ".join(self.client.logs_tail(c["relay_out"], 5)),
                               "Check that the image %s has python" % self.p["image"])
            time.sleep(0.2)

    def _start_oms(self, old):
        from ansible_collections.obtools.oms.plugins.module_utils.container_spec import build_run_spec
        c = self.names["containers"]
        spec = build_run_spec(old, c["oms"], self.p["image"], old_image_inspect=self.origin.image,
                              oms_host_ip="127.0.0.1")
        scratch = {"config": os.path.join(self.workdir, "config.yaml"),
                   "logs": os.path.join(self.workdir, "logs"),
                   "store": os.path.join(self.workdir, "store"),
                   "run": os.path.join(self.workdir, "run")}
        binds = []
        for bind in spec["binds"]:
            parts = bind.split(":")
            data = False
            for key in DATA_MOUNTS:
                if len(parts) > 1 and os.path.normpath(parts[1]) == CONTAINER_PATHS[key]:
                    parts[0] = scratch[key]
                    data = True
            if not data and self.elsewhere and self.client.is_local and \
                    not os.path.exists(parts[0]):
                # another mount of the OMS host's (the SSL files, say) that this host lacks: the
                # engine would create an empty directory in its place
                self.warn("The rehearsal on %s runs without the old container's mount %s: %s is "
                          "not on that host" % (self.elsewhere, bind, parts[0]))
                continue
            binds.append(":".join(parts))
        labels = dict(spec["labels"])
        labels.pop(UPGRADED_FROM_LABEL, None)
        labels[LABEL] = self.source
        spec.update(binds=binds, labels=labels, network_mode="container:%s" % c["relay_in"],
                    restart_policy=None, mem_limit=self.p["memory"],
                    nano_cpus=int(float(self.p["cpus"]) * 1e9))
        self.result["container_spec"] = {"network_mode": spec["network_mode"], "binds": binds,
                                         "mem_limit": spec["mem_limit"],
                                         "cpus": float(self.p["cpus"])}
        self.cleanup.record("containers", c["oms"])
        self.client.create_container(spec)
        self.boot_started = time.time()
        self.client.start_container(c["oms"])
        self.client.wait_still_running(c["oms"], float(self.p["settle_seconds"]))

    def _init(self):
        from ansible_collections.obtools.oms.plugins.module_utils.docker_init_runner import initialized
        try:
            done = initialized(self.client, self.names["containers"]["oms"], self.p["init_timeout"],
                               self.p["init_ready_timeout"], self.p["init_retry_interval"], self.warn)
        except OmsError as exc:
            self.result["init_output_tail"] = list(exc.details.get("stdout_tail") or [])
            raise
        self.result["init_output_tail"] = list(done.get("stdout_tail") or [])
        self.result["init_rc"] = done.get("rc")
        self.measured["boot_seconds"] = round(float(self.p["settle_seconds"]) +
                                              float(done.get("ready_wait_seconds") or 0), 1)
        self.measured["init_seconds"] = done.get("duration")

    def _health(self):
        began = time.time()
        deadline = began + float(self.p["health_timeout"])
        relay = self.names["containers"]["relay_in"]
        last = None
        while time.time() < deadline:
            probe = self.client.exec_command(
                relay, ["sh", "-c", PY_EXEC, "sh", HEALTH_PROBE, str(self.console_port)], 15)
            last = " ".join(probe["stdout_tail"])
            if last.startswith("200 True"):
                self.measured["health_seconds"] = round(time.time() - began, 1)
                return
            time.sleep(1)
        raise OmsError("The rehearsing OMS did not report healthy within %s s after docker_init.sh "
                       "(last answer: %s)" % (self.p["health_timeout"], last),
                       "Read its logs (they are removed with it: rehearse again with a larger "
                       "health_timeout)")
