# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prune OMS's heartbeat table before the backup (the procedure's step 2.2).

The procedure's `delete from heatbeat_sequence where id < (select max(id) from heatbeat_sequence)`
is refused by MySQL (error 1093: the target table appears in the subquery). We read max(id) first
and delete below it in bounded batches, each its own transaction, so that undo and locks stay small
on a table that may hold millions of rows. The batch bound comes from a SELECT ... LIMIT/OFFSET, so
the DELETE is a plain primary-key range that MySQL, MariaDB and OceanBase all accept, and sparse ids
(OceanBase's auto-increment jumps) cost no empty rounds.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import metadb

HEARTBEAT_TABLE = "heatbeat_sequence"  # sic, OMS's spelling


def _scalar(cursor, sql, args=None):
    cursor.execute(sql, args)
    row = cursor.fetchone()
    return row[0] if row else None


def heartbeat_state(conn, table=HEARTBEAT_TABLE):
    """(max_id, rows below max_id, total rows) of the heartbeat table."""
    q = metadb.quote_identifier(table)
    with conn.cursor() as cur:
        max_id = _scalar(cur, "SELECT MAX(id) FROM %s" % q)
        if max_id is None:
            return None, 0, 0
        below = _scalar(cur, "SELECT COUNT(*) FROM %s WHERE id < %%s" % q, (max_id,))
        total = _scalar(cur, "SELECT COUNT(*) FROM %s" % q)
    conn.rollback()
    return int(max_id), int(below), int(total)


def prune_heartbeats(conn, batch_size=10000, table=HEARTBEAT_TABLE, max_id=None):
    """Delete every row with id < max(id) in batches of at most `batch_size`; return rows deleted.

    `max_id` is read here when not given; rows written after that (OMS still running) are kept.
    """
    if batch_size < 1:
        raise OmsError("batch_size must be at least 1, got %s" % batch_size, "Give a positive batch_size")
    q = metadb.quote_identifier(table)
    with conn.cursor() as cur:
        if max_id is None:
            max_id = _scalar(cur, "SELECT MAX(id) FROM %s" % q)
            conn.rollback()
        if max_id is None:
            return 0
        deleted = 0
        while True:
            bound = _scalar(cur, "SELECT id FROM %s WHERE id < %%s ORDER BY id LIMIT 1 OFFSET %%s" % q,
                            (max_id, batch_size - 1))
            if bound is None:
                cur.execute("DELETE FROM %s WHERE id < %%s" % q, (max_id,))
            else:
                cur.execute("DELETE FROM %s WHERE id <= %%s" % q, (bound,))
            deleted += cur.rowcount
            conn.commit()
            if bound is None:
                return deleted


def prune(settings, batch_size=10000, check_mode=False):
    """Connect to the heartbeat database and prune; the result dict the module returns."""
    settings.require("cm_hb_db")
    conn = metadb.connect(settings, settings.cm_hb_db)
    try:
        try:
            max_id, below, total = heartbeat_state(conn)
            result = {"database": settings.cm_hb_db, "table": HEARTBEAT_TABLE, "max_id": max_id,
                      "rows_before": total, "rows_to_delete": below}
            if check_mode or below == 0:
                result.update(rows_deleted=0, rows_after=total, changed=below > 0)
                return result
            deleted = prune_heartbeats(conn, batch_size, max_id=max_id)
            after = heartbeat_state(conn)[2]
            result.update(rows_deleted=deleted, rows_after=after, changed=deleted > 0)
            return result
        except metadb.pymysql.err.MySQLError as e:
            raise metadb.translate_error(e, settings, settings.cm_hb_db,
                                         doing="prune %s.%s" % (settings.cm_hb_db, HEARTBEAT_TABLE))
    finally:
        conn.close()
