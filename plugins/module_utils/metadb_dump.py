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

import functools
import os
import re
import threading
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import atomic_file, dump_files, metadb, metadb_inventory
from ansible_collections.obtools.oms.plugins.module_utils import dump_keys, dump_pieces, dump_timeouts, mysql_clients


# how many mysqldump pieces run at once when parallel (None: one more than the cores); see dump()
DUMP_WORKERS = None
# bytes of a piece handed to the file (hash, write) at a time
COPY_CHUNK = 1024 * 1024
# PiecedDump._next's answer while the only pieces left wait for a seek's answer
WAIT = object()


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
        result["dump_timeout_risks"] = dump_timeouts.risks(conn, present, engine["engine"])
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


class Slot(object):
    """One mysqldump of a pieced dump: its options, its temporary file, whether it has finished."""

    def __init__(self, kind, piece, path, ranges=None):
        self.kind = kind  # "schema", "data" or "triggers"
        self.piece = piece
        self.path = path
        self.ranges = ranges
        self.done = False
        self.error = None
        self.seconds = None
        # the KeysetRanges that must find where this piece ends before it is dumped
        self.seek = None


class DatabaseDump(object):
    """A database's pieces and how they are put back together into `sink` (in order, as they finish)."""

    def __init__(self, database, sink, units=None, recorded=None, triggers=False, ignored=()):
        self.database = database
        self.sink = sink
        # tables left out of the schema dump too (the rollback's staged tables)
        self.ignored = list(ignored)
        self.units = list(units or [])
        self.slots = []          # data pieces, in file order
        self.schema = None
        self.triggers = None
        self.want_triggers = triggers
        self.issued_all = False
        self.result = None
        self.error = None
        self.bytes = 0
        if recorded is not None:
            self.units = [("recorded", list(recorded))]


