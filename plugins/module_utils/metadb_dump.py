# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump OMS's three databases (the procedure's step 2.3), proven before trusted.

The three run side by side (the dump is downtime), each `mysqldump --single-transaction --quick`
into a temporary file in the backup directory, optionally through gzip or zstd, checked and hashed
as it is written (mysql_clients.run_dump_to_file). Inside the window nothing else is done: a file is
kept only when it verifies (non-empty, completion line, CREATE TABLE count == information_schema's,
its header names the server and database that were checked) and its sha256 is recorded. The proof
that a restore gives back what was dumped is a re-dump at rollback (dump_digest), which every engine
answers. Then the old manifest goes, the files are renamed into place, and the new manifest is
written last, atomically: a manifest on disk always describes complete files.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import threading
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import atomic_file, dump_files, metadb, metadb_inventory
from ansible_collections.obtools.oms.plugins.module_utils import mysql_clients


# how many dumps run at once when parallel (None: all three); see dump()
DUMP_WORKERS = None


def utc_iso(ts=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts if ts is not None else time.time()))


def run_jobs(jobs, parallel=True, workers=None):
    """Run callables, in threads when parallel; return [(result, exception)] in order.

    At most `workers` run at once (default: all); each worker takes the next job in list order,
    so put the longest first.
    """
    outcomes = [None] * len(jobs)
    lock = threading.Lock()
    pending = list(range(len(jobs)))

    def runner(i, job):
        try:
            outcomes[i] = (job(), None)
        except Exception as e:  # pylint: disable=broad-except
            outcomes[i] = (None, e)

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            runner(i, jobs[i])

    if not parallel or len(jobs) < 2:
        for i, job in enumerate(jobs):
            runner(i, job)
        return outcomes
    threads = [threading.Thread(target=worker) for i in range(min(workers or len(jobs), len(jobs)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def raise_first(outcomes, describe):
    errors = [outcome[1] for outcome in outcomes if outcome[1] is not None]
    if not errors:
        return
    if len(errors) == 1 and isinstance(errors[0], OmsError):
        raise errors[0]
    msgs = [e.msg if isinstance(e, OmsError) else "%s: %s" % (type(e).__name__, e) for e in errors]
    hints = [e.hint for e in errors if isinstance(e, OmsError) and e.hint]
    raise OmsError("%s: %s" % (describe, "; ".join(msgs)),
                   hints[0] if hints else "Fix the causes above and run again")


def estimate(settings, backup_dir=None):
    """Space the dumps need and, with backup_dir, whether it is there; the server's engine."""
    databases = settings.databases()
    conn = metadb.connect(settings)
    try:
        engine = conn.oms_engine
        missing = [pair[1] for pair in databases if metadb_inventory.database_charset(conn, pair[1])[0] is None]
        present = [pair for pair in databases if pair[1] not in missing]
        result = metadb_inventory.size_estimate(conn, present, engine["engine"])
        result["engine"] = engine
        if engine["engine"] == "oceanbase":
            result["dump_timeout_risks"] = metadb_inventory.dump_timeout_risks(conn, result)
    except metadb.pymysql.err.MySQLError as e:
        raise metadb.translate_error(e, settings, doing="read information_schema")
    finally:
        conn.close()
    result["missing_databases"] = missing
    if backup_dir:
        probe = backup_dir
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe.rstrip("/")) or "/"
        st = os.statvfs(probe)
        result["free_bytes"] = st.f_bavail * st.f_frsize
        result["enough_space"] = result["free_bytes"] >= result["estimate_bytes"]
    return result


_TMP_DUMP = re.compile(r"^\..+\.tmp-(\d+)$")


def sweep_partial_dumps(backup_dir):
    """Remove the temporary dump files of killed runs (their pid is gone); return their names."""
    removed = []
    for name in os.listdir(backup_dir):
        m = _TMP_DUMP.match(name)
        if m and int(m.group(1)) != os.getpid() and not metadb.pid_alive(int(m.group(1))):
            dump_files.remove_quietly(os.path.join(backup_dir, name))
            removed.append(name)
    return removed


def manifest_matches(manifest, databases):
    """True when the manifest holds exactly these (role, database) pairs."""
    have = sorted((d.get("role"), d.get("database")) for d in manifest.get("databases", []))
    return have == sorted(databases)


def manifest_problems(backup_dir, manifest, content=False, zstd_path="zstd"):
    problems = []
    for entry in manifest["databases"]:
        problems.extend(dump_files.verify_against_manifest(backup_dir, entry, content=content,
                                                           zstd_path=zstd_path))
    return problems


class DumpJob(object):
    """One database's dump: runs in its own thread with its own connection."""

    def __init__(self, settings, role, database, backup_dir, compress, triggers, mysqldump,
                 defaults_file, extra_args, paths, tables):
        self.settings = settings
        self.role = role
        self.database = database
        self.file = dump_files.dump_file_name(database, compress)
        self.path = os.path.join(backup_dir, self.file)
        self.tmp = os.path.join(backup_dir, ".%s.tmp-%d" % (self.file, os.getpid()))
        self.compress = compress
        self.argv = mysql_clients.dump_command(mysqldump, defaults_file, database, triggers, extra_args)
        self.paths = paths
        # (charset, collation, [tables]) read before the dump by dump(), on one connection
        self.charset, self.collation, self.tables = tables

    def __call__(self):
        # mysqldump's --single-transaction reads one consistent snapshot; the old container is
        # stopped, so nothing writes: no second pass over the rows inside the window
        run = mysql_clients.run_dump_to_file(self.argv, self.tmp, self.compress, self.paths)
        if run["size"] == 0:
            problems = ["%s is empty" % self.tmp]
        else:
            problems = dump_files.scan_problems(self.tmp, run["scan"], len(self.tables))
            problems.extend(dump_files.header_problems(self.tmp, run["scan"], self.settings.host,
                                                       self.database))
        if problems:
            raise OmsError("The dump of %s did not verify: %s" % (self.database, "; ".join(problems)),
                           "Check the MetaDB and the space in the backup directory, then dump again")
        return {"role": self.role, "database": self.database, "file": self.file, "size": run["size"],
                "sha256": run["sha256"], "tables": len(self.tables), "duration": round(run["seconds"], 1),
                "charset": self.charset, "collation": self.collation}


def read_databases(settings, databases):
    """{database: (charset, collation, [base tables])} and the engine, on one connection."""
    conn = metadb.connect(settings)
    try:
        try:
            found = {}
            for _role, database in databases:
                charset, collation = metadb_inventory.database_charset(conn, database)
                if charset is not None:
                    found[database] = (charset, collation, metadb_inventory.base_tables(conn, database))
            conn.rollback()
            return found, conn.oms_engine
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, doing="read information_schema")
    finally:
        conn.close()


def dump(settings, backup_dir, compress="none", triggers=False, parallel=True, force=False,
         check_mode=False, mysqldump="mysqldump", paths=None, extra_args=None):
    """Dump the three databases into backup_dir; the module's result dict."""
    databases = settings.databases()
    manifest_path = os.path.join(backup_dir, dump_files.MANIFEST_NAME)
    zstd_path = (paths or {}).get("zstd") or "zstd"
    try:
        existing = dump_files.read_manifest(backup_dir) if os.path.isdir(backup_dir) else None
    except OmsError:
        if not force:
            raise
        existing = None
    if existing is not None and not force:
        verified = manifest_matches(existing, databases) and not manifest_problems(
            backup_dir, existing, zstd_path=zstd_path)
        if verified:
            return {"changed": False, "manifest": existing, "manifest_path": manifest_path,
                    "msg": "%s already holds verified dumps of %s; force=true dumps again"
                           % (backup_dir, ", ".join(pair[1] for pair in databases))}
    files = [os.path.join(backup_dir, dump_files.dump_file_name(pair[1], compress)) for pair in databases]
    if check_mode:
        result = {"changed": True, "manifest_path": manifest_path, "files": files,
                  "msg": "would dump %s into %s" % (", ".join(pair[1] for pair in databases), backup_dir)}
        result["estimate_bytes"] = estimate(settings, backup_dir)["estimate_bytes"]
        return result

    # reach the MetaDB and find the three databases before anything is created on disk; inside
    # the window this is one connection and information_schema only (no size estimate)
    found, engine = read_databases(settings, databases)
    missing = [pair[1] for pair in databases if pair[1] not in found]
    if missing:
        raise OmsError("The MetaDB at %s:%s has no database %s" % (settings.host, settings.port, ", ".join(missing)),
                       "Check rm_db/cm_db/cm_hb_db (drc_rm_db, drc_cm_db, drc_cm_heartbeat_db in config.yaml)")
    if not os.path.isdir(backup_dir):
        try:
            os.makedirs(backup_dir, 0o700)
        except OSError as e:
            raise OmsError("Cannot create the backup directory %s: %s" % (backup_dir, e.strerror or e),
                           "Create it (mode 0700) or give a backup_dir (the inventory's oms_backup_dir) this "
                           "user can write")
    sweep_partial_dumps(backup_dir)
    started = time.time()
    jobs = []
    with metadb.client_defaults_file(settings, backup_dir, engine["engine"]) as defaults_file:
        jobs = [DumpJob(settings, role, db, backup_dir, compress, triggers, mysqldump, defaults_file,
                        extra_args, paths, found[db]) for role, db in databases]
        # most tables first (rm): it bounds the run, so it must not wait for a worker or start last
        order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i].tables))
        try:
            ordered = run_jobs([jobs[i] for i in order], parallel, DUMP_WORKERS)
            outcomes = [None] * len(jobs)
            for position, i in enumerate(order):
                outcomes[i] = ordered[position]
            raise_first(outcomes, "Dumping the OMS databases failed")
        except Exception:
            for job in jobs:
                dump_files.remove_quietly(job.tmp)
            raise
    finished = time.time()
    entries = [outcome[0] for outcome in outcomes]
    # the old manifest must not describe the new files while they are being renamed
    dump_files.remove_quietly(manifest_path)
    for job in jobs:
        os.rename(job.tmp, job.path)
    atomic_file.fsync_dir(backup_dir)
    manifest = {
        "format": dump_files.MANIFEST_FORMAT,
        "created_at": utc_iso(started),
        "finished_at": utc_iso(finished),
        "duration": round(finished - started, 1),
        "metadb": settings.public(),
        "engine": engine,
        "compress": compress,
        "triggers": bool(triggers),
        "parallel": bool(parallel),
        "databases": entries,
    }
    atomic_file.write_json_atomic(manifest_path, manifest)
    # files of the replaced manifest that the new one does not name (another compression)
    if existing is not None:
        kept = set(e["file"] for e in entries)
        for old in existing.get("databases", []):
            name = old.get("file")
            if name and name not in kept and os.path.basename(name) == name:
                dump_files.remove_quietly(os.path.join(backup_dir, name))
    return {"changed": True, "manifest": manifest, "manifest_path": manifest_path, "files": files,
            "msg": "dumped %s in %.1f s" % (", ".join(pair[1] for pair in databases), finished - started)}


