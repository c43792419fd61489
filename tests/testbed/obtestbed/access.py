"""Reading a deployed instance from outside: its description and its MetaDB, as the OMS user.

Tests, molecule verifiers and the benchmark all look at the MetaDB the same way; this is that way.
"""

import pymysql


def describe(name):
    """`testbed describe NAME` as a dict (see README.md)."""
    from obtestbed.core import Testbed  # pylint: disable=import-outside-toplevel
    return Testbed().describe(name)


def connect(info, database=None):
    """A PyMySQL connection to the instance's MetaDB as its OMS user (autocommit, utf8mb4)."""
    m = info["metadb"]
    return pymysql.connect(host=m["host"], port=int(m["port"]), user=m["user"], password=m["password"],
                           database=database, autocommit=True, charset="utf8mb4")


def query(info, sql, args=None, database=None):
    """All rows of one statement, on a connection of its own."""
    conn = connect(info, database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()
