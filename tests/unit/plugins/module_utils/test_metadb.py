"""The client defaults file: credentials only there, 0600, escaped, removed afterwards, swept."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import metadb, mysql_clients  # noqa: E402
from ansible_collections.obtools.oms.plugins.module_utils.oms_config import MetaDBSettings  # noqa: E402


def settings(password='p"a\\ss#;w\'rd'):
    return MetaDBSettings(host="10.0.0.1", port=2883, user="root@oms#ob", password=password,
                          connect_timeout=7)


def test_defaults_file_escapes_and_keeps_mysqldump_options_valid():
    text = metadb.defaults_file_text(settings())
    assert '[client]\nhost="10.0.0.1"\nport=2883\nuser="root@oms#ob"\n' in text
    assert 'password="p\\"a\\\\ss#;w\'rd"' in text
    # mysqldump refuses connect-timeout: it may only be in the [mysql] group
    client = text.split("[mysql]", maxsplit=1)[0]
    assert "connect-timeout" not in client and "[mysql]\nconnect-timeout=7" in text


def test_defaults_file_is_0600_and_removed(tmp_path):
    with metadb.client_defaults_file(settings(), str(tmp_path)) as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "password=" in open(path).read()
    assert not os.path.exists(path)


def test_defaults_file_removed_on_error(tmp_path):
    try:
        with metadb.client_defaults_file(settings(), str(tmp_path)):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not os.listdir(str(tmp_path))


def test_commands_never_carry_the_password():
    s = settings(password="TopSecret-1")
    dump = mysql_clients.dump_command("mysqldump", "/tmp/x.cnf", "rm_411")
    load = mysql_clients.load_command("mysql", "/tmp/x.cnf", "rm_411")
    for argv in (dump, load):
        # --defaults-file, first: the clients read that file and no ~/.my.cnf or /etc/mysql/my.cnf
        assert argv[1] == "--defaults-file=/tmp/x.cnf"
        assert not any("defaults-extra-file" in a for a in argv)
        assert not any(s.password in a or a.startswith("-p") or "password" in a for a in argv)
    assert dump[-1] == "rm_411"
    assert "--single-transaction" in dump and "--quick" in dump and "--skip-triggers" in dump
    assert "--triggers" in mysql_clients.dump_command("mysqldump", "f", "d", triggers=True)


def test_client_env_drops_mysql_pwd(monkeypatch):
    monkeypatch.setenv("MYSQL_PWD", "leak")
    assert "MYSQL_PWD" not in mysql_clients.client_env()


def test_translate_error_messages():
    s = settings()
    s.config_file = "/data/config.yaml"
    denied = metadb.translate_error(Exception(1045, "Access denied"), s)
    assert "refused the login" in denied.msg and "oms_meta_password in /data/config.yaml" in denied.hint
    gone = metadb.translate_error(Exception(2003, "Can't connect"), s)
    assert "Cannot reach the MetaDB at 10.0.0.1:2883" in gone.msg and "login_port" in gone.msg


def test_errors_name_the_inventory_variable_or_the_file_each_value_came_from():
    """The user set oms_metadb_port in the inventory, or config.yaml holds the value: the message
    says which, in those words, not only the module's option."""
    from ansible_collections.obtools.oms.plugins.module_utils import oms_config
    values = {"host": "127.0.0.1", "port": 2881, "user": "u", "password": "p", "rm_db": "r", "cm_db": "c",
              "cm_hb_db": "h"}
    from_file = oms_config.settings_from(values, {}, config_file="/data/oms/config.yaml")
    gone = metadb.translate_error(Exception(2003, "Can't connect"), from_file)
    assert gone.msg.startswith("Cannot reach the MetaDB at 127.0.0.1:2881 (error 2003")
    assert "oms_meta_host and oms_meta_port in /data/oms/config.yaml" in gone.msg
    assert "to connect to the MetaDB" not in gone.msg  # said once, not twice
    assert "oms_metadb_host/oms_metadb_port" in gone.hint
    mixed = oms_config.settings_from(values, {"port": 1}, config_file="/data/oms/config.yaml")
    gone = metadb.translate_error(Exception(2003, "Can't connect"), mixed)
    assert "oms_meta_host in /data/oms/config.yaml, and login_port (the inventory's oms_metadb_port)" in gone.msg
    denied = metadb.translate_error(Exception(1045, "Access denied"),
                                    oms_config.settings_from(values, {"password": "x"}, config_file="/c.yaml"))
    assert "oms_meta_user in /c.yaml, and login_password (the inventory's oms_metadb_password)" in denied.hint
    missing = metadb.translate_error(Exception(1049, "Unknown database"),
                                     oms_config.settings_from(values, {"cm_db": "nope"}, config_file="/c.yaml"),
                                     database="nope")
    assert "has no database nope (cm_db (the inventory's oms_metadb_cm_db))" in missing.msg
    doing = metadb.translate_error(Exception(2013, "Lost"), from_file, doing="probe the INSERT privilege")
    assert "127.0.0.1:2881 to probe the INSERT privilege (error 2013" in doing.msg


