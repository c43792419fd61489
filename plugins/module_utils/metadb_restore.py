# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore OMS's databases from a verified dump (the procedure's steps 9.3 and 9.4).

Order matters: every file's size, sha256, content and header (the database it holds) is checked
against the manifest BEFORE any database is dropped, and its content digest is computed in the
same pass (dump_digest). A database that already gives back the file's content when dumped again
is left alone (so a second restore changes nothing); the others are dropped, created with their
recorded character set and loaded through `mysql` reading the file on stdin, side by side; then
each restored database is dumped again, to a stream, with the same options, and its content digest
must equal the file's. Every engine answers that proof (OceanBase has no table checksum), and it
runs here, at rollback, not inside the upgrade's window.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_digest, dump_files, metadb, metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import metadb_inventory, mysql_clients


def targets(settings, manifest):
    """The manifest's entries, refusing a manifest for other databases than the settings name."""
    wanted = {}
    for role, attr in (("rm", "rm_db"), ("cm", "cm_db"), ("cm_hb", "cm_hb_db")):
        if getattr(settings, attr):
            wanted[role] = getattr(settings, attr)
    mismatched = ["%s: manifest %s, settings %s" % (e["role"], e["database"], wanted[e["role"]])
                  for e in manifest["databases"] if e.get("role") in wanted and wanted[e["role"]] != e["database"]]
    if mismatched:
        raise OmsError("The backup is of other databases than the ones configured (%s)" % "; ".join(mismatched),
                       "Point oms_backup_dir (backup_dir) at this deployment's backup, or fix oms_metadb_rm_db, "
                       "oms_metadb_cm_db, oms_metadb_cm_hb_db (rm_db, cm_db, cm_hb_db)")
    return manifest["databases"]


def header_check(settings, backup_dir, entries, scans):
    """Refuse files whose mysqldump header names another server than the one we will load into."""
    problems = []
    for entry in entries:
        path = os.path.join(backup_dir, entry["file"])
        problems.extend(dump_files.header_problems(path, scans.get(entry["database"], {}), settings.host,
                                                   entry["database"]))
    if problems:
        raise OmsError("The backup does not come from the MetaDB it would be restored into: %s"
                       % "; ".join(problems),
                       "Nothing was dropped. Check oms_metadb_host (login_host) or config.yaml's oms_meta_host "
                       "(the dump's header must name the host the upgrade dumped from) and oms_backup_dir "
                       "(backup_dir)")


def redump_digest(settings, database, mysqldump, defaults_file, entry=None, work_dir=None, parallel=True):
    """(content digest, table names) of `database` dumped again now, with the dump's options.

    A dump made in pieces (its manifest entry records them) is dumped again with the same pieces,
    over the same workers, so that it gives the same bytes and no statement is longer than the
    dump's were (OceanBase's ob_query_timeout); an older manifest's, with one mysqldump.
    """
    digest = dump_digest.ContentDigest()
    if entry is not None and entry.get("pieces") is not None and work_dir:
        pieced = metadb_dump.PiecedDump(work_dir, mysqldump, defaults_file,
                                        workers=metadb_dump.dump_workers() if parallel else 1)
        pieced.add(database, mysql_clients.AssemblySink(feed=digest.feed), recorded=entry["pieces"],
                   triggers=bool(entry.get("triggers")))
        pieced.run()
        return digest.hexdigest(), list(digest.tables)
    argv = mysql_clients.dump_command(mysqldump, defaults_file, database)
    mysql_clients.run_dump_to_stream(argv, digest.feed)
    return digest.hexdigest(), list(digest.tables)


def database_state(conn, entry, scan, settings, mysqldump, defaults_file, work_dir=None):
    """('missing'|'identical'|'different', differing tables) of one manifest entry.

    The table lists are compared first (cheap: after an upgrade ran, the schema differs); only
    when they are the same is the database dumped again and its content digest compared.
    """
    database = entry["database"]
    if metadb_inventory.database_charset(conn, database)[0] is None:
        return "missing", None
    tables = metadb_inventory.base_tables(conn, database)
    conn.rollback()
    recorded = sorted(scan.get("table_names") or [])
    if sorted(tables) != recorded:
        return "different", sorted(set(tables) ^ set(recorded))
    digest, _names = redump_digest(settings, database, mysqldump, defaults_file, entry, work_dir)
    if digest != scan.get("content_digest"):
        return "different", ["(content)"]
    return "identical", []


