# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rehearsal's copy of the MetaDB: rm, cm and cm_hb dumped while OMS serves (mysqldump
--single-transaction) and loaded into scratch databases `obrh_<name>` on the same MetaDB, a user
granted only those, their schemas read before and after the migration, and their removal.

Each function takes the MetaDB logins (`settings`: the deployment's, `admin`: the one that creates
the scratch databases) and plain values; `record(kind, name)` records what is about to be created
(rehearsal_verdict.Cleanup.record).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import re
import shutil
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import metadb, mysql_clients

PREFIX = "obrh_"
# MySQL and OceanBase identifiers and user names
MAX_DB_NAME = 64
MAX_USER_NAME = 32
VERSION_TABLES = ("oms_normal_config", "oms_version", "oms_schema_version", "schema_version")


def short(text, limit, tag):
    """`text` when it fits in `limit`, else its head and a hash of it."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return "%s_%s" % (text[:limit - 9], digest) if tag else text[:limit]


def scratch_database(name):
    """The scratch database for the OMS database `name`: obrh_<name> (64 characters at most)."""
    return short(PREFIX + name, MAX_DB_NAME, True)


def grant_pattern(database):
    """A database name as GRANT reads it: `_` and `%` are wildcards there, so escaped."""
    return "`%s`" % database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def refuse_existing(admin, scratch_names):
    """OmsError when a scratch database exists that no rehearsal recorded creating."""
    conn = metadb.connect(admin)
    try:
        with conn.cursor() as cur:
            found = []
            for database in scratch_names:
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


def copy_databases(settings, admin, databases, scratch, clients, workdir, record, measured):
    """Dump the `databases` ([(role, name)], while OMS runs) and load each into its `scratch`
    database ({role: name}); dump_seconds, dump_bytes and load_seconds go into `measured`."""
    from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
    dumps = os.path.join(workdir, "dump")
    os.makedirs(dumps, 0o700)
    conn = metadb.connect(admin)
    try:
        charsets = {}
        with conn.cursor() as cur:
            for _role, database in databases:
                cur.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                            "information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
                charsets[database] = cur.fetchone() or (None, None)
        conn.rollback()
    finally:
        conn.close()
    with metadb.client_defaults_file(settings, workdir) as defaults:
        def dump_job(database):
            def job():
                argv = mysql_clients.dump_command(clients["mysqldump"], defaults, database)
                return mysql_clients.run_dump_to_file(argv, os.path.join(dumps, database + ".sql"))
            return job
        began = time.time()
        outcomes = metadb_dump.run_jobs([dump_job(d) for _r, d in databases], True)
        metadb_dump.raise_first(outcomes, "Dumping the OMS databases for the rehearsal failed")
        measured["dump_seconds"] = round(time.time() - began, 1)
        measured["dump_bytes"] = sum(o[0]["size"] for o in outcomes)
    conn = metadb.connect(admin)
    try:
        with conn.cursor() as cur:
            for role, database in databases:
                record("databases", scratch[role])
                create = "CREATE DATABASE %s" % metadb.quote_identifier(scratch[role])
                charset, collation = charsets[database]
                if charset:
                    create += " CHARACTER SET %s" % charset
                if collation:
                    create += " COLLATE %s" % collation
                cur.execute(create)
        conn.commit()
    except metadb.pymysql.err.MySQLError as exc:
        raise metadb.translate_error(exc, admin, doing="create the scratch databases")
    finally:
        conn.close()
    began = time.time()
    with metadb.client_defaults_file(admin, workdir) as defaults:
        for role, database in databases:
            argv = mysql_clients.load_command(clients["mysql"], defaults, scratch[role])
            mysql_clients.run_load_from_file(argv, os.path.join(dumps, database + ".sql"))
    measured["load_seconds"] = round(time.time() - began, 1)
    shutil.rmtree(dumps)


def schemas(admin, scratch):
    """{role: ({table: definition}, {version table: rows})} of the `scratch` databases."""
    conn = metadb.connect(admin)
    try:
        found = {}
        for role, database in scratch.items():
            found[role] = (table_definitions(conn, database),
                           row_counts(conn, database, VERSION_TABLES))
        return found
    except metadb.pymysql.err.MySQLError as exc:
        raise metadb.translate_error(exc, admin, doing="read the scratch databases")
    finally:
        conn.close()


def scratch_user(settings, admin, user, scratch_names, record, warn):
    """(user, password, limited) the rehearsing OMS logs in as: `user`, granted only the scratch
    databases, when the admin login may create it, else the deployment's own login (limited
    False)."""
    password = hashlib.sha256(os.urandom(32)).hexdigest()[:24]
    conn = metadb.connect(admin)
    try:
        with conn.cursor() as cur:
            record("user", user)
            try:
                cur.execute("CREATE USER '%s'@'%%%%' IDENTIFIED BY %%s" % user, (password,))
            except metadb.pymysql.err.MySQLError:
                record("user", None)  # not created: nothing to drop
                raise
            for database in scratch_names:
                cur.execute("GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%%'"
                            % (grant_pattern(database), user))
        conn.commit()
    except metadb.pymysql.err.MySQLError as exc:
        warn("The login %s cannot create a user limited to the scratch databases (%s): "
             "the rehearsing OMS logs in as %s, isolated by its network only"
             % (admin.user, exc.args[-1] if exc.args else exc, settings.user))
        return settings.user, settings.password, False
    finally:
        conn.close()
    return user, password, True


def diff_schemas(before, after):
    """What the migration changed, from {table: create statement} before and after."""
    created = sorted(set(after) - set(before))
    dropped = sorted(set(before) - set(after))
    altered = sorted(t for t in set(before) & set(after) if before[t] != after[t])
    return {"tables_created": created, "tables_dropped": dropped, "tables_altered": altered}


def drop(settings, databases, user, removed):
    """DROP the scratch databases and user that exist; what was dropped goes into `removed`."""
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
