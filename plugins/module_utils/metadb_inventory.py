# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the MetaDB holds: the OMS databases' tables, character sets and sizes.

Only statements every MetaDB engine answers (MySQL 5.7/8.0, MariaDB, OceanBase in MySQL mode):
information_schema, COUNT(*), LENGTH(). The proof that a restore gave back what was dumped is a
re-dump (dump_digest), not a table checksum statement, which OceanBase does not have.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.obtools.oms.plugins.module_utils import dump_pieces, metadb

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


# rows read per table to learn the average length of a row as mysqldump writes it
SAMPLE_ROWS = 1000
# a row's framing in an extended INSERT: "(", "),\n"; a value's: quotes and a comma
ROW_OVERHEAD = 4
VALUE_OVERHEAD = 3
# mysqldump --hex-blob writes binary values as 0x + two characters a byte
HEX_TYPES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit")
# CREATE TABLE text and the lines around a table's data
TABLE_OVERHEAD = 2048


def _information_schema_sizes(cur, database):
    cur.execute("SELECT COUNT(*), COALESCE(SUM(DATA_LENGTH), 0), COALESCE(SUM(INDEX_LENGTH), 0) "
                "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                "AND TABLE_TYPE = 'BASE TABLE'", (database,))
    tables, data, index = cur.fetchone()
    return int(tables), int(data), int(index)


def sampled_row_bytes_sql(database, table, columns):
    """SELECT of the average length, as mysqldump writes it, of the first SAMPLE_ROWS rows."""
    parts = []
    for name, data_type in columns:
        col = metadb.quote_identifier(name)
        if (data_type or "").lower() in HEX_TYPES:
            parts.append("COALESCE(2 * LENGTH(%s) + 2, 4)" % col)
        else:
            parts.append("COALESCE(LENGTH(%s), 4)" % col)
    per_row = " + ".join(parts) or "0"
    return ("SELECT COUNT(*), COALESCE(SUM(%s), 0) FROM (SELECT * FROM %s.%s LIMIT %d) sample_rows"
            % (per_row, metadb.quote_identifier(database), metadb.quote_identifier(table), SAMPLE_ROWS))


def _sampled_sizes(cur, database):
    """(tables, bytes) of a database from COUNT(*) and a sample of each table's rows.

    For servers whose information_schema does not know sizes (OceanBase reads 0 rows and 0 bytes
    until a major compaction): COUNT(*) is exact and the session's timeouts are raised for it (the
    estimate runs before the window); the rows' length comes from at most SAMPLE_ROWS rows.
    """
    cur.execute("SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE FROM information_schema.COLUMNS c "
                "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
                "AND t.TABLE_NAME = c.TABLE_NAME "
                "WHERE c.TABLE_SCHEMA = %s AND t.TABLE_TYPE = 'BASE TABLE' "
                "ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION", (database,))
    columns = {}
    for table, column, data_type in cur.fetchall():
        columns.setdefault(table, []).append((column, data_type))
    cur.execute("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND COLUMN_KEY = 'PRI'", (database,))
    keys = {}
    for table, column, data_type, key in cur.fetchall():
        keys.setdefault(table, []).append((column, data_type, key))
    total = 0
    largest = (None, 0)
    largest_unkeyed = (None, 0)
    for table in sorted(columns):
        cur.execute("SELECT COUNT(*) FROM %s.%s"
                    % (metadb.quote_identifier(database), metadb.quote_identifier(table)))
        rows = int(cur.fetchone()[0])
        size = TABLE_OVERHEAD
        if rows:
            cur.execute(sampled_row_bytes_sql(database, table, columns[table]))
            sampled, sampled_bytes = cur.fetchone()
            per_row = (float(sampled_bytes) / int(sampled) if sampled else 0.0) \
                + ROW_OVERHEAD + VALUE_OVERHEAD * len(columns[table])
            size += int(math.ceil(rows * per_row))
        total += size
        if size > largest[1]:
            largest = (table, size)
        if dump_pieces.int_key(keys.get(table, [])) is None and size > largest_unkeyed[1]:
            largest_unkeyed = (table, size)
    return len(columns), total, largest, largest_unkeyed


def size_estimate(conn, databases, engine="mysql"):
    """Per database and in total, what its dump will take, with a margin: the preflight's space check.

    MySQL and MariaDB: data + index length from information_schema (InnoDB keeps them current).
    OceanBase: information_schema reads 0, so COUNT(*) times the sampled length of a row as
    mysqldump writes it (method `sampled`); never 0 for a database that holds rows.
    """
    per_db = []
    total = 0
    method = "sampled" if engine == "oceanbase" else "information_schema"
    with conn.cursor() as cur:
        for role, database in databases:
            entry = {"role": role, "database": database}
            if method == "sampled":
                tables, data, largest, unkeyed = _sampled_sizes(cur, database)
                index = 0
                entry["largest_table"] = {"table": largest[0], "bytes": largest[1]}
                entry["largest_unkeyed_table"] = {"table": unkeyed[0], "bytes": unkeyed[1]}
            else:
                tables, data, index = _information_schema_sizes(cur, database)
            size = data + index
            total += size
            entry.update({"tables": tables, "data_bytes": data, "index_bytes": index, "bytes": size})
            per_db.append(entry)
    conn.rollback()
    estimate = max(int(math.ceil(total * ESTIMATE_MARGIN)), ESTIMATE_MIN_BYTES)
    return {"databases": per_db, "total_bytes": total, "estimate_bytes": estimate,
            "margin": ESTIMATE_MARGIN, "method": method}
