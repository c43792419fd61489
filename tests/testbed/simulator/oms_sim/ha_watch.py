"""Re-reads ha.config from the MetaDB and, with HA enabled, logs the action it would take on
stale heartbeats.

[doc] ha.config lives in <rm>.oms_normal_config; perceiveStoreClientCheckpoint (with enable and
enableStore) restarts a Store at the downstream's earliest checkpoint minus
refetchStoreIntervalMin, otherwise at now minus refetchStoreIntervalMin.
[guess] that OMS re-reads it while running (every 5 s here); the fault ha_config_cached is the
unfavourable side: read once when the server starts, taken only after a restart.
[guess] that a heart_beat row older than checkHostDownIntervalSec is what triggers it, and the log
line itself ("HA action: ...").
"""

import json

from oms_sim import faults
from oms_sim.schema import qname


class HaWatch(object):
    def __init__(self, conf, log):
        self.conf = conf
        self.log = log
        self.raw = None
        self.config = {}
        self.reported = set()
        self.loaded = False

    def reload(self, meta):
        if self.loaded and "ha_config_cached" in faults.active():
            return  # [guess] the unfavourable side: cached until the console restarts
        self.loaded = True
        rows = meta.query("SELECT cfg_value FROM %s.oms_normal_config WHERE cfg_name='ha.config'"
                          % qname(self.conf.rm_db))
        raw = rows[0][0] if rows else None
        if raw == self.raw:
            return
        self.raw = raw
        try:
            self.config = json.loads(raw) if raw else {}
        except ValueError:
            self.log.warn("ha.config is not valid JSON, HA stays off: %r" % raw)
            self.config = {}
            return
        self.log("ha.config reloaded: enable=%s enableStore=%s perceiveStoreClientCheckpoint=%s "
                 "refetchStoreIntervalMin=%s" % tuple(self.config.get(k) for k in (
                     "enable", "enableStore", "perceiveStoreClientCheckpoint",
                     "refetchStoreIntervalMin")))

    def check(self, meta):
        """Reload ha.config; with HA on, log an action once for each newly stale heart_beat row."""
        self.reload(meta)
        if self.config.get("enable") is not True:
            return []
        limit = int(self.config.get("checkHostDownIntervalSec") or 540)
        rows = meta.query("SELECT task_name, host_ip, gmt_modified, TIMESTAMPDIFF(SECOND, gmt_modified, "
                          "NOW()) FROM %s.heart_beat WHERE gmt_modified < NOW() - INTERVAL %%s "
                          "SECOND" % qname(self.conf.cm_hb_db), (limit,))
        actions = []
        for task, ip, modified, age in rows:
            key = (task, ip, str(modified))
            if key in self.reported:
                continue
            self.reported.add(key)
            actions.append(self.action(task, ip, age, limit))
        return actions

    def action(self, task, ip, age, limit):
        minutes = self.config.get("refetchStoreIntervalMin", 30)
        if self.config.get("perceiveStoreClientCheckpoint") and self.config.get("enableStore"):
            start = ("the downstream's earliest checkpoint minus refetchStoreIntervalMin=%s min"
                     % minutes)
        else:
            start = "now minus refetchStoreIntervalMin=%s min" % minutes
        message = ("HA action: heartbeat of %s on %s is %ss old (> checkHostDownIntervalSec=%s); "
                   "would restart its Store starting at %s" % (task, ip, age, limit, start))
        self.log.warn(message)
        return message
