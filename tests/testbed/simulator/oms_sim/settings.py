"""Reading /home/admin/conf/config.yaml, the one file OMS is configured by."""

import os

import yaml

CONFIG_PATH = "/home/admin/conf/config.yaml"
SSL_CERT = "/etc/pki/nginx/oms_server.crt"
SSL_KEY = "/etc/pki/nginx/oms_server.key"

# [doc] deploy-oms-on-a-single-node: the keys every config.yaml must have.
REQUIRED_KEYS = ("oms_meta_host", "oms_meta_port", "oms_meta_user", "oms_meta_password",
                 "drc_rm_db", "drc_cm_db", "drc_cm_heartbeat_db", "cm_url", "cm_location",
                 "cm_nodes")
DEFAULT_CONSOLE_PORT = 8089
# [guess] OMS keeps console users in its own tables; the test bed sets the admin password here.
DEFAULT_CONSOLE_USER = "admin"


class ConfigError(Exception):
    """config.yaml is missing or unusable; the message says which and what to do."""


class Settings(object):
    def __init__(self, raw, version, host_ip, is_upgrade):
        self.raw = raw
        self.meta_host = str(raw["oms_meta_host"])
        self.meta_port = int(raw["oms_meta_port"])
        self.meta_user = str(raw["oms_meta_user"])
        self.meta_password = str(raw["oms_meta_password"])
        self.rm_db = str(raw["drc_rm_db"])
        self.cm_db = str(raw["drc_cm_db"])
        self.cm_hb_db = str(raw["drc_cm_heartbeat_db"])
        self.cm_location = int(raw["cm_location"])
        self.cm_region = str(raw.get("cm_region") or "default")
        # [obd] nginx_server_port exists in later releases; the test bed needs it because several
        # deployments share the host network.
        self.console_port = int(raw.get("nginx_server_port") or DEFAULT_CONSOLE_PORT)
        # [guess] test-bed keys for the console's admin account.
        self.console_user = str(raw.get("oms_sim_console_user") or DEFAULT_CONSOLE_USER)
        self.console_password = raw.get("oms_sim_console_password")
        self.version = version
        self.host_ip = host_ip
        self.is_upgrade = is_upgrade

    @property
    def databases(self):
        return {"rm": self.rm_db, "cm": self.cm_db, "cm_hb": self.cm_hb_db}

    def https(self):
        return os.path.isfile(SSL_CERT) and os.path.isfile(SSL_KEY)


def load(path=CONFIG_PATH, env=None):
    env = os.environ if env is None else env
    if not os.path.isfile(path):
        raise ConfigError("config file %s not found. Mount your config.yaml at %s "
                          "(docker run -v /data/config.yaml:%s)" % (path, CONFIG_PATH, CONFIG_PATH))
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("config file %s cannot be read: %s. Fix its YAML syntax" % (path, exc))
    if not isinstance(raw, dict):
        raise ConfigError("config file %s is not a YAML mapping. Write it as key: value lines" % path)
    missing = [k for k in REQUIRED_KEYS if raw.get(k) in (None, "")]
    if missing:
        raise ConfigError("config file %s lacks required key(s): %s. Add them as the deployment "
                          "guide lists" % (path, ", ".join(missing)))
    if not isinstance(raw["cm_nodes"], list) or not raw["cm_nodes"]:
        raise ConfigError("config file %s: cm_nodes must be a non-empty list of IPs" % path)
    try:
        location = int(raw["cm_location"])
    except (TypeError, ValueError):
        location = -1
    if not 0 <= location <= 127:
        raise ConfigError("config file %s: cm_location must be an integer from 0 to 127" % path)
    host_ip = env.get("OMS_HOST_IP") or str(raw["cm_nodes"][0])
    is_upgrade = str(env.get("IS_UPGRADE", "")).lower() == "true"
    version = env.get("OMS_SIM_VERSION", "4.1.1-CE")
    return Settings(raw, version, host_ip, is_upgrade)
