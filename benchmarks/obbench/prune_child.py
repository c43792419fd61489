"""Run the collection's heartbeat prune (module_utils/heartbeat.prune) in a process of its own.

Input (stdin, JSON, so the password is never on a command line): collections_path, settings
{host, port, user, password, rm_db, cm_db, cm_hb_db}, batch_size, batch_seconds, from_id.
Output (stdout, JSON): what heartbeat.prune returns (the module's result for state=pruned).
"""

import json
import sys


def main():
    req = json.load(sys.stdin)
    sys.path.insert(0, req["collections_path"])
    from ansible_collections.obtools.oms.plugins.module_utils import heartbeat, oms_config  # noqa: E402

    s = req["settings"]
    settings = oms_config.MetaDBSettings(host=s["host"], port=int(s["port"]), user=s["user"],
                                         password=s["password"], rm_db=s["rm_db"],
                                         cm_db=s["cm_db"], cm_hb_db=s["cm_hb_db"])
    result = heartbeat.prune(settings, batch_size=int(req["batch_size"]),
                             batch_seconds=float(req["batch_seconds"]), from_id=req.get("from_id"))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the parent reports it and fails the run
        sys.stderr.write("%s: %s\n" % (type(e).__name__, e))
        sys.exit(1)
