"""Names, ports and paths of one test-bed instance (pure: no engine, no MetaDB)."""

import os
import re
import zlib

DEFAULT_ROOT = "/var/tmp/obtools-testbed"
DEFAULT_IMAGE_REPO = "obtools-testbed/oms"
SOURCE_TAG = "feature_4.1.1-ce"
TARGET_TAG = "feature_4.2.0-ce"
# The releases after 4.2.0 ([doc] oms-doc V4.2.1, V4.2.2: each upgrades only from the one before),
# built on demand (images.ensure_release) so that a plain `up` costs what it did.
LATER_TAGS = {"4.2.1-CE": "feature_4.2.1-ce", "4.2.2-CE": "feature_4.2.2-ce"}
BASE_DEBIAN = "obtools-testbed/debian:bookworm"
BASE_MARIADB = "obtools-testbed/mariadb:bookworm"
METADB_CONTAINER = "obtb-metadb"
METADB_HOST = "127.0.0.1"
METADB_PORT = 23306
METADB_USER = "oms_meta"
# The OceanBase MetaDB: seekdb (OceanBase's SQL engine, single node) beside MariaDB, on a port of
# its own so that both run at once.
SEEKDB_CONTAINER = "obtb-seekdb"
SEEKDB_PORT = 22881
METADB_ENV = "OMS_TESTBED_METADB"
MARIADB = "mariadb"
OCEANBASE = "oceanbase"
METADB_ENGINES = (MARIADB, OCEANBASE)
OMS_HOST_IP = "127.0.0.1"
INSTANCE_LABEL = "obtools.testbed.instance"
UPGRADED_FROM_LABEL = "obtools.oms.upgraded_from"
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def root_dir():
    return os.environ.get("OMS_TESTBED_ROOT") or DEFAULT_ROOT


def image_repo():
    return os.environ.get("OMS_TESTBED_IMAGE_REPO") or DEFAULT_IMAGE_REPO


class MetaDBSpec(object):
    """Where one MetaDB engine runs: its container, port and directory under the root."""

    def __init__(self, engine, container, port, subdir):
        self.engine = engine
        self.container = container
        self.host = METADB_HOST
        self.port = port
        self.subdir = subdir


METADBS = {
    MARIADB: MetaDBSpec(MARIADB, METADB_CONTAINER, METADB_PORT, "metadb"),
    OCEANBASE: MetaDBSpec(OCEANBASE, SEEKDB_CONTAINER, SEEKDB_PORT, "seekdb"),
}


def check_metadb_engine(engine):
    if engine not in METADBS:
        raise ValueError("MetaDB engine %r: use one of %s (%s)"
                         % (engine, ", ".join(METADB_ENGINES), METADB_ENV))
    return engine


def metadb_spec(engine=None):
    return METADBS[check_metadb_engine(engine or MARIADB)]


def metadb_engine_env():
    """The engine OMS_TESTBED_METADB asks for, or None when it is unset (or empty)."""
    value = (os.environ.get(METADB_ENV) or "").strip().lower()
    return check_metadb_engine(value) if value else None


def check_name(name):
    if not NAME_RE.match(name or ""):
        raise ValueError("instance name %r: use 1-12 lower-case letters and digits, starting with "
                         "a letter" % (name,))
    return name


class Instance(object):
    """Everything that follows from an instance name."""

    def __init__(self, name, root=None):
        self.name = check_name(name)
        self.root = root or root_dir()
        self.old_container = "oms_%s_411" % name
        self.new_container = "oms_%s_420" % name
        prefix = "" if name == "a" else "%s_" % name
        self.rm_db = prefix + "rm_411"
        self.cm_db = prefix + "cm_411"
        self.cm_hb_db = prefix + "cm_hb_411"
        self.host_dir = os.path.join(self.root, "instances", name)
        self.config_file = os.path.join(self.host_dir, "config.yaml")
        self.state_file = os.path.join(self.host_dir, "testbed.json")
        self.mounts = {"config": self.config_file,
                       "logs": os.path.join(self.host_dir, "oms_logs"),
                       "store": os.path.join(self.host_dir, "oms_store"),
                       "run": os.path.join(self.host_dir, "oms_run")}
        self.backup_dir = os.path.join(self.host_dir, "backup")
        self.ssl_dir = os.path.join(self.host_dir, "ssl")
        self.faults_file = os.path.join(self.mounts["run"], "oms_sim_faults")
        self.profile_file = os.path.join(self.mounts["run"], "oms_sim_profile")
        self.console_port = console_port(name)

    @property
    def databases(self):
        return [self.rm_db, self.cm_db, self.cm_hb_db]


def console_port(name):
    """a: 8089 and b: 8189 (as agreed); others: a port from the name, 10009..29999, ending in 9."""
    if name == "a":
        return 8089
    if name == "b":
        return 8189
    return 10009 + (zlib.crc32(name.encode("utf-8")) % 2000) * 10