def test_docker_errors_name_the_inventory_variable(monkeypatch):
    from ansible_collections.obtools.oms.plugins.module_utils import docker_client
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert "the inventory's oms_docker_host" in docker_client.docker_host_source("tcp://10.0.0.1:2375")
    assert "neither the inventory's oms_docker_host nor DOCKER_HOST" in docker_client.docker_host_source(None)
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2375")
    assert "DOCKER_HOST environment variable" in docker_client.docker_host_source("tcp://10.0.0.2:2375")
    with pytest.raises(metadb.OmsError) as gone:
        docker_client.DockerClient("unix:///nonexistent/docker.sock", timeout=2)
    assert "Cannot reach the Docker engine at unix:///nonexistent/docker.sock, given by the docker_host " \
        "option (the inventory's oms_docker_host)" in gone.value.msg
    assert "set oms_docker_host in the inventory" in gone.value.hint
    assert "DOCKER_HOST)" not in gone.value.hint


def test_quote_identifier():
    assert metadb.quote_identifier("a`b") == "`a``b`"


def print_defaults(path, group):
    """What the real MariaDB/MySQL option-file parser reads from `path` for `group`."""
    tool = shutil.which("my_print_defaults")
    if not tool:
        pytest.skip("my_print_defaults (mariadb-client) is not installed")
    out = subprocess.run([tool, "--defaults-file=%s" % path, group], stdout=subprocess.PIPE,
                         check=True).stdout.decode("utf-8")
    return dict(line[2:].split("=", 1) for line in out.splitlines() if line.startswith("--"))


@pytest.mark.parametrize("user,port,password", [
    ("oms_meta@oms_tenant#obcluster", 2883, "p#;w\'\"d"),   # OBProxy: user@tenant#cluster, proxy port
    ("root@sys#cluster-1", 3306, u"p\u00e4ss w\u00f6rd \u20ac#1"),  # non-ASCII password
    ("plain", 23306, "x"),
])
def test_obproxy_users_ports_and_passwords_reach_the_clients_unchanged(tmp_path, user, port, password):
    s = MetaDBSettings(host="ob.example", port=port, user=user, password=password, connect_timeout=5)
    with metadb.client_defaults_file(s, str(tmp_path)) as path:
        seen = print_defaults(path, "client")
    assert seen["user"] == user and seen["port"] == str(port) and seen["host"] == "ob.example"
    assert seen["password"] == password


def test_oceanbase_gets_session_timeouts_in_the_mysql_group_only(tmp_path):
    with metadb.client_defaults_file(settings(), str(tmp_path), engine="oceanbase") as path:
        mysql = print_defaults(path, "mysql")
        client = print_defaults(path, "client")
    assert mysql["init-command"].startswith("SET SESSION ob_query_timeout = ")
    assert "ob_trx_timeout" in mysql["init-command"]
    # mysqldump reads [client] and refuses an init-command there ("unknown variable")
    assert "init-command" not in client
    with metadb.client_defaults_file(settings(), str(tmp_path), engine="mariadb") as path:
        assert "init-command" not in print_defaults(path, "mysql")


def test_defaults_file_needs_a_private_directory():
    with pytest.raises(metadb.OmsError):
        with metadb.client_defaults_file(settings(), None):
            pass


