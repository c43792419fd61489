# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way into the MetaDB: options, settings, PyMySQL connections, client defaults files.

Every module that talks to the MetaDB takes metadb_argument_spec() (documented once in the
obtools.oms.metadb doc fragment), turns its params into MetaDBSettings with settings_from_params()
and connects with connect(). The mysql/mysqldump clients get the password only through
client_defaults_file(), a 0600 file in the 0700 backup directory (or, before it exists, in the
collection's own 0700 directory private_dir()), removed afterwards and swept at the next start when
a killed run left it (never in /tmp, never in argv or the environment).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import os
import pwd
import re
import stat
import tempfile
import traceback

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import host_libraries, metadb_engine, oms_config

try:
    import pymysql
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    pymysql = None
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

# MySQL/MariaDB client error codes we explain
ER_ACCESS_DENIED = 1045
ER_DBACCESS_DENIED = 1044
ER_TABLEACCESS_DENIED = 1142
ER_BAD_DB = 1049
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_UNKNOWN_HOST = 2005
CR_SERVER_LOST = 2013


def metadb_argument_spec():
    """Options of the obtools.oms.metadb doc fragment."""
    return dict(
        config_file=dict(type="path"),
        login_host=dict(type="str"),
        login_port=dict(type="int"),
        login_user=dict(type="str"),
        login_password=dict(type="str", no_log=True),
        rm_db=dict(type="str"),
        cm_db=dict(type="str"),
        cm_hb_db=dict(type="str"),
        connect_timeout=dict(type="int", default=10),
    )


def check_libraries(module, need_yaml=None):
    """fail_json when PyMySQL (or PyYAML for config_file) is absent, naming every library the
    collection needs that this host's Python lacks (host_libraries)."""
    from ansible.module_utils.basic import missing_required_lib
    if need_yaml is None:
        need_yaml = bool(module.params.get("config_file"))
    # every library the collection needs that is missing, named at once
    host_libraries.fail_if_missing(module, ["pymysql"] + (["yaml"] if need_yaml else []))
    if not HAS_PYMYSQL:
        module.fail_json(msg=missing_required_lib("PyMySQL"), exception=PYMYSQL_IMPORT_ERROR)
    if need_yaml and not oms_config.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=oms_config.YAML_IMPORT_ERROR)


def settings_from_params(params, config_values=None):
    """MetaDBSettings from module params: config.yaml first (if config_file, or its values already
    read: `config_values`), options override."""
    if config_values is None:
        config_values = {}
        if params.get("config_file"):
            config_values = oms_config.load_oms_config(params["config_file"])
    overrides = {
        "host": params.get("login_host"),
        "port": params.get("login_port"),
        "user": params.get("login_user"),
        "password": params.get("login_password"),
        "rm_db": params.get("rm_db"),
        "cm_db": params.get("cm_db"),
        "cm_hb_db": params.get("cm_hb_db"),
    }
    settings = oms_config.settings_from(config_values, overrides,
                                        connect_timeout=params.get("connect_timeout") or 10,
                                        config_file=params.get("config_file"))
    return settings.require("host", "port", "user")


def where(settings):
    return "%s@%s:%s" % (settings.user, settings.host, settings.port)


def password_bytes(password):
    """The password as the mysql clients send it: UTF-8 bytes (PyMySQL would send a str as latin-1)."""
    if password is None:
        return b""
    if isinstance(password, bytes):
        return password
    return password.encode("utf-8")


def connect(settings, database=None):
    """A PyMySQL connection (autocommit off, utf8mb4) or OmsError saying what to fix.

    The connection knows its server: `conn.oms_engine` is metadb_engine.detect()'s answer, and on
    OceanBase the session's ob_query_timeout and ob_trx_timeout are raised before it is returned.
    """
    if not HAS_PYMYSQL:
        raise OmsError("PyMySQL is not installed", "Install PyMySQL (python3-pymysql) on the OMS host")
    try:
        conn = pymysql.connect(host=settings.host, port=int(settings.port), user=settings.user,
                               password=password_bytes(settings.password), database=database,
                               connect_timeout=settings.connect_timeout, charset="utf8mb4",
                               autocommit=False)
    except pymysql.err.MySQLError as e:
        raise translate_error(e, settings, database)
    try:
        info = metadb_engine.detect(conn)
        setup = metadb_engine.session_setup_sql(info["engine"])
        if setup:
            with conn.cursor() as cur:
                cur.execute(setup)
    except pymysql.err.MySQLError as e:
        conn.close()
        raise translate_error(e, settings, database, doing="prepare the MetaDB session")
    conn.oms_engine = info
    return conn


