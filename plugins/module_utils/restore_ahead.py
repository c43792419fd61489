# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback's restore, loaded ahead of the stop of 4.2.0 and swapped in inside the window.

Loading the upgrade's dumps is most of a rollback's downtime (at 1 GB, 43 s of a 57 s window on
2 cores: one INSERT after another on the server). Their content is known before the rollback
starts, so the rollback window loads them while 4.2.0 still serves, into the same databases under
other names (STAGED_PREFIX + table: the OMS user's grants cover its three databases only, so no
other database can hold them). Inside the window, once 4.2.0 is stopped and what it wrote is
dumped, each database's own tables are dropped and the staged ones renamed into their place in one
statement; the restore (metadb_restore.restore) then proves each database equal to its file by
dumping it again, as it proves a database it loads itself, and loads any that differs.

The staging is only ever a head start: a dump it cannot load that way (views, triggers, routines,
foreign keys, a name too long for the prefix) or any failure leaves no staged table behind, and
the window loads that database itself, as it did before.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_files, metadb, metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import metadb_restore, mysql_clients

STAGED_PREFIX = "_oms_staged_"
# MySQL's, MariaDB's and OceanBase's limit on a table name
NAME_LIMIT = 64
# Statements of a mysqldump file whose first identifier is the table's (one per line: mysqldump
# writes every statement that names a table on a line of its own, and escapes newlines in data).
_TABLE_STATEMENTS = (b"DROP TABLE IF EXISTS `", b"CREATE TABLE `", b"LOCK TABLES `",
                     b"/*!40000 ALTER TABLE `", b"INSERT INTO `")
# Lines a staged load cannot rename safely: views (mysqldump writes them, and their placeholder
# tables, in 5.0.1 comments; a view names the tables it reads), triggers and routines (between
# DELIMITER lines) and constraints (their names are unique per database, and a foreign key names
# another table).
_NOT_STAGEABLE = ((b"/*!50001 ", "a view"), (b"/*!50013 ", "a view"), (b"DELIMITER ", "a trigger or routine"),
                  (b"  CONSTRAINT ", "a named constraint"))


class NotStageable(OmsError):
    """The dump holds what a load under other names cannot rename."""


def _identifier_end(line, start):
    """Index just after the backquoted identifier whose opening quote ends at `start`."""
    pos = start
    while True:
        quote = line.find(b"`", pos)
        if quote < 0:
            raise NotStageable("a table name that does not end on its line", "")
        if line[quote + 1:quote + 2] == b"`":
            pos = quote + 2
            continue
        return quote


def stage_line(line):
    """`line` of a mysqldump file with its table named STAGED_PREFIX + name, or as it is."""
    for prefix in _TABLE_STATEMENTS:
        if line.startswith(prefix):
            start = len(prefix)
            end = _identifier_end(line, start)
            name = line[start:end].replace(b"``", b"`")
            if len(name.decode("utf-8", "replace")) + len(STAGED_PREFIX) > NAME_LIMIT:
                raise NotStageable("table %s: its name is too long for the prefix %s"
                                   % (name.decode("utf-8", "replace"), STAGED_PREFIX), "")
            return line[:start] + STAGED_PREFIX.encode("ascii") + line[start:]
    for marker, what in _NOT_STAGEABLE:
        if line.startswith(marker):
            raise NotStageable("the dump holds %s" % what, "")
    return line


def staged_name(table):
    return STAGED_PREFIX + table


def _tables(conn, database):
    """{name: table type} of every table and view of `database`."""
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (database,))
        return dict((row[0], row[1]) for row in cur.fetchall())


def drop_staged(conn, database):
    """Drop every staged table of `database` (a staging cut off or refused); their names."""
    staged = sorted(name for name in _tables(conn, database) if name.startswith(STAGED_PREFIX))
    if staged:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS %s" % ", ".join(
                "%s.%s" % (metadb.quote_identifier(database), metadb.quote_identifier(t)) for t in staged))
    return staged