def test_leftover_of_a_killed_run_is_swept_at_the_next_start(tmp_path):
    """A SIGKILL skips the finally: the file stays in the backup directory until the next start."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           stdout=subprocess.PIPE, check=True)
    dead_pid = int(child.stdout)
    left = tmp_path / (".obtools-oms-client-%d-abc.cnf" % dead_pid)
    left.write_text(u"[client]\npassword=secret\n")
    live = tmp_path / (".obtools-oms-client-%d-abc.cnf" % os.getppid())  # a live process's file
    live.write_text(u"[client]\n")
    other = tmp_path / "rm_411.sql"
    other.write_text(u"--")
    with metadb.client_defaults_file(settings(), str(tmp_path)) as path:
        assert not left.exists() and live.exists() and other.exists()
        assert os.path.dirname(path) == str(tmp_path)
        assert os.path.basename(path).startswith(".obtools-oms-client-%d-" % os.getpid())
    assert sorted(os.listdir(str(tmp_path))) == sorted([live.name, other.name])


def test_password_bytes_are_utf8_like_the_clients():
    assert metadb.password_bytes(u"p\u00e4ss\u20ac") == u"p\u00e4ss\u20ac".encode("utf-8")
    assert metadb.password_bytes(None) == b""
    assert metadb.password_bytes(b"raw") == b"raw"


class FakeCursor(object):
    def __init__(self, log, answer):
        self.log, self.answer = log, answer

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, args=None):
        self.log.append(sql)

    def fetchone(self):
        return self.answer


class FakeConn(object):
    def __init__(self, answer):
        self.log, self.answer, self.closed = [], answer, False

    def cursor(self):
        return FakeCursor(self.log, self.answer)

    def close(self):
        self.closed = True


@pytest.mark.parametrize("version,comment,engine,setup", [
    ("5.7.25-OceanBase seekdb-v1.4.0.0", "OceanBase 4.3.5.3 seekdb (r1.4.0.0)", "oceanbase", True),
    ("5.7.25-OceanBase_CE-v4.2.1.2", "OceanBase_CE 4.2.1.2", "oceanbase", True),
    ("10.11.6-MariaDB-0+deb12u1", "Debian 12", "mariadb", False),
    ("8.0.36", "MySQL Community Server - GPL", "mysql", False),
    ("5.7.44-log", "MySQL Community Server (GPL)", "mysql", False),
])
def test_connect_detects_the_engine_and_raises_oceanbase_timeouts(monkeypatch, version, comment, engine, setup):
    """The user (OBProxy style) and port reach PyMySQL unchanged, the password as UTF-8 bytes."""
    seen = {}
    conn = FakeConn((version, comment))

    def fake_connect(**kwargs):
        seen.update(kwargs)
        return conn

    monkeypatch.setattr(metadb, "HAS_PYMYSQL", True)
    monkeypatch.setattr(metadb, "pymysql", type("P", (), {"connect": staticmethod(fake_connect),
                                                          "err": type("E", (), {"MySQLError": Exception})}))
    s = MetaDBSettings(host="10.0.0.1", port=2883, user="oms_meta@t1#c1", password=u"pw\u00e9",
                       connect_timeout=7)
    got = metadb.connect(s, "rm_411")
    assert seen["user"] == "oms_meta@t1#c1" and seen["port"] == 2883 and seen["host"] == "10.0.0.1"
    assert seen["password"] == u"pw\u00e9".encode("utf-8") and seen["database"] == "rm_411"
    assert got.oms_engine["engine"] == engine and got.oms_engine["version"] == version
    set_sql = [sql for sql in conn.log if sql.startswith("SET SESSION")]
    if setup:
        assert set_sql == ["SET SESSION ob_query_timeout = 21600000000, ob_trx_timeout = 21600000000"]
    else:
        assert set_sql == []


def test_oceanbase_timeouts_are_named_in_the_error():
    s = settings()
    q = metadb.translate_error(Exception(4012, "Timeout, query has reached the maximum query timeout: "
                                               "10000000(us), maybe you can adjust the session variable "
                                               "ob_query_timeout or query_timeout hint"), s, doing="prune")
    assert "killed a statement" in q.msg and "ob_query_timeout" in q.hint
    assert q.details["variable"] == "ob_query_timeout"
    t = metadb.translate_error(Exception(4012, "Transaction timeout occurred, please rollback the "
                                               "transaction, set the variable ob_trx_timeout to a larger "
                                               "value"), s)
    assert t.details["variable"] == "ob_trx_timeout" and "ob_trx_timeout" in t.hint
    # a mysqldump killed the same way: its stderr names the variable, the hint says what to do
    hint = mysql_clients.client_failure_hint("mysqldump: Error 4012: Timeout, query has reached the "
                                             "maximum query timeout ... ob_query_timeout", "generic")
    assert "SET GLOBAL ob_query_timeout" in hint
    assert mysql_clients.client_failure_hint("mysqldump: Got error: 1045", "generic") == "generic"


def test_partial_dumps_of_killed_runs_are_swept(tmp_path):
    from ansible_collections.obtools.oms.plugins.module_utils import metadb_dump
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=subprocess.PIPE,
                           check=True)
    dead = tmp_path / (".rm_411.sql.tmp-%d" % int(child.stdout))
    live = tmp_path / (".cm_411.sql.tmp-%d" % os.getppid())
    kept = tmp_path / "rm_411.sql"
    for f in (dead, live, kept):
        f.write_text(u"x")
    assert metadb_dump.sweep_partial_dumps(str(tmp_path)) == [dead.name]
    assert sorted(os.listdir(str(tmp_path))) == sorted([live.name, kept.name])


def dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           stdout=subprocess.PIPE, check=True)
    return int(child.stdout)


def test_private_dir_is_created_0700_and_never_under_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(metadb, "private_dir_path", lambda: str(tmp_path / "home" / ".obtools-oms"))
    (tmp_path / "home").mkdir()
    path = metadb.private_dir()
    assert path == str(tmp_path / "home" / ".obtools-oms")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    os.chmod(path, 0o755)  # loosened by someone: tightened again, not used as it is
    assert metadb.private_dir() == path and stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_private_dir_path_is_in_the_users_home_not_tmp(monkeypatch):
    import pwd
    monkeypatch.setenv("HOME", "/tmp/not-a-home")  # what a become may leave behind
    path = metadb.private_dir_path()
    assert path == os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".obtools-oms")
    assert not path.startswith("/tmp/")


def test_private_dir_refuses_a_symlink_or_a_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(metadb.OmsError) as refused:
        metadb.private_dir(str(link))
    assert "not a directory of this user's own" in refused.value.msg
    plain = tmp_path / "plain"
    plain.write_text(u"x")
    with pytest.raises(metadb.OmsError):
        metadb.private_dir(str(plain))


def test_a_defaults_file_in_the_backup_dir_also_sweeps_the_private_dirs_leftovers(tmp_path, monkeypatch):
    """A rehearsal killed before the backup directory existed left its file in the private
    directory; the next run, whose backup directory now exists, removes it."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(metadb, "private_dir_path", lambda: str(private))
    left = private / (".obtools-oms-client-%d-abc.cnf" % dead_pid())
    left.write_text(u"[client]\npassword=secret\n")
    backup = tmp_path / "backup"
    backup.mkdir(mode=0o700)
    with metadb.client_defaults_file(settings(), str(backup)) as path:
        assert os.path.dirname(path) == str(backup)
        assert not left.exists()


def test_the_rehearsal_writes_in_the_private_dir_without_a_backup_dir(tmp_path, monkeypatch):
    from ansible_collections.obtools.oms.plugins.module_utils import metadb_rehearsal
    private = tmp_path / "home" / ".obtools-oms"
    (tmp_path / "home").mkdir()
    monkeypatch.setattr(metadb, "private_dir_path", lambda: str(private))
    assert metadb_rehearsal._private_dir(str(tmp_path / "missing-backup")) == str(private)
    assert stat.S_IMODE(os.stat(str(private)).st_mode) == 0o700
    backup = tmp_path / "backup"
    backup.mkdir()
    assert metadb_rehearsal._private_dir(str(backup)) == str(backup)
    assert not (tmp_path / "missing-backup").exists()