def read_engine(settings):
    """The server's engine and version (metadb_engine.detect()'s answer), over one connection."""
    conn = connect(settings)
    conn.close()
    return conn.oms_engine


def translate_error(exc, settings, database=None, doing="connect to the MetaDB"):
    """An OmsError for a PyMySQL error: what failed and what to do."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    variable = metadb_engine.timeout_variable(code, text)
    if variable:
        return OmsError("The MetaDB at %s:%s killed a statement while trying to %s (error %s: %s)"
                        % (settings.host, settings.port, doing, code, text),
                        metadb_engine.timeout_hint(variable), code=code, variable=variable)
    if code in (ER_ACCESS_DENIED,):
        return OmsError("The MetaDB refused the login of %s (error %s: %s)" % (where(settings), code, text),
                        "Check the user and password (%s)" % oms_config.source_of(settings, "user", "password"),
                        code=code)
    field = next((attr for _role, attr in oms_config.DATABASE_ROLES
                  if database is not None and getattr(settings, attr, None) == database), None)
    name_from = (" (%s)" % oms_config.source_of(settings, field)) if field else ""
    if code == ER_DBACCESS_DENIED:
        # MySQL and MariaDB answer 1044, not 1049, for a database the user has no grant on, even
        # when it does not exist: a misspelt name looks like this
        return OmsError("The MetaDB user %s may not use database %s%s (error %s): it does not exist "
                        "or the user has no grant on it" % (where(settings), database, name_from, code),
                        "Check the database name (drc_rm_db, drc_cm_db, drc_cm_heartbeat_db in "
                        "config.yaml, or oms_metadb_rm_db, oms_metadb_cm_db, oms_metadb_cm_hb_db if set), and "
                        "grant the user ALL on "
                        "the OMS databases, as OMS itself needs", code=code)
    if code == ER_BAD_DB:
        return OmsError("The MetaDB at %s:%s has no database %s%s"
                        % (settings.host, settings.port, database, name_from),
                        "Check drc_rm_db, drc_cm_db, drc_cm_heartbeat_db in config.yaml, or oms_metadb_rm_db, "
                        "oms_metadb_cm_db, oms_metadb_cm_hb_db (rm_db, cm_db, cm_hb_db) if set", code=code)
    if code in (CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_LOST):
        action = "" if doing == "connect to the MetaDB" else " to %s" % doing
        return OmsError("Cannot reach the MetaDB at %s:%s%s (error %s: %s); the address is %s"
                        % (settings.host, settings.port, action, code, text,
                           oms_config.source_of(settings, "host", "port")),
                        "Check that the MetaDB runs and that this address is right and reachable "
                        "from the OMS host. OMS itself uses oms_meta_host/oms_meta_port of the "
                        "config.yaml it mounts; give the inventory's oms_metadb_host/oms_metadb_port "
                        "only when this host must reach the MetaDB at another address", code=code)
    return OmsError("MetaDB error while trying to %s at %s:%s (error %s: %s)"
                    % (doing, settings.host, settings.port, code, text),
                    "Check the MetaDB's state and the user's privileges", code=code)


def quote_identifier(name):
    """`name` quoted for MySQL (database and table names are not bind parameters)."""
    return "`%s`" % name.replace("`", "``")


def _option_value(value):
    # MySQL option files: a double-quoted value understands \\ \" \n \t \r \b \s escapes
    escaped = (str(value).replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return '"%s"' % escaped


def defaults_file_text(settings, engine=None):
    """The option file the mysql and mysqldump clients read with --defaults-file (and nothing else).

    The user and port go through unchanged (an OBProxy user `name@tenant#cluster` is quoted, as
    `#` would start a comment); the file is written as UTF-8, the bytes PyMySQL sends too. On
    OceanBase the mysql client raises the session timeouts with init-command (mysqldump knows no
    init-command: see metadb_engine.timeout_hint).
    """
    lines = ["[client]",
             "host=%s" % _option_value(settings.host),
             "port=%d" % int(settings.port),
             "user=%s" % _option_value(settings.user),
             "password=%s" % _option_value(settings.password or "")]
    if str(settings.host) in ("localhost",):
        # 'localhost' makes the clients use a socket; the MetaDB is reached over TCP as configured
        lines.append("protocol=TCP")
    # mysqldump knows no connect-timeout; only the mysql client reads the [mysql] group
    lines.extend(["", "[mysql]", "connect-timeout=%d" % int(settings.connect_timeout or 10)])
    setup = metadb_engine.session_setup_sql(engine)
    if setup:
        lines.append("init-command=%s" % _option_value(setup))
    return "\n".join(lines) + "\n"


DEFAULTS_PREFIX = ".obtools-oms-client-"
_DEFAULTS_RE = re.compile(r"^\.obtools-oms-client-(\d+)-.*\.cnf$")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def sweep_defaults_files(directory):
    """Remove defaults files that a killed run left in `directory`; return their names.

    A file's name carries the pid of the process that wrote it; one whose process is gone is a
    leftover (a SIGKILL skips the `finally` that removes it). Files of live processes are kept.
    """
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = _DEFAULTS_RE.match(name)
        if m and (int(m.group(1)) == os.getpid() or not pid_alive(int(m.group(1)))):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
    return removed


PRIVATE_DIR_NAME = ".obtools-oms"


def private_dir_path():
    """Where private_dir() lives: ~/.obtools-oms of the user the module runs as (from the password
    database, not $HOME, which become may leave pointing at another user's home)."""
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        home = os.path.expanduser("~")
    return os.path.join(home, PRIVATE_DIR_NAME)


def private_dir(path=None):
    """The collection's own 0700 directory on the OMS host, created first when missing: where a
    client defaults file goes while there is no backup directory yet (the preflight's rehearsal).

    Refused (OmsError) when it is a symlink, not a directory, or owned by another user; a looser
    mode is tightened to 0700. Never under /tmp: a killed run's file stays private, and the next
    client_defaults_file() sweeps it.
    """
    path = path or private_dir_path()
    try:
        os.mkdir(path, 0o700)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise OmsError("Cannot create the private directory %s: %s" % (path, e.strerror or e),
                           "Make the home directory of the user the modules run as writable, or "
                           "create %s (mode 0700) yourself" % path)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise OmsError("%s is not a directory of this user's own (a symlink, a file or another "
                       "user's directory): it is not used for the MetaDB password" % path,
                       "Remove it; the next run creates it with mode 0700")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


@contextlib.contextmanager
def client_defaults_file(settings, directory, engine=None):
    """Yield the path of a 0600 defaults file holding the credentials; remove it afterwards.

    It lives in `directory` (the 0700 backup directory, or private_dir()), never in /tmp, so that
    a SIGKILL of the module leaves the password only where the dumps already are (or in the
    collection's own 0700 directory), and the next run sweeps it: the files a killed run left in
    `directory` and in private_dir() are removed first.
    """
    if not directory:
        raise OmsError("No private directory for the client defaults file",
                       "Give backup_dir (a 0700 directory on the OMS host; the roles use oms_backup_dir)")
    sweep_defaults_files(directory)
    if os.path.realpath(directory) != os.path.realpath(private_dir_path()):
        sweep_defaults_files(private_dir_path())
    fd, path = tempfile.mkstemp(prefix="%s%d-" % (DEFAULTS_PREFIX, os.getpid()), suffix=".cnf",
                                dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(defaults_file_text(settings, engine).encode("utf-8"))
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
