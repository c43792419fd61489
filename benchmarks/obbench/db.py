"""MetaDB access for the benchmark: a 0600 defaults file for the clients, PyMySQL for queries."""

import os
import shutil
import tempfile

import pymysql


class BenchFailure(Exception):
    """Something the benchmark measures failed: the run exits non-zero."""


class MetaDB(object):
    """Where the MetaDB is and who logs in; `dbs` maps role (rm, cm, cm_hb) to database name."""

    ROLES = ("rm", "cm", "cm_hb")

    def __init__(self, host, port, user, password, dbs):
        self.host = host
        self.port = int(port)
        self.user = user
        self.password = password
        self.dbs = dict(dbs)
        # statements the loader's mysql runs first (OceanBase: its session's timeouts)
        self.session_sql = ""
        self._dir = tempfile.mkdtemp(prefix="obbench-secrets-")
        os.chmod(self._dir, 0o700)
        self.defaults_file = os.path.join(self._dir, "client.cnf")
        fd = os.open(self.defaults_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        body = "host=%s\nport=%d\nuser=%s\npassword=%s\n" % (
            self.host, self.port, self.user, self.password)
        with os.fdopen(fd, "w") as f:
            # [client] for mysql/mysqldump, [mydumper] for mydumper's --defaults-file.
            f.write("[client]\n" + body + "\n[mydumper]\n" + body)

    @classmethod
    def from_describe(cls, desc, key="metadb"):
        m = desc[key]
        return cls(m["host"], m["port"], m["user"], m["password"],
                   {"rm": m["rm_db"], "cm": m["cm_db"], "cm_hb": m["cm_hb_db"]})

    @classmethod
    def from_root(cls, desc, dbs):
        """The MetaDB's administrator (`metadb_root` of `testbed describe`) on the same databases."""
        r = desc["metadb_root"]
        return cls(r["host"], r["port"], r["user"], r.get("password") or "", dbs)

    def close(self):
        shutil.rmtree(self._dir, ignore_errors=True)

    def connect(self, db=None, **kw):
        return pymysql.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, database=db, autocommit=True,
                               connect_timeout=10, **kw)

    def query(self, sql, args=None, db=None):
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def sizes(self):
        """{role: bytes (data + index) per information_schema}."""
        out = {}
        for role in self.ROLES:
            rows = self.query("SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                              "information_schema.tables WHERE table_schema = %s",
                              (self.dbs[role],))
            out[role] = int(rows[0][0])
        return out

    def table_rows(self, role, table):
        return int(self.query("SELECT COUNT(*) FROM `%s`" % table, db=self.dbs[role])[0][0])

    def tables(self, role):
        return [r[0] for r in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.dbs[role],))]

    def mysql_cmd(self, *args):
        """The mysql client's argv with the password in the defaults file, never on the line."""
        return ["mysql", "--defaults-extra-file=" + self.defaults_file] + list(args)
