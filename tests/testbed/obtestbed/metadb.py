"""The MetaDB: one MariaDB container `obtb-metadb` on 127.0.0.1:23306 (host network), a named
user `oms_meta` with a generated password, root credentials for tests; both kept in 0600 files.

What both engines share (password files, root connections, per-instance databases and grants)
takes an `engine` (naming.MARIADB, the default, or naming.OCEANBASE); starting seekdb, the
OceanBase MetaDB, is seekdb.py's job."""

import os
import secrets
import shutil
import subprocess
import time

import docker
import pymysql

from obtestbed import naming
from obtestbed.errors import TestbedError
from obtestbed.locks import locked

START_SCRIPT = r"""
set -e
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=socket > /dev/null
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 --port=%d \
  --socket=/run/mysqld/mysqld.sock --skip-name-resolve --performance-schema=OFF \
  --innodb-buffer-pool-size=128M --max-connections=400 --character-set-server=utf8mb4 \
  --collation-server=utf8mb4_general_ci
""" % naming.METADB_PORT


def metadb_dir(root, engine=None):
    return os.path.join(root, naming.metadb_spec(engine).subdir)


def _secret_file(path):
    """The password kept in `path` (0600), generated on first use."""
    if os.path.exists(path):
        with open(path) as f:
            value = f.read().strip()
        if value:
            return value
    os.makedirs(os.path.dirname(path), exist_ok=True)
    value = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return value


def passwords(root, engine=None):
    """(oms_meta's password, root's password) of that engine's MetaDB, generated on first use."""
    base = metadb_dir(root, engine)
    return (_secret_file(os.path.join(base, "oms_meta.password")),
            _secret_file(os.path.join(base, "root.password")))


def socket_path(root):
    return os.path.join(metadb_dir(root), "run", "mysqld.sock")


def _sql_str(value):
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")


def _exec_root_sql(sql):
    """Run SQL as root over the container's socket (unix_socket auth); the SQL goes on stdin."""
    proc = subprocess.run(["docker", "exec", "-i", naming.METADB_CONTAINER, "mariadb", "-uroot"],
                          input=sql, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise TestbedError("setting up MetaDB users failed: %s" % proc.stdout.strip())


def ensure(client, root, say=print, engine=None):
    """The MetaDB container running and its users set; returns (oms_meta_pw, root_pw)."""
    if naming.metadb_spec(engine).engine == naming.OCEANBASE:
        from obtestbed import seekdb  # pylint: disable=import-outside-toplevel
        return seekdb.ensure(client, root, say)
    with locked(root, "metadb"):
        meta_pw, root_pw = passwords(root)
        try:
            container = client.containers.get(naming.METADB_CONTAINER)
        except docker.errors.NotFound:
            container = None
        if container is not None and container.status != "running":
            container.start()
        if container is None:
            data = os.path.join(metadb_dir(root), "data")
            run = os.path.dirname(socket_path(root))
            os.makedirs(data, exist_ok=True)
            os.makedirs(run, exist_ok=True)
            say("starting MetaDB container %s on %s:%d" % (
                naming.METADB_CONTAINER, naming.METADB_HOST, naming.METADB_PORT))
            client.containers.run(
                naming.BASE_MARIADB, ["bash", "-c", START_SCRIPT], name=naming.METADB_CONTAINER,
                detach=True, network_mode="host", volumes=["%s:/var/lib/mysql" % data,
                                                           "%s:/run/mysqld" % run],
                labels={"obtools.testbed.role": "metadb"})
        _wait_socket(client)
        _exec_root_sql(
            "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password "
            "USING PASSWORD({rp});\n"
            "CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY {rp};\n"
            "ALTER USER root@'127.0.0.1' IDENTIFIED BY {rp};\n"
            "GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;\n"
            "CREATE USER IF NOT EXISTS {u}@'%' IDENTIFIED BY {mp};\n"
            "ALTER USER {u}@'%' IDENTIFIED BY {mp};\n"
            "GRANT PROCESS ON *.* TO {u}@'%';\n"
            "FLUSH PRIVILEGES;\n".format(rp=_sql_str(root_pw), mp=_sql_str(meta_pw),
                                         u=naming.METADB_USER))
        return meta_pw, root_pw


def _wait_socket(client, timeout=60):
    deadline = time.monotonic() + timeout
    container = client.containers.get(naming.METADB_CONTAINER)
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("running", "created"):
            raise TestbedError("MetaDB container %s is %s; its log:\n%s" % (
                naming.METADB_CONTAINER, container.status,
                container.logs(tail=30).decode("utf-8", "replace")))
        result = container.exec_run(["mariadb-admin", "--socket=/run/mysqld/mysqld.sock",
                                     "-uroot", "ping"])
        if result.exit_code == 0:
            return
        time.sleep(0.5)
    raise TestbedError("MetaDB did not answer within %d s; `docker logs %s` tells why"
                       % (timeout, naming.METADB_CONTAINER))


def root_connect(root_pw, database=None, engine=None):
    spec = naming.metadb_spec(engine)
    return pymysql.connect(host=spec.host, port=spec.port, user="root", password=root_pw,
                           database=database, autocommit=True, connect_timeout=10)


def _grant_name(db):
    # In GRANT, `_` and `%` in a database name are wildcards: escape them.
    return "`%s`" % db.replace("_", "\\_").replace("%", "\\%")


def recreate_databases(root_pw, databases, engine=None):
    """Drop and create the databases empty, and grant oms_meta all on them."""
    conn = root_connect(root_pw, engine=engine)
    try:
        with conn.cursor() as cur:
            for db in databases:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % db)
                cur.execute("CREATE DATABASE `%s` DEFAULT CHARACTER SET utf8mb4" % db)
                cur.execute("GRANT ALL PRIVILEGES ON %s.* TO %s@'%%'"
                            % (_grant_name(db), naming.METADB_USER))
    finally:
        conn.close()


def drop_databases(root_pw, databases, engine=None):
    conn = root_connect(root_pw, engine=engine)
    try:
        with conn.cursor() as cur:
            for db in databases:
                cur.execute("DROP DATABASE IF EXISTS `%s`" % db)
                try:
                    cur.execute("REVOKE ALL PRIVILEGES ON %s.* FROM %s@'%%'"
                                % (_grant_name(db), naming.METADB_USER))
                except pymysql.MySQLError:
                    pass
    finally:
        conn.close()


def running(client, engine=None):
    try:
        return client.containers.get(naming.metadb_spec(engine).container).status == "running"
    except docker.errors.NotFound:
        return False


def remove(client, root, engine=None):
    """Remove that engine's container and its data (password files included)."""
    try:
        client.containers.get(naming.metadb_spec(engine).container).remove(force=True)
    except docker.errors.NotFound:
        pass
    shutil.rmtree(metadb_dir(root, engine), ignore_errors=True)