def verify(backup_dir, zstd_path="zstd", scans=None):
    """Every file of the manifest: sha256, size and content. OmsError listing every problem.

    With scans (a dict), each database's content scan (content digest, header, tables) is stored
    in scans[database]: the restore compares re-dumps with it.
    """
    manifest = dump_files.read_manifest(backup_dir)
    if manifest is None:
        raise OmsError("No backup manifest in %s" % backup_dir,
                       "Point backup_dir at the directory of a finished dump (state=dumped)")
    problems = []
    for entry in manifest["databases"]:
        scan = None
        if scans is not None:
            scan = scans.setdefault(entry.get("database"), {})
        problems.extend(dump_files.verify_against_manifest(backup_dir, entry, content=True,
                                                           zstd_path=zstd_path, scan_out=scan))
    if problems:
        raise OmsError("The backup in %s does not verify: %s" % (backup_dir, "; ".join(problems)),
                       "Do not restore from it; dump again if the databases are still as before "
                       "the upgrade, or find an intact copy", problems=problems)
    return manifest


def journal_data(state, backup_dir, result):
    """What a prune, dump or restore records in the journal (oms_metadb_backup's notes list it)."""
    if state == "pruned":
        keys = ("max_id", "rows_after", "seconds", "batches", "batch_size_first", "batch_size_last",
                "longest_batch_seconds", "longest_batch_rows")
        data = dict(("heartbeat_" + k if k in ("max_id", "rows_after") else k, result.get(k)) for k in keys)
        data["heartbeat_rows_deleted"] = result.get("rows_deleted", 0)
        return data
    if state == "dumped":
        return {"dump_dir": backup_dir, "manifest": result.get("manifest") or {}}
    return dict((k, result.get(k)) for k in ("restored", "dropped", "unchanged"))
