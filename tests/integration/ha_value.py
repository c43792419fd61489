"""ha.config in the rm database of a test-bed instance, read and set as a DBA would."""
import json
import os
import sys

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "tests", "testbed"))
from obtestbed.access import query  # noqa: E402  pylint: disable=wrong-import-position


def ha_raw(d):
    return query(d, "SELECT cfg_value FROM oms_normal_config WHERE cfg_name = 'ha.config'",
                 database=d["metadb"]["rm_db"])[0][0]


def set_ha(d, **fields):
    """ha.config as a DBA left it before the upgrade: these fields changed, the rest as OMS wrote it."""
    value = json.loads(ha_raw(d))
    value.update(fields)
    raw = json.dumps(value, separators=(",", ":"))
    query(d, "UPDATE oms_normal_config SET cfg_value = %s WHERE cfg_name = 'ha.config'", (raw,),
          database=d["metadb"]["rm_db"])
    return raw
