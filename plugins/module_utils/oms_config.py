# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OMS's config.yaml (the file the container mounts at /home/admin/conf/config.yaml).

Only the MetaDB keys matter here; OMS documents them in its single-node deployment guide.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible_collections.obtools.oms.plugins.module_utils import host_access
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

# config.yaml key -> MetaDBSettings attribute
CONFIG_KEYS = (
    ("oms_meta_host", "host"),
    ("oms_meta_port", "port"),
    ("oms_meta_user", "user"),
    ("oms_meta_password", "password"),
    ("drc_rm_db", "rm_db"),
    ("drc_cm_db", "cm_db"),
    ("drc_cm_heartbeat_db", "cm_hb_db"),
)

# role name used in manifests and results -> attribute
DATABASE_ROLES = (("rm", "rm_db"), ("cm", "cm_db"), ("cm_hb", "cm_hb_db"))


class MetaDBSettings(object):
    """Where the MetaDB is, who logs in, and the three OMS database names.

    `sources` says, per attribute, whether it came from config.yaml or an explicit option, so an
    error can point at the right place.
    """

    FIELDS = ("host", "port", "user", "password", "rm_db", "cm_db", "cm_hb_db")

    def __init__(self, host=None, port=None, user=None, password=None, rm_db=None, cm_db=None,
                 cm_hb_db=None, connect_timeout=10, config_file=None):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.rm_db = rm_db
        self.cm_db = cm_db
        self.cm_hb_db = cm_hb_db
        self.connect_timeout = connect_timeout
        self.config_file = config_file
        self.sources = {}

    def require(self, *fields):
        """Raise OmsError naming every field in `fields` that has no value."""
        missing = [f for f in fields if getattr(self, f) in (None, "")]
        if missing:
            names = ", ".join(_option_name(f) for f in missing)
            where = ("neither given as options nor found in %s" % self.config_file
                     if self.config_file else "not given")
            raise OmsError("MetaDB setting(s) %s %s (%s in config.yaml; the inventory's %s)"
                           % (names, where, ", ".join(CONFIG_KEY_OF[f] for f in missing),
                              ", ".join(INVENTORY_VARIABLE[f] for f in missing)),
                           "Set config_file (the inventory's oms_config_file) to the config.yaml "
                           "the OMS container mounts, or give the missing values explicitly")
        return self

    def databases(self):
        """[(role, database name)] for the three OMS databases, in rm, cm, cm_hb order."""
        self.require("rm_db", "cm_db", "cm_hb_db")
        return [(role, getattr(self, attr)) for role, attr in DATABASE_ROLES]

    def public(self):
        """Everything but the password, for results and manifests."""
        return {"host": self.host, "port": self.port, "user": self.user}

    def __repr__(self):
        return "MetaDBSettings(%s)" % ", ".join(
            "%s=%r" % (f, "********" if f == "password" else getattr(self, f)) for f in self.FIELDS)


def _option_name(field):
    return {"host": "login_host", "port": "login_port", "user": "login_user",
            "password": "login_password"}.get(field, field)


# MetaDBSettings attribute -> the roles' inventory variable that fills the module option
INVENTORY_VARIABLE = {"host": "oms_metadb_host", "port": "oms_metadb_port", "user": "oms_metadb_user",
                      "password": "oms_metadb_password", "rm_db": "oms_metadb_rm_db",
                      "cm_db": "oms_metadb_cm_db", "cm_hb_db": "oms_metadb_cm_hb_db"}


def source_of(settings, *fields):
    """Where the values of `fields` came from, in the user's words: the config.yaml key and the
    file ("oms_meta_host and oms_meta_port in /data/config.yaml"), or the module option and the
    inventory variable the roles fill it from ("login_port (the inventory's oms_metadb_port)").
    A field of unknown source (settings built in code) is named both ways."""
    from_config, from_option, unknown = [], [], []
    for field in fields:
        source = settings.sources.get(field)
        if source == "config_file" and settings.config_file:
            from_config.append(CONFIG_KEY_OF[field])
        elif source == "option":
            from_option.append(field)
        else:
            unknown.append(field)
    parts = []
    if from_config:
        parts.append("%s in %s" % (" and ".join(from_config), settings.config_file))
    if from_option:
        parts.append("%s (the inventory's %s)" % ("/".join(_option_name(f) for f in from_option),
                                                  "/".join(INVENTORY_VARIABLE[f] for f in from_option)))
    if unknown:
        parts.append("%s in %s, or %s (the inventory's %s)" % (
            "/".join(CONFIG_KEY_OF[f] for f in unknown), settings.config_file or "config.yaml",
            "/".join(_option_name(f) for f in unknown),
            "/".join(INVENTORY_VARIABLE[f] for f in unknown)))
    return ", and ".join(parts)


