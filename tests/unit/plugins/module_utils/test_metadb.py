"""The client defaults file: credentials only there, 0600, escaped, removed afterwards."""

import os
import stat


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
        with metadb.client_defaults_file(settings(), str(tmp_path)) as path:
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not os.listdir(str(tmp_path))


def test_commands_never_carry_the_password():
    s = settings(password="TopSecret-1")
    dump = mysql_clients.dump_command("mysqldump", "/tmp/x.cnf", "rm_411")
    load = mysql_clients.load_command("mysql", "/tmp/x.cnf", "rm_411")
    for argv in (dump, load):
        assert argv[1] == "--defaults-extra-file=/tmp/x.cnf"  # must come first
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
    assert "Cannot reach the MetaDB at 10.0.0.1:2883" in gone.msg and "login_port" in gone.hint


def test_quote_identifier():
    assert metadb.quote_identifier("a`b") == "`a``b`"
