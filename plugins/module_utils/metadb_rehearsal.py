# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight's rehearsal of step 2.3: `mysqldump --no-data` of each database, changing nothing.

It goes through the same client defaults file and the same mysqldump argv as the real dump
(metadb.client_defaults_file, mysql_clients.dump_command), so a password the clients cannot use,
a client that cannot reach the server, or a missing privilege fails here, while OMS still serves,
instead of in the downtime window. Only the schema is read: it takes seconds on any size.

It also probes the user's write privileges on each database with statements that match no row
(INSERT ... SELECT ... WHERE 1=0, UPDATE ... WHERE 1=0, DELETE ... WHERE 1=0, rolled back): the
server checks the privilege before it finds that nothing matches. Step 1 and 8 write ha.config,
step 2.2 deletes heartbeat rows, docker_init.sh writes every database and a rollback reloads
them: without these grants the upgrade would stop OMS and then fail, and its rollback too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import metadb, mysql_clients

COMPLETION_PREFIX = b"-- Dump completed"
STDERR_TAIL = 1500
# A schema-only dump of OMS's databases takes seconds; a hung server must not hang the preflight.
REHEARSAL_TIMEOUT = 300


def _private_dir(backup_dir):
    """The directory for the defaults file: the backup directory when it exists (0700, where the
    real dump keeps its defaults file), else the collection's own 0700 directory
    (metadb.private_dir(), created first), never /tmp: a killed rehearsal leaves the password
    only there, and the next run sweeps it."""
    if backup_dir and os.path.isdir(backup_dir):
        return backup_dir
    return metadb.private_dir()


def rehearse_one(settings, mysqldump, database, directory):
    """{database, tables, duration} of a schema-only dump, or OmsError with what to do."""
    start = time.time()
    with metadb.client_defaults_file(settings, directory=directory) as defaults:
        argv = mysql_clients.dump_command(mysqldump, defaults, database, extra_args=["--no-data"])
        try:
            # The rehearsal gives up after REHEARSAL_TIMEOUT (a hung MetaDB must not hang the
            # preflight): run_command has no timeout.
            # pylint: disable-next=ansible-bad-function
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=mysql_clients.client_env())
        except OSError as exc:
            raise OmsError("Cannot run %s: %s" % (mysqldump, exc.strerror or exc),
                           "Install the MySQL or MariaDB client on the OMS host or give "
                           "mysqldump_path (the inventory's oms_upgrade_mysqldump_path)")
        try:
            out, err = proc.communicate(timeout=REHEARSAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise OmsError("mysqldump --no-data of %s did not finish within %d s"
                           % (database, REHEARSAL_TIMEOUT),
                           "Check the MetaDB's load and locks (SHOW PROCESSLIST) before the "
                           "upgrade: the real dump would hang in the downtime window")
    tail = err.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
    if proc.returncode != 0:
        raise OmsError("The rehearsal of the dump failed: mysqldump --no-data %s exited with %s "
                       "(%s)" % (database, proc.returncode, tail or "no message"),
                       "Fix what mysqldump says (the user's privileges on %s, the version of the client "
                       "oms_upgrade_mysqldump_path (mysqldump_path) names, the server's address) before the "
                       "upgrade: the real dump runs the same way after OMS stops" % database)
    last = out.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if not last.startswith(COMPLETION_PREFIX):
        raise OmsError("The rehearsal of the dump of %s did not end with mysqldump's '-- Dump "
                       "completed' line" % database,
                       "Check that oms_upgrade_mysqldump_path (mysqldump_path) is mysqldump from the MySQL "
                       "or MariaDB client "
                       "(it must write its comments: no --skip-comments in option files)")
    return {"database": database, "tables": out.count(b"\nCREATE TABLE "),
            "duration": round(time.time() - start, 1)}


PROBES = (
    ("INSERT", "INSERT INTO {t} SELECT * FROM {t} WHERE 1 = 0"),
    ("UPDATE", "UPDATE {t} SET {c} = {c} WHERE 1 = 0"),
    ("DELETE", "DELETE FROM {t} WHERE 1 = 0"),
)


def probe_privileges(conn, settings, database):
    """The write privileges (PROBES) the user lacks on `database`'s first table: [] when it has them."""
    with conn.cursor() as cur:
        cur.execute("SELECT t.table_name, c.column_name FROM information_schema.tables t "
                    "JOIN information_schema.columns c ON c.table_schema = t.table_schema "
                    "AND c.table_name = t.table_name WHERE t.table_schema = %s "
                    "AND t.table_type = 'BASE TABLE' ORDER BY t.table_name, c.ordinal_position LIMIT 1",
                    (database,))
        row = cur.fetchone()
    if not row:
        return []  # no table to probe: the dump rehearsal has said what it found
    table = "%s.%s" % (metadb.quote_identifier(database), metadb.quote_identifier(row[0]))
    column = metadb.quote_identifier(row[1])
    lacking = []
    for privilege, sql in PROBES:
        try:
            with conn.cursor() as cur:
                cur.execute(sql.format(t=table, c=column))
        except metadb.pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in (metadb.ER_TABLEACCESS_DENIED, metadb.ER_DBACCESS_DENIED):
                lacking.append(privilege)
            else:
                raise metadb.translate_error(exc, settings, database, doing="probe the %s privilege" % privilege)
        finally:
            conn.rollback()
    return lacking


def check_privileges(settings):
    """OmsError naming every database and write privilege the MetaDB user lacks."""
    conn = metadb.connect(settings)
    try:
        lacking = [(database, probe_privileges(conn, settings, database)) for _role, database in settings.databases()]
    finally:
        conn.close()
    lacking = [(database, privileges) for database, privileges in lacking if privileges]
    if lacking:
        raise OmsError("The MetaDB user %s lacks %s: the upgrade writes ha.config and the heartbeat "
                       "table, docker_init.sh writes every OMS database and a rollback reloads them"
                       % (metadb.where(settings),
                          "; ".join("%s on %s" % (", ".join(p), d) for d, p in lacking)),
                       "Grant the user ALL on the three OMS databases, as OMS itself needs, then run "
                       "again. Nothing was changed")


def rehearse(settings, mysqldump, backup_dir=None):
    """Rehearse the dump of the rm, cm and cm_hb databases, one after the other (schemas only),
    then probe the write privileges the later steps need."""
    directory = _private_dir(backup_dir)
    rehearsal = [dict(role=role, **rehearse_one(settings, mysqldump, database, directory))
                 for role, database in settings.databases()]
    check_privileges(settings)
    return rehearsal
