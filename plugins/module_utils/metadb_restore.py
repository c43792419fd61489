# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore OMS's databases from a verified dump (the procedure's steps 9.3 and 9.4).

Order matters: every file's size, sha256 and content is checked against the manifest BEFORE any
database is dropped; a database whose tables already carry the manifest's CHECKSUM TABLE values
is left alone (so a second restore changes nothing); the others are dropped, created with their
recorded character set and loaded through `mysql` reading the file on stdin, side by side; then
every table's checksum must equal the manifest's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_files, metadb, metadb_dump
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
                       "Point backup_dir at this deployment's backup, or fix rm_db/cm_db/cm_hb_db")
    return manifest["databases"]


def differing_tables(current, recorded):
    """Tables whose checksum differs, plus tables present on one side only."""
    return sorted(t for t in set(current) | set(recorded) if current.get(t) != recorded.get(t))


def database_state(conn, entry):
    """'missing', 'identical' or 'different' for one manifest entry."""
    database = entry["database"]
    if metadb_inventory.database_charset(conn, database)[0] is None:
        return "missing", None
    current = metadb_inventory.table_checksums(conn, database)
    diff = differing_tables(current, dict((k, v) for k, v in entry["checksums"].items()))
    conn.rollback()
    return ("different", diff) if diff else ("identical", [])


class RestoreJob(object):
    def __init__(self, settings, backup_dir, entry, mysql, defaults_file, paths):
        self.settings = settings
        self.entry = entry
        self.database = entry["database"]
        self.path = os.path.join(backup_dir, entry["file"])
        self.compress = dump_files.compression_of(entry["file"])
        self.argv = mysql_clients.load_command(mysql, defaults_file, self.database)
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
                duration = mysql_clients.run_load_from_file(self.argv, self.path, self.compress, self.paths)
                current = metadb_inventory.table_checksums(conn, self.database)
                conn.rollback()
            except metadb.pymysql.err.MySQLError as e:
                raise metadb.translate_error(e, self.settings, self.database,
                                             doing="restore %s" % self.database)
        finally:
            conn.close()
        diff = differing_tables(current, self.entry["checksums"])
        if diff:
            raise OmsError("%s was restored but tables differ from the backup's checksums: %s"
                           % (self.database, ", ".join(diff[:10])),
                           "Do not start OMS on it; check the MetaDB's log and run the restore again")
        return {"database": self.database, "duration": round(duration, 1), "tables": len(current)}


def restore(settings, backup_dir, parallel=True, force=False, check_mode=False, mysql="mysql",
            paths=None):
    """The module's result dict for state=restored."""
    zstd_path = (paths or {}).get("zstd") or "zstd"
    # 1. prove every file before touching any database
    manifest = metadb_dump.verify(backup_dir, zstd_path=zstd_path)
    entries = targets(settings, manifest)
    # 2. what differs from the backup
    conn = metadb.connect(settings)
    try:
        try:
            states = [(entry,) + database_state(conn, entry) for entry in entries]
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, doing="compare the databases with the backup")
    finally:
        conn.close()
    todo = [st[0] for st in states if force or st[1] != "identical"]
    unchanged = [st[0]["database"] for st in states if st[0] not in todo]
    plan = dict((entry["database"], {"state": state, "differing_tables": diff}) for entry, state, diff in states)
    result = {"manifest": manifest, "unchanged": unchanged, "plan": plan,
              "dropped": [e["database"] for e in todo if plan[e["database"]]["state"] != "missing"],
              "restored": [e["database"] for e in todo]}
    if not todo:
        result.update(changed=False, msg="every table of %s already equals the backup"
                      % ", ".join(unchanged))
        return result
    if check_mode:
        result.update(changed=True, msg="would drop %s and restore %s from %s"
                      % (", ".join(result["dropped"]) or "nothing", ", ".join(result["restored"]), backup_dir))
        return result
    # 3. drop, create, load, compare
    with metadb.client_defaults_file(settings) as defaults_file:
        jobs = [RestoreJob(settings, backup_dir, entry, mysql, defaults_file, paths) for entry in todo]
        outcomes = metadb_dump.run_jobs(jobs, parallel)
    metadb_dump.raise_first(outcomes, "Restoring the OMS databases failed")
    result.update(changed=True, durations=dict((o[0]["database"], o[0]["duration"]) for o in outcomes),
                  msg="restored %s from %s" % (", ".join(result["restored"]), backup_dir))
    return result
