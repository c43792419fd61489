"""The MetaDB connection: one PyMySQL connection, reopened after any error (MetaDB restarts,
databases dropped and restored by a rollback)."""

import time

import pymysql


class MetaDB(object):
    def __init__(self, settings, connect_timeout=5):
        self.settings = settings
        self.connect_timeout = connect_timeout
        self.conn = None

    def connect(self):
        s = self.settings
        # The default database is the heartbeat one, so that `SHOW PROCESSLIST` tells which
        # deployment a connection belongs to (the test bed kills it there to simulate a restart).
        self.conn = pymysql.connect(host=s.meta_host, port=s.meta_port, user=s.meta_user,
                                    password=s.meta_password, connect_timeout=self.connect_timeout,
                                    read_timeout=30, write_timeout=30, autocommit=True,
                                    charset="utf8mb4")
        try:
            self.conn.select_db(s.cm_hb_db)
        except pymysql.MySQLError:
            pass
        return self.conn

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self.conn = None

    def cursor(self):
        if self.conn is None or not self.conn.open:
            self.connect()
        return self.conn.cursor()

    def query(self, sql, args=None):
        with self.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def execute(self, sql, args=None):
        with self.cursor() as cur:
            return cur.execute(sql, args)

    def wait_reachable(self, timeout, stop=None):
        """Connect within `timeout` seconds or raise the last error."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect()
                return
            except pymysql.MySQLError:
                if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                    raise
                time.sleep(1)
