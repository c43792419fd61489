# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which engine the MetaDB runs (MySQL, MariaDB, OceanBase) and what that changes for us.

OMS's MetaDB is MySQL or OceanBase in MySQL mode. OceanBase answers `SELECT VERSION()` with
`5.7.25-OceanBase...` and kills any statement that runs longer than `ob_query_timeout` (10 s by
default) or a transaction older than `ob_trx_timeout`, so our own long statements (prune, restore,
the dump's SELECTs) raise both for their session where they can, and an error that the server sends
when it still kills a statement is explained with the variable's name.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Seconds our sessions allow a statement / a transaction on OceanBase: a dump of a large table or
# the load of one is minutes, never hours; a bound still stops a hung statement eventually.
OB_SESSION_TIMEOUT_SECONDS = 6 * 3600

# OceanBase's error codes (MySQL mode) for a statement or transaction the server timed out
OB_QUERY_TIMEOUT_CODES = (4012,)
OB_TRX_TIMEOUT_CODES = (6210, 6224)


def classify(version, comment=""):
    """'oceanbase', 'mariadb' or 'mysql' from VERSION() and @@version_comment."""
    text = ("%s %s" % (version or "", comment or "")).lower()
    if "oceanbase" in text:
        return "oceanbase"
    if "mariadb" in text:
        return "mariadb"
    return "mysql"


def detect(conn):
    """{'engine', 'version', 'version_comment'} of the server behind a DB-API connection."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@version_comment")
        row = cur.fetchone()
    version, comment = ["%s" % (v if v is not None else "") for v in row]
    return {"engine": classify(version, comment), "version": version, "version_comment": comment}


def session_setup_sql(engine, seconds=OB_SESSION_TIMEOUT_SECONDS):
    """The one statement that raises the session's statement and transaction timeouts, or None.

    OceanBase counts both in microseconds. MySQL and MariaDB have no such server-side kill by
    default (and would refuse the OceanBase variables), so they get nothing.
    """
    if engine != "oceanbase":
        return None
    us = int(seconds) * 1000000
    return "SET SESSION ob_query_timeout = %d, ob_trx_timeout = %d" % (us, us)


def timeout_variable(code, text=""):
    """The OceanBase variable that killed a statement (by error code or message), or None."""
    # both answer 4012 on OceanBase 4.x; the message names the variable
    low = (text or "").lower()
    if "ob_trx_timeout" in low or "transaction timeout" in low or "transaction is timeout" in low:
        return "ob_trx_timeout"
    if "ob_query_timeout" in low or "query_timeout" in low or "maximum query timeout" in low:
        return "ob_query_timeout"
    if code in OB_TRX_TIMEOUT_CODES:
        return "ob_trx_timeout"
    if code in OB_QUERY_TIMEOUT_CODES:
        return "ob_query_timeout"
    return None


def timeout_hint(variable):
    return ("The OceanBase MetaDB killed the statement when it reached %s. The collection raises it "
            "to %d s for its own sessions and for the mysql client; mysqldump (MariaDB/MySQL before "
            "8.0.32) cannot set it, so it runs with the tenant's global value. As the tenant's "
            "administrator run `SET GLOBAL ob_query_timeout = %d, GLOBAL ob_trx_timeout = %d` (and "
            "set them back after the upgrade), or give mysqldump_path a MySQL 8.0.32+ mysqldump and "
            "dump_extra_args `--init-command=SET SESSION ob_query_timeout=...`, then run again"
            % (variable, OB_SESSION_TIMEOUT_SECONDS, OB_SESSION_TIMEOUT_SECONDS * 1000000,
               OB_SESSION_TIMEOUT_SECONDS * 1000000))