def parse_oms_config(text, path="config.yaml"):
    """The MetaDB keys of config.yaml text, as a dict keyed by MetaDBSettings attribute."""
    if not HAS_YAML:
        raise OmsError("PyYAML is needed to read %s" % path,
                       "Install PyYAML (python3-yaml) on the OMS host, or set oms_metadb_host, "
                       "oms_metadb_port, oms_metadb_user, oms_metadb_password, oms_metadb_rm_db, "
                       "oms_metadb_cm_db and oms_metadb_cm_hb_db (the login and database options)")
    try:
        # BaseLoader keeps every scalar as the text written: an unquoted password such as 000123
        # or yes must not become 83 or True
        data = yaml.load(text, Loader=yaml.BaseLoader)  # nosec - BaseLoader builds only str/list/dict
    except yaml.YAMLError as e:
        # PyYAML's own message quotes the offending line, which may be the password's: say where
        # the error is, never what the line holds
        raise OmsError("%s is not valid YAML (%s)" % (path, _yaml_error_place(e)),
                       "Fix the file at that place (it is the config.yaml the OMS container "
                       "mounts) or point oms_config_file (config_file) at the right one")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise OmsError("%s does not hold a YAML mapping of OMS settings" % path,
                       "Point config_file (the inventory's oms_config_file) at the config.yaml the OMS container mounts at "
                       "/home/admin/conf/config.yaml")
    values = {}
    for key, attr in CONFIG_KEYS:
        value = data.get(key)
        if value is None or value == "":
            continue
        if attr == "port":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise OmsError("%s: oms_meta_port %r is not a port number" % (path, value),
                               "Fix oms_meta_port in the file, or give login_port (the inventory's "
                               "oms_metadb_port) explicitly")
        elif not isinstance(value, str):
            raise OmsError("%s: %s is not a single value" % (path, key),
                           "Fix %s in the file or give the matching option explicitly" % key)
        values[attr] = value
    return values


def _yaml_error_place(error):
    """`line N, column C` of a YAMLError, without any of the file's text."""
    problem = getattr(error, "problem_mark", None)
    context = getattr(error, "context_mark", None)
    mark = problem or context
    if mark is None:
        return "position unknown"
    place = "line %d, column %d" % (mark.line + 1, mark.column + 1)
    if problem is not None and context is not None and context.line != problem.line:
        # an unclosed quote or bracket is found only where the file ends: say where it began
        place += ", in what begins at line %d, column %d" % (context.line + 1, context.column + 1)
    return place


def load_oms_config(path):
    """Read config.yaml at `path` (host path) and return its MetaDB keys (see parse_oms_config)."""
    try:
        with open(path, "r") as f:
            text = f.read()
    except (IOError, OSError) as e:
        if host_access.is_denied_without_root(e):
            # a user in the docker group: OMS's config.yaml is root's on a real host
            raise OmsError(*host_access.denied(
                "Cannot read the OMS config file %s" % path, path,
                "let NAME read it (as root, once: setfacl -m u:NAME:r %s, or chgrp a group of NAME's "
                "and chmod 0640; the OMS container reads it as root either way). oms_config_file names "
                "it (unset: the old container's config mount)" % path))
        raise OmsError("Cannot read the OMS config file %s: %s" % (path, e.strerror or e),
                       "Give config_file (the inventory's oms_config_file) as the host path of the config.yaml the old OMS "
                       "container mounts (docker inspect shows it), readable by this user")
    return parse_oms_config(text, path)


# Characters a database name must not hold: `.` and `/` would make another schema or a path of the
# dump's file name, a leading `-` turns it into a client option, a backtick ends its quoting.
BAD_NAME_CHARS = (".", "/", "`")
CONFIG_KEY_OF = dict((attr, key) for key, attr in CONFIG_KEYS)


def check_database_name(attr, name, source, config_file=None):
    """OmsError when `name` (the rm_db, cm_db or cm_hb_db value) is not a plain identifier."""
    bad = [c for c in BAD_NAME_CHARS if c in name]
    if name.startswith("-"):
        bad.insert(0, "a leading -")
    if not bad:
        return
    where = ("%s in %s" % (CONFIG_KEY_OF[attr], config_file) if source == "config_file"
             else "the option %s, the inventory's %s" % (attr, INVENTORY_VARIABLE[attr]))
    raise OmsError("The database name %r (%s) holds %s: the dump, the restore and the mysql "
                   "clients cannot use it safely" % (name, where, " and ".join(
                       "'%s'" % c if len(c) == 1 else c for c in bad)),
                   "Give the name exactly as OMS uses it (drc_rm_db, drc_cm_db, "
                   "drc_cm_heartbeat_db in config.yaml, or oms_metadb_rm_db/_cm_db/_cm_hb_db), "
                   "without '.', '/', backticks or a leading '-'; a database that really has such "
                   "a name must be renamed before the upgrade")


def register_no_log(module, settings):
    """Make Ansible mask the MetaDB password wherever it would appear in this module's output.

    A password given as login_password is no_log already; one read from config.yaml is not, unless
    registered here.
    """
    if settings.password:
        module.no_log_values.add(settings.password)


def settings_from(config_values=None, overrides=None, connect_timeout=10, config_file=None):
    """Combine config.yaml values with explicit overrides (explicit wins when not None)."""
    settings = MetaDBSettings(connect_timeout=connect_timeout, config_file=config_file)
    for attr, value in (config_values or {}).items():
        setattr(settings, attr, value)
        settings.sources[attr] = "config_file"
    for attr, value in (overrides or {}).items():
        if value is not None:
            setattr(settings, attr, value)
            settings.sources[attr] = "option"
    if settings.port is None:
        settings.port = 3306
    for _role, attr in DATABASE_ROLES:
        name = getattr(settings, attr)
        if name:
            check_database_name(attr, str(name), settings.sources.get(attr), config_file)
    return settings