class PiecedDump(object):
    """Dumps databases in pieces over `workers` threads; each database's file is put together by a
    thread of its own, piece after piece, and the piece's temporary file is removed behind it.

    Every piece is a mysqldump with the dump's options plus its own (dump_pieces); the schema dump
    of each database is started first. Memory stays flat: pieces go through temporary files in the
    backup directory (0600, swept if the run is killed) and are copied CHUNK at a time.
    """

    def __init__(self, work_dir, mysqldump, defaults_file, extra_args=None, workers=2, connect=None):
        self.work_dir = work_dir
        # a new MetaDB connection (the seeks of key-tuple ranges; one per worker, opened when needed)
        self.connect = connect
        self.mysqldump = mysqldump
        self.defaults_file = defaults_file
        self.extra_args = list(extra_args or [])
        self.workers = max(1, int(workers))
        self.dbs = []
        self.cond = threading.Condition()
        self.failed = None
        self.counter = 0

    def add(self, database, sink, units=None, recorded=None, triggers=False, ignored=()):
        self.dbs.append(DatabaseDump(database, sink, units, recorded, triggers, ignored))

    def _path(self, db):
        self.counter += 1
        return os.path.join(self.work_dir, ".%s.piece%05d.tmp-%d" % (db.database, self.counter, os.getpid()))

    def _argv(self, db, slot):
        if slot.kind == "schema":
            opts, tables = ["--no-data"] + ["--ignore-table=%s.%s" % (db.database, t) for t in db.ignored], []
        elif slot.kind == "triggers":
            opts, tables = ["--no-data", "--no-create-info", "--triggers"], []
        else:
            opts, tables = dump_pieces.piece_args(slot.piece)
            opts = ["--no-create-info"] + opts
        return mysql_clients.dump_command(self.mysqldump, self.defaults_file, db.database, False,
                                          self.extra_args + opts) + tables

    def _next(self):
        """The next slot to dump (under self.cond), WAIT while only a seek's answer can give one,
        or None."""
        for db in self.dbs:
            if db.schema is None:
                db.schema = Slot("schema", None, self._path(db))
                return db, db.schema
            if db.want_triggers and db.triggers is None:
                db.triggers = Slot("triggers", None, self._path(db))
                return db, db.triggers
        seeking = False
        for db in self.dbs:
            at = 0
            while at < len(db.units):
                kind, what = db.units[at]
                if kind == "keyset":
                    # its next piece starts where the piece being sought ends: the units after it
                    # go first meanwhile (pieces of different tables may interleave in the file;
                    # the plan records their order)
                    piece = what.take()
                    if piece is None:
                        if what.done:
                            db.units.pop(at)
                        else:
                            seeking = True
                            at += 1
                        continue
                    slot = Slot("data", piece, self._path(db), what)
                    slot.seek = what
                    db.slots.append(slot)
                    return db, slot
                if kind == "ranges":
                    piece = what.take()
                    if piece is None:
                        db.units.pop(at)
                        continue
                    slot = Slot("data", piece, self._path(db), what)
                elif kind == "group":
                    db.units.pop(at)
                    slot = Slot("data", {"tables": what}, self._path(db))
                else:  # recorded pieces, replayed in order
                    if not what:
                        db.units.pop(at)
                        continue
                    slot = Slot("data", dict(what.pop(0)), self._path(db))
                db.slots.append(slot)
                return db, slot
            if not db.units and not db.issued_all:
                db.issued_all = True
                self.cond.notify_all()
        return WAIT if seeking else None

    def _worker(self):
        conns = []
        try:
            while True:
                with self.cond:
                    if self.failed is not None:
                        return
                    job = self._next()
                    if job is WAIT:
                        self.cond.wait(1.0)
                        continue
                if job is None:
                    return
                db, slot = job
                self._dump_slot(db, slot, conns)
        finally:
            for conn in conns:
                conn.close()

    def _seek(self, db, slot, conns):
        """Find the end of a key-tuple piece (dump_keys) on this worker's connection."""
        if not conns:
            conns.append(self.connect())
            with conns[0].cursor() as cur:
                # mysqldump's sessions run in UTC (--tz-utc): a TIMESTAMP bound reads the same there
                cur.execute("SET time_zone = '+00:00'")
        try:
            with conns[0].cursor() as cur:
                cur.execute(slot.seek.seek(db.database, slot.piece))
                row = cur.fetchone()
            conns[0].rollback()
        except metadb.pymysql.err.MySQLError as e:
            raise OmsError("Finding where a piece of %s.%s ends failed: %s" % (db.database, slot.piece["table"], e),
                           "Check the MetaDB and dump again")
        with self.cond:
            slot.seek.ended(slot.piece, row)
            self.cond.notify_all()

    def _dump_slot(self, db, slot, conns):
        try:
            if slot.seek is not None:
                self._seek(db, slot, conns)
            slot.seconds = mysql_clients.run_piece(self._argv(db, slot), slot.path)
        except OmsError as e:
            e.msg = "%s (%s, piece %s)" % (e.msg, db.database, self._describe(slot))
            slot.error = e
        except Exception as e:  # pylint: disable=broad-except
            slot.error = e
        with self.cond:
            slot.done = True
            if slot.error is not None and self.failed is None:
                self.failed = slot.error
            if slot.error is None and slot.ranges is not None:
                slot.ranges.measured(slot.piece["width"], slot.seconds)
            self.cond.notify_all()

    def _wait(self, ready):
        with self.cond:
            while not ready():
                if self.failed is not None:
                    raise self.failed
                self.cond.wait(1.0)
            if self.failed is not None:
                raise self.failed

    def _copy(self, db, slot, start=None, end=None, whole_body=True):
        """Append the body of a piece (or [start, end) of it) to the database's sink."""
        with open(slot.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(min(size, 65536))
            f.seek(max(0, size - 65536))
            tail_offset = f.tell()
            tail = f.read()
            lines = [line for line in tail.splitlines() if line.strip()]
            if not lines or not lines[-1].startswith(dump_files.COMPLETION_PREFIX):
                raise OmsError("A piece of the dump of %s (%s) is truncated: no completion line"
                               % (db.database, self._describe(slot)),
                               "Check the MetaDB and the space in the backup directory, then dump again")
            body_start = dump_pieces.header_end(head)
            body_end = dump_pieces.footer_start(tail, tail_offset)
            if body_start is None or body_end is None or body_end < body_start:
                raise OmsError("mysqldump's output for %s (%s) has no header or footer where expected"
                               % (db.database, self._describe(slot)),
                               "Do not give dump_extra_args that change mysqldump's header (--compact, "
                               "--skip-comments, --skip-set-charset)")
            if whole_body:
                start, end = body_start, body_end
            else:
                start = 0 if start is None else (body_end if start == "footer" else start)
                end = size if end is None else (body_end if end == "footer" else end)
            if end <= start:
                return
            # read into one buffer for the hash (and the scan of the schema dump's parts; a
            # piece's body holds no line that starts a CREATE TABLE); the file gets the bytes by
            # copy_file_range, inside the kernel: this process's CPU is the dump's overhead
            buf = bytearray(COPY_CHUNK)
            view = memoryview(buf)
            f.seek(start)
            at = start
            while at < end:
                n = f.readinto(view[:min(COPY_CHUNK, end - at)])
                if not n:
                    raise OmsError("A piece of the dump of %s (%s) shrank while it was read"
                                   % (db.database, self._describe(slot)), "Dump again")
                db.sink.write(view[:n], scan=slot.kind == "schema", src_fd=f.fileno(), src_offset=at)
                at += n
            db.bytes += end - start

    @staticmethod
    def _describe(slot):
        if slot.kind != "data":
            return slot.kind
        piece = slot.piece
        where = dump_pieces.piece_where(piece)
        if where is not None:
            return "%s where %s" % (piece["table"], where)
        return ", ".join(piece["tables"])

    @staticmethod
    def _ready(db, i):
        """Piece i of db can be copied, or db has no piece i and will have none."""
        return (i < len(db.slots) and db.slots[i].done) or (db.issued_all and i >= len(db.slots))

    def _assemble(self, db):
        try:
            self._wait(lambda: db.schema is not None and db.schema.done)
            self._copy(db, db.schema, 0, "footer", whole_body=False)
            i = 0
            while True:
                self._wait(functools.partial(self._ready, db, i))
                if i >= len(db.slots):
                    break
                self._copy(db, db.slots[i])
                dump_files.remove_quietly(db.slots[i].path)
                i += 1
            if db.triggers is not None:
                self._wait(lambda: db.triggers.done)
                self._copy(db, db.triggers)
            self._copy(db, db.schema, "footer", None, whole_body=False)
            db.result = db.sink.close()
            db.finished = time.time()
        except Exception as e:  # pylint: disable=broad-except
            db.error = e
            with self.cond:
                if self.failed is None:
                    self.failed = e
                self.cond.notify_all()

    def run(self):
        """Dump every database added; raise the first failure; [(DatabaseDump)] when all went well."""
        started = time.time()
        threads = [threading.Thread(target=self._worker) for _i in range(self.workers)]
        threads += [threading.Thread(target=self._assemble, args=(db,)) for db in self.dbs]
        try:
            for t in threads:
                t.start()
        finally:
            for t in threads:
                if t.ident is not None:
                    t.join()
            for db in self.dbs:
                for slot in [db.schema, db.triggers] + db.slots:
                    if slot is not None:
                        dump_files.remove_quietly(slot.path)
                if db.result is None:
                    db.sink.abort()
        if self.failed is not None:
            raise self.failed
        self.seconds = time.time() - started
        return self.dbs

    def plan(self, db):
        """The data pieces of a database as the manifest records them."""
        out = []
        for slot in db.slots:
            piece = dict(slot.piece)
            piece.pop("width", None)
            out.append(piece)
        return out


def read_piece_info(conn, database, tables, floors=None):
    """[{"table", "key", "low", "high", "row_bytes", "rows", "keyset"}] of `tables`: what plan_units
    needs.

    One query for the columns and table-row estimates of the database, one for its indexes, then
    per table with an integer key MIN and MAX of the key (its index ends) and, when the span is
    more than a few rows, the sampled length of a row as mysqldump writes it (metadb_inventory).
    A table with another key (dump_keys.choose_key: a key tuple) gets the same sample, which
    also says whether it is small (fewer rows than the sample: "rows" exact). No COUNT(*).

    floors: {table: key} below which the table holds no row (a prune just deleted them). Its MIN
    is read from there: on OceanBase a MIN from the index's start steps over every delete mark a
    prune left (seconds after 5,000,000 heartbeat rows), inside the window. A wrong floor cannot
    lose rows: the first range of a table has no lower bound.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_KEY, IS_NULLABLE, CHARACTER_SET_NAME "
                    "FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION", (database,))
        columns = {}
        for table, column, data_type, key, nullable, charset in cur.fetchall():
            columns.setdefault(table, []).append((column, data_type, key, nullable, charset))
        cur.execute("SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (database,))
        estimates = dict((r[0], r[1]) for r in cur.fetchall())
        indexes = table_indexes(cur, database)
        out = []
        for table in tables:
            info = {"table": table, "key": None, "low": None, "high": None, "row_bytes": None,
                    "rows": estimates.get(table), "keyset": None}
            key = dump_pieces.int_key(columns.get(table, []))
            keyset = None if key is not None else dump_keys.choose_key(
                [(c[0], c[1], c[3], c[4]) for c in columns.get(table, [])], indexes.get(table, []))
            if key is not None:
                low = high = None
                floor = (floors or {}).get(table)
                select = "SELECT MIN(%s), MAX(%s) FROM %s.%s" % (
                    metadb.quote_identifier(key), metadb.quote_identifier(key),
                    metadb.quote_identifier(database), metadb.quote_identifier(table))
                if floor is not None:
                    cur.execute(select + " WHERE %s >= %%s" % metadb.quote_identifier(key), (int(floor),))
                    low, high = cur.fetchone()
                if low is None:
                    cur.execute(select)
                    low, high = cur.fetchone()
                info.update(key=key, low=low, high=high)
            if (key is not None and info["low"] is not None and int(info["high"]) - int(info["low"]) > 1000) \
                    or keyset is not None:
                cur.execute(metadb_inventory.sampled_row_bytes_sql(
                    database, table, [(c[0], c[1]) for c in columns[table]]))
                sampled, sampled_bytes = cur.fetchone()
                if sampled:
                    info["row_bytes"] = float(sampled_bytes) / int(sampled) + metadb_inventory.ROW_OVERHEAD \
                        + metadb_inventory.VALUE_OVERHEAD * len(columns[table])
                if keyset is not None:
                    info["keyset"] = keyset
                    info["rows"] = int(sampled) if int(sampled) < metadb_inventory.SAMPLE_ROWS else None
            out.append(info)
    return out


def table_indexes(cur, database):
    """{table: [(INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION)]} of a
    database: what dump_keys.choose_key picks a key tuple from."""
    cur.execute("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION "
                "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX", (database,))
    found = {}
    for row in cur.fetchall():
        found.setdefault(row[0], []).append(tuple(row[1:]))
    return found


def query_timeout_seconds(conn, engine):
    """The global statement timeout mysqldump's sessions run under, in seconds, or None: OceanBase's
    ob_query_timeout, MariaDB's max_statement_time, MySQL's max_execution_time (dump_timeouts)."""
    return dump_timeouts.statement_timeout(conn, engine)[1]


def other_sessions(conn, databases):
    """Sessions other than this one that use the databases (their current database, or a statement
    naming one): [(id, user, host, db, command, seconds, statement)]."""
    with conn.cursor() as cur:
        cur.execute("SELECT ID, USER, HOST, DB, COMMAND, TIME, INFO FROM information_schema.PROCESSLIST "
                    "WHERE ID <> CONNECTION_ID()")
        rows = cur.fetchall()
    conn.rollback()
    found = []
    for row in rows:
        info = row[6] if not isinstance(row[6], bytes) else row[6].decode("utf-8", "replace")
        if uses_databases(row[3], info, databases):
            found.append(tuple(row[:6]) + ((info or "")[:80],))
    return found


def uses_databases(current_db, statement, databases):
    """Whether a session whose current database is current_db, running statement (or None), uses
    one of databases. A name counts in the statement only as a whole identifier: on a MetaDB that
    holds other deployments too, `bench_cm_411` is not `cm_411`."""
    if current_db in databases:
        return True
    if not statement:
        return False
    return any(re.search(r"(?<![\w$])%s(?![\w$])" % re.escape(name), statement) for name in databases)


def require_quiescent(settings, databases, when):
    """Refuse (OmsError naming them) when other sessions use the databases: the pieces of a dump
    are read one after another, which is one consistent state only while nothing writes."""
    conn = metadb.connect(settings)
    try:
        try:
            found = other_sessions(conn, databases)
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, doing="read information_schema.PROCESSLIST")
    finally:
        conn.close()
    if found:
        raise OmsError("Other sessions use %s %s the dump: %s" % (
            ", ".join(databases), when,
            "; ".join("id %s %s@%s db %s %s %ss %s" % (r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in found)),
            "The dump needs the databases quiescent (OMS stopped, nothing else connected to them): end "
            "these sessions (KILL them on the MetaDB), then run the upgrade again; a session of another "
            "user than OMS's own (oms_metadb_user, or config.yaml's) is refused before the stop")


def read_databases(settings, databases, pieces=False, skip_prefix=None, key_floors=None):
    """{database: (charset, collation, [base tables])} and the engine, on one connection.

    With pieces, also {database: read_piece_info()} and the statement timeout (seconds, or None).
    Tables whose names start with skip_prefix are left out (listed in {database: [names]} as
    the last item then); key_floors: {database: {table: key}} for read_piece_info.
    """
    conn = metadb.connect(settings)
    try:
        try:
            found = {}
            infos = {}
            skipped = {}
            for _role, database in databases:
                charset, collation = metadb_inventory.database_charset(conn, database)
                if charset is not None:
                    tables = metadb_inventory.base_tables(conn, database)
                    skipped[database] = [t for t in tables if skip_prefix and t.startswith(skip_prefix)]
                    found[database] = (charset, collation, [t for t in tables if t not in skipped[database]])
                    if pieces:
                        infos[database] = read_piece_info(conn, database, found[database][2],
                                                          (key_floors or {}).get(database))
            timeout = query_timeout_seconds(conn, conn.oms_engine["engine"]) if pieces else None
            conn.rollback()
            if pieces:
                return found, conn.oms_engine, infos, timeout, skipped
            return found, conn.oms_engine
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, doing="read information_schema")
    finally:
        conn.close()


def dump_workers():
    """mysqldump processes at once: DUMP_WORKERS, or one more than the cores (each piece's time is
    shared between mysqldump and the server)."""
    return DUMP_WORKERS or (getattr(os, "cpu_count", lambda: None)() or 1) + 1


def dump(settings, backup_dir, compress="none", triggers=False, parallel=True, force=False,
         check_mode=False, mysqldump="mysqldump", paths=None, extra_args=None, quiescent_check=True,
         skip_prefix=None, key_floors=None):
    """Dump the three databases into backup_dir; the module's result dict.

    The databases are read in pieces (dump_pieces), so that no statement outlives OceanBase's
    ob_query_timeout; pieces are read one after another, so the databases must not change: with
    quiescent_check (the default) the dump refuses, naming them, when other sessions use them
    before it starts or when it ends. Tables named skip_prefix... are left out (the rollback's
    safety dump: the tables it loaded ahead of the stop are not what 4.2.0 wrote). key_floors:
    {database: {table: key}} below which a table holds no row (read_piece_info).
    """
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
    # the window this is one connection, information_schema and each keyed table's MIN/MAX
    names = [pair[1] for pair in databases]
    found, engine, infos, timeout, skipped = read_databases(settings, databases, pieces=True,
                                                            skip_prefix=skip_prefix, key_floors=key_floors)
    missing = [pair[1] for pair in databases if pair[1] not in found]
    if missing:
        raise OmsError("The MetaDB at %s:%s has no database %s" % (settings.host, settings.port, ", ".join(missing)),
                       "Check rm_db/cm_db/cm_hb_db (drc_rm_db, drc_cm_db, drc_cm_heartbeat_db in config.yaml)")
    if quiescent_check:
        require_quiescent(settings, names, "before")
    if not os.path.isdir(backup_dir):
        try:
            os.makedirs(backup_dir, 0o700)
        except OSError as e:
            raise OmsError("Cannot create the backup directory %s: %s" % (backup_dir, e.strerror or e),
                           "Create it (mode 0700) or give a backup_dir (the inventory's oms_backup_dir) this "
                           "user can write")
    sweep_partial_dumps(backup_dir)
    started = time.time()
    target = dump_pieces.target_seconds(timeout)
    tmps = dict((db, os.path.join(backup_dir, ".%s.tmp-%d" % (dump_files.dump_file_name(db, compress), os.getpid())))
                for db in names)
    pieced = None
    try:
        with metadb.client_defaults_file(settings, backup_dir, engine["engine"]) as defaults_file:
            pieced = PiecedDump(backup_dir, mysqldump, defaults_file, extra_args,
                                dump_workers() if parallel else 1, connect=functools.partial(metadb.connect, settings))
            for db in names:
                pieced.add(db, mysql_clients.AssemblySink(tmps[db], compress, paths, what="dump of %s" % db),
                           units=dump_pieces.plan_units(infos[db], target), triggers=triggers,
                           ignored=skipped.get(db) or ())
            pieced.run()
        problems = []
        for db in pieced.dbs:
            scan = db.result["scan"]
            if db.result["size"] == 0:
                problems.append("%s is empty" % tmps[db.database])
                continue
            problems.extend(dump_files.scan_problems(tmps[db.database], scan, len(found[db.database][2])))
            problems.extend(dump_files.header_problems(tmps[db.database], scan, settings.host, db.database))
        if problems:
            raise OmsError("The dump did not verify: %s" % "; ".join(problems),
                           "Check the MetaDB and the space in the backup directory, then dump again")
        if quiescent_check:
            require_quiescent(settings, names, "during")
    except Exception:
        if pieced is not None:
            for db in pieced.dbs:
                db.sink.abort()
        for path in tmps.values():
            dump_files.remove_quietly(path)
        raise
    finished = time.time()
    entries = []
    for (role, name), db in zip(databases, pieced.dbs):
        charset, collation, tables = found[name]
        entries.append({"role": role, "database": name, "file": dump_files.dump_file_name(name, compress),
                        "size": db.result["size"], "sha256": db.result["sha256"], "tables": len(tables),
                        "duration": round(db.finished - started, 1), "charset": charset,
                        "collation": collation, "triggers": bool(triggers), "pieces": pieced.plan(db)})
    # the old manifest must not describe the new files while they are being renamed
    dump_files.remove_quietly(manifest_path)
    for name in names:
        os.rename(tmps[name], os.path.join(backup_dir, dump_files.dump_file_name(name, compress)))
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
                "longest_batch_seconds", "longest_batch_rows", "workers")
        data = dict(("heartbeat_" + k if k in ("max_id", "rows_after") else k, result.get(k)) for k in keys)
        data["heartbeat_rows_deleted"] = result.get("rows_deleted", 0)
        return data
    if state == "dumped":
        return {"dump_dir": backup_dir, "manifest": result.get("manifest") or {}}
    return dict((k, result.get(k)) for k in ("restored", "dropped", "unchanged"))