class StageJob(object):
    """Load one database's dump beside its tables, under staged names."""

    def __init__(self, settings, backup_dir, entry, mysql, defaults_file, paths):
        self.settings = settings
        self.entry = entry
        self.database = entry["database"]
        self.path = os.path.join(backup_dir, entry["file"])
        self.compress = dump_files.compression_of(entry["file"])
        self.argv = mysql_clients.load_command(mysql, defaults_file, self.database)
        self.paths = paths

    def _drop_staged(self):
        conn = metadb.connect(self.settings)
        try:
            return drop_staged(conn, self.database)
        finally:
            conn.close()

    def __call__(self):
        if self.entry.get("triggers"):
            return {"database": self.database, "staged": False, "reason": "the dump holds triggers"}
        self._drop_staged()
        try:
            seconds = mysql_clients.run_load_from_file(self.argv, self.path, self.compress, self.paths,
                                                       line_filter=stage_line)
        except NotStageable as exc:
            self._drop_staged()
            return {"database": self.database, "staged": False, "reason": exc.msg}
        except Exception:
            self._drop_staged()
            raise
        return {"database": self.database, "staged": True, "seconds": round(seconds, 2)}


def check(settings, backup_dir, verified):
    """The restore's refusals (a manifest for other databases, a dump from another server), before
    the stop: the manifest's entries."""
    manifest, scans = verified
    entries = metadb_restore.targets(settings, manifest)
    metadb_restore.header_check(settings, backup_dir, entries, scans)
    return entries


# The staged copy of a database takes about what its dump holds (rows, indexes, page slack): a
# margin on the dump's size, since a MetaDB that fills up under the serving 4.2.0 breaks OMS.
ROOM_FACTOR = 1.5


def room_needed(entries):
    """Bytes the staged copies need beside the serving tables: the dumps' sizes with a margin."""
    return int(sum(int(entry.get("size") or 0) for entry in entries) * ROOM_FACTOR)


def metadb_free_bytes(settings):
    """The MetaDB's free data space where the OMS user can read it (OceanBase's GV$OB_SERVERS, or
    the tenant's unit when it is smaller), else None: MySQL and MariaDB tell it to no SQL user."""
    conn = metadb.connect(settings)
    try:
        if conn.oms_engine.get("engine") != "oceanbase":
            return None
        free = None
        with conn.cursor() as cur:
            for query in ("SELECT SUM(DATA_DISK_CAPACITY - DATA_DISK_IN_USE) FROM oceanbase.GV$OB_SERVERS",
                          "SELECT SUM(DATA_DISK_SIZE - DATA_DISK_IN_USE) FROM oceanbase.GV$OB_UNITS"):
                try:
                    cur.execute(query)
                    row = cur.fetchone()
                except metadb.pymysql.err.MySQLError:
                    continue
                if row and row[0] is not None:
                    free = int(row[0]) if free is None else min(free, int(row[0]))
        conn.rollback()
        return free
    finally:
        conn.close()


def require_room(settings, entries, stated_free=None):
    """Refuse (before the stop) when the MetaDB has less free space than the staged copies need:
    the space the DBA stated (stated_free), else what the engine tells the OMS user. Returns
    (needed, free, source); free is None when neither is known (the caller warns)."""
    needed = room_needed(entries)
    if stated_free is not None:
        free, source = int(stated_free), "stated (oms_rollback_metadb_free_bytes)"
    else:
        try:
            free, source = metadb_free_bytes(settings), "read from the MetaDB"
        except OmsError:
            free, source = None, None
    if free is not None and free < needed:
        raise OmsError("The MetaDB has %d bytes free (%s), and loading the dumps beside the serving tables "
                       "needs about %d (%.1f x the dumps' %d bytes): the rollback was refused before the stop"
                       % (free, source, needed, ROOM_FACTOR, needed / ROOM_FACTOR),
                       "Free space on the MetaDB (or raise the tenant's disk quota), or set "
                       "oms_rollback_restore_ahead=false to load the dumps after the stop as the procedure does; "
                       "nothing was stopped")
    return needed, free, source