class RestoreJob(object):
    def __init__(self, settings, backup_dir, entry, scan, mysql, mysqldump, defaults_file, paths, parallel=True):
        self.settings = settings
        self.backup_dir = backup_dir
        self.parallel = parallel
        self.entry = entry
        self.scan = scan
        self.database = entry["database"]
        self.path = os.path.join(backup_dir, entry["file"])
        self.compress = dump_files.compression_of(entry["file"])
        self.argv = mysql_clients.load_command(mysql, defaults_file, self.database)
        self.mysqldump = mysqldump
        self.defaults_file = defaults_file
        self.paths = paths

    def __call__(self):
        q = metadb.quote_identifier(self.database)
        conn = metadb.connect(self.settings)
        try:
            try:
                with conn.cursor() as cur:
                    cur.execute("DROP DATABASE IF EXISTS %s" % q)
                    create = "CREATE DATABASE %s" % q
                    if self.entry.get("charset"):
                        create += " CHARACTER SET %s" % self.entry["charset"]
                    if self.entry.get("collation"):
                        create += " COLLATE %s" % self.entry["collation"]
                    cur.execute(create)
            except metadb.pymysql.err.MySQLError as e:
                raise metadb.translate_error(e, self.settings, self.database,
                                             doing="restore %s" % self.database)
        finally:
            conn.close()
        duration = mysql_clients.run_load_from_file(self.argv, self.path, self.compress, self.paths)
        digest, tables = redump_digest(self.settings, self.database, self.mysqldump, self.defaults_file,
                                       self.entry, self.backup_dir, self.parallel)
        if digest != self.scan.get("content_digest"):
            missing = sorted(set(self.scan.get("table_names") or []) - set(tables))
            raise OmsError("%s was restored but dumping it again does not give back the backup's content "
                           "(content digest %s, the file's %s%s)"
                           % (self.database, digest[:12], (self.scan.get("content_digest") or "")[:12],
                              "; tables missing: %s" % ", ".join(missing[:10]) if missing else ""),
                           "Do not start OMS on it. Run the restore again (force=true); if it still "
                           "differs, compare the file with `mysqldump --skip-dump-date "
                           "--order-by-primary` of the database by hand")
        return {"database": self.database, "duration": round(duration, 1), "tables": len(tables),
                "content_digest": digest}


def restore(settings, backup_dir, parallel=True, force=False, check_mode=False, mysql="mysql",
            paths=None, mysqldump="mysqldump", verified=None):
    """The module's result dict for state=restored. `verified`, (manifest, scans) of a
    metadb_dump.verify(backup_dir, scans=scans) this process just made, spares reading every file
    a second time (a rollback's window verifies in a step of its own)."""
    zstd_path = (paths or {}).get("zstd") or "zstd"
    # 1. prove every file before touching any database; its content digest in the same pass
    if verified is None:
        scans = {}
        manifest = metadb_dump.verify(backup_dir, zstd_path=zstd_path, scans=scans)
    else:
        manifest, scans = verified
    entries = targets(settings, manifest)
    header_check(settings, backup_dir, entries, scans)
    conn = metadb.connect(settings)
    try:
        engine = conn.oms_engine
        with metadb.client_defaults_file(settings, backup_dir, engine["engine"]) as defaults_file:
            # 2. what differs from the backup
            try:
                states = [(entry,) + database_state(conn, entry, scans[entry["database"]], settings,
                                                    mysqldump, defaults_file, backup_dir)
                          for entry in entries]
            except metadb.pymysql.err.MySQLError as e:
                raise metadb.translate_error(e, settings, doing="compare the databases with the backup")
            conn.close()
            conn = None
            return _restore_plan(settings, backup_dir, manifest, scans, states, engine, force,
                                 check_mode, mysql, mysqldump, defaults_file, paths, parallel)
    finally:
        if conn is not None:
            conn.close()


def _restore_plan(settings, backup_dir, manifest, scans, states, engine, force, check_mode,
                  mysql, mysqldump, defaults_file, paths, parallel):
    """Steps 2-3 of restore(): the plan, and (not in check mode) drop, create, load, compare."""
    todo = [st[0] for st in states if force or st[1] != "identical"]
    unchanged = [st[0]["database"] for st in states if st[0] not in todo]
    plan = dict((entry["database"], {"state": state, "differing_tables": diff}) for entry, state, diff in states)
    result = {"manifest": manifest, "unchanged": unchanged, "plan": plan, "engine": engine,
              "content_digests": dict((d, s.get("content_digest")) for d, s in scans.items()),
              "dropped": [e["database"] for e in todo if plan[e["database"]]["state"] != "missing"],
              "restored": [e["database"] for e in todo]}
    if not todo:
        result.update(changed=False, msg="dumping %s again gives back the backup's content"
                      % ", ".join(unchanged))
        return result
    if check_mode:
        result.update(changed=True, msg="would drop %s and restore %s from %s"
                      % (", ".join(result["dropped"]) or "nothing", ", ".join(result["restored"]), backup_dir))
        return result
    # 3. drop, create, load, dump again and compare
    jobs = [RestoreJob(settings, backup_dir, entry, scans[entry["database"]], mysql, mysqldump,
                       defaults_file, paths, parallel) for entry in todo]
    outcomes = metadb_dump.run_jobs(jobs, parallel)
    metadb_dump.raise_first(outcomes, "Restoring the OMS databases failed")
    result.update(changed=True, durations=dict((o[0]["database"], o[0]["duration"]) for o in outcomes),
                  msg="restored %s from %s; dumping each again gives back the backup's content"
                  % (", ".join(result["restored"]), backup_dir))
    return result
