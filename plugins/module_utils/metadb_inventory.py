# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the MetaDB holds: tables, sizes and CHECKSUM TABLE values of the OMS databases.

A dump records every table's CHECKSUM TABLE in its manifest, so that a restore can prove it gave
back the same rows and a second restore can see there is nothing to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.obtools.oms.plugins.module_utils import metadb

# A mysqldump file is usually smaller than data+index on disk, but small tables are a few rows in
# a 16 KiB page and SQL text of wide rows can be larger; keep this much headroom.
ESTIMATE_MARGIN = 1.25
ESTIMATE_MIN_BYTES = 1024 * 1024


def base_tables(conn, database):
    """Names of the base tables (not views) of `database`, sorted."""
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (database,))
        return [r[0] for r in cur.fetchall()]


def database_charset(conn, database):
    """(character set, collation) of `database`, or (None, None) when it does not exist."""
    with conn.cursor() as cur:
        cur.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                    "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        row = cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


def table_checksums(conn, database, tables=None):
    """{table: CHECKSUM TABLE value} for the given tables (default: every base table).

    A table that does not exist maps to None (CHECKSUM TABLE answers NULL for it).
    """
    if tables is None:
        tables = base_tables(conn, database)
    result = {}
    if not tables:
        return result
    q = metadb.quote_identifier(database)
    names = ", ".join("%s.%s" % (q, metadb.quote_identifier(t)) for t in tables)
    with conn.cursor() as cur:
        # one statement for all tables: one round trip; EXTENDED is the only mode every engine has
        cur.execute("CHECKSUM TABLE %s EXTENDED" % names)
        rows = cur.fetchall()
    by_name = dict((name.split(".", 1)[1], checksum) for name, checksum in rows)
    for table in tables:
        checksum = by_name.get(table)
        result[table] = None if checksum is None else int(checksum)
    return result


# engines whose information_schema.TABLES.UPDATE_TIME moves on every committed write (InnoDB keeps
# it in memory since MySQL 5.7 / MariaDB 10.2, MyISAM and Aria take it from the data file)
MARK_ENGINES = ("innodb", "myisam", "aria")


def change_marks(conn, database, tables):
    """{table: (engine, create_time, update_time)} that any committed write or DDL moves, or None.

    A cheap stand-in for a second CHECKSUM TABLE pass that proves nothing wrote to the database
    while it was dumped: taken before the first pass and after the dump, equal marks mean no table
    changed in between. None when the marks cannot prove that, and then the caller reads the
    checksums again: a server other than MariaDB/MySQL (OceanBase keeps no UPDATE_TIME), an engine
    not in MARK_ENGINES, the table list differs, or a table was written in the last two seconds
    (UPDATE_TIME has one-second resolution, so a write in the same second would not move it).
    """
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@version_comment")
        version, comment = ["%s" % (v or "") for v in cur.fetchone()]
        flavour = (version + " " + comment).lower()
        if "oceanbase" in flavour or ("mariadb" not in flavour and "mysql" not in flavour):
            return None
        if "mariadb" not in flavour:
            try:  # MySQL 8 caches information_schema statistics for a day unless told not to
                cur.execute("SET SESSION information_schema_stats_expiry = 0")
            except metadb.pymysql.err.MySQLError:
                pass
        cur.execute("SELECT TABLE_NAME, LOWER(ENGINE), CREATE_TIME, UPDATE_TIME, "
                    "UPDATE_TIME >= NOW() - INTERVAL 2 SECOND "
                    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE'", (database,))
        rows = cur.fetchall()
    marks = {}
    for name, engine, created, updated, recent in rows:
        if engine not in MARK_ENGINES or recent:
            return None
        marks[name] = (engine, "%s" % created, "%s" % updated)
    if sorted(marks) != sorted(tables):
        return None
    return marks


def size_estimate(conn, databases):
    """Bytes on disk (data + index) per database from information_schema, and a dump estimate."""
    per_db = []
    total = 0
    with conn.cursor() as cur:
        for role, database in databases:
            cur.execute("SELECT COUNT(*), COALESCE(SUM(DATA_LENGTH), 0), COALESCE(SUM(INDEX_LENGTH), 0) "
                        "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_TYPE = 'BASE TABLE'", (database,))
            tables, data, index = cur.fetchone()
            size = int(data) + int(index)
            total += size
            per_db.append({"role": role, "database": database, "tables": int(tables),
                           "data_bytes": int(data), "index_bytes": int(index), "bytes": size})
    estimate = max(int(math.ceil(total * ESTIMATE_MARGIN)), ESTIMATE_MIN_BYTES)
    return {"databases": per_db, "total_bytes": total, "estimate_bytes": estimate,
            "margin": ESTIMATE_MARGIN}