def stage(settings, backup_dir, entries, mysql="mysql", paths=None, parallel=True):
    """Load every database's dump beside its tables (OMS 4.2.0 still serving).

    `entries` are what check() returned: manifest entries of files proven against their manifest,
    for this MetaDB. Returns {"staged": [databases], "not_staged": {database: why},
    "seconds": {database: seconds}}; raises OmsError when a load fails (after dropping what it
    staged)."""
    conn = metadb.connect(settings)
    try:
        engine = conn.oms_engine["engine"]
    finally:
        conn.close()
    with metadb.client_defaults_file(settings, backup_dir, engine) as defaults_file:
        jobs = [StageJob(settings, backup_dir, entry, mysql, defaults_file, paths) for entry in entries]
        outcomes = metadb_dump.run_jobs(jobs, parallel)
    metadb_dump.raise_first(outcomes, "Loading the dumps ahead of the stop failed")
    results = [outcome[0] for outcome in outcomes]
    return {"staged": [r["database"] for r in results if r["staged"]],
            "not_staged": dict((r["database"], r["reason"]) for r in results if not r["staged"]),
            "seconds": dict((r["database"], r["seconds"]) for r in results if r["staged"])}


def swap(settings, databases, manifest, scans):
    """In the window (OMS stopped, what it wrote dumped): for each of `databases` whose staged
    tables are exactly the dump's, drop the database's own tables and views and rename the staged
    ones into their place. Returns ([swapped databases], seconds). A database left as it was is
    restored by metadb_restore.restore afterwards, which also proves every swapped one."""
    started = time.time()
    entries = dict((e["database"], e) for e in manifest.get("databases") or [])
    swapped = []
    conn = metadb.connect(settings)
    try:
        for database in databases:
            entry = entries.get(database)
            if entry is None:
                continue
            try:
                if _swap_one(conn, database, entry, scans.get(database) or {}):
                    swapped.append(database)
            except metadb.pymysql.err.MySQLError as e:
                raise metadb.translate_error(e, settings, database, doing="swap in the restored tables of %s"
                                             % database)
    finally:
        conn.close()
    return swapped, time.time() - started


def _swap_one(conn, database, entry, scan):
    tables = _tables(conn, database)
    staged = sorted(name[len(STAGED_PREFIX):] for name, kind in tables.items()
                    if name.startswith(STAGED_PREFIX) and kind == "BASE TABLE")
    if not staged or staged != sorted(scan.get("table_names") or []):
        # nothing staged, or not all of it (cut off): the restore loads this database itself
        drop_staged(conn, database)
        return False
    q = metadb.quote_identifier
    own = [name for name in tables if not name.startswith(STAGED_PREFIX)]
    views = [name for name in own if tables[name] != "BASE TABLE"]
    with conn.cursor() as cur:
        for view in views:
            cur.execute("DROP VIEW IF EXISTS %s.%s" % (q(database), q(view)))
        base = [name for name in own if name not in views]
        if base:
            cur.execute("DROP TABLE IF EXISTS %s" % ", ".join("%s.%s" % (q(database), q(t)) for t in base))
        # one statement: either every table is in place or none moved (a run cut off here finds
        # the staged tables complete, and swaps them then)
        cur.execute("RENAME TABLE %s" % ", ".join(
            "%s.%s TO %s.%s" % (q(database), q(staged_name(t)), q(database), q(t)) for t in staged))
        if entry.get("charset"):
            cur.execute("ALTER DATABASE %s CHARACTER SET %s%s" % (
                q(database), entry["charset"],
                " COLLATE %s" % entry["collation"] if entry.get("collation") else ""))
    return True
