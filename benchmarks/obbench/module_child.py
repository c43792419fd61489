"""Run the collection's dump (module_utils/metadb_dump.dump) in a process of its own.

Input (stdin, JSON, so the password is never on a command line): collections_path, settings
{host, port, user, password, rm_db, cm_db, cm_hb_db}, backup_dir, compress, parallel, profile.
Output (stdout, JSON): the manifest, the process's own VmHWM in kB, and with profile=true the
time each database's job spent in each part of the dump (spans relative to the start).
"""

import functools
import json
import sys
import threading
import time


def vm_hwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def main():
    req = json.load(sys.stdin)
    sys.path.insert(0, req["collections_path"])
    from ansible_collections.obtools.oms.plugins.module_utils import (  # noqa: E402
        dump_files, metadb_dump, metadb_inventory, mysql_clients, oms_config)

    spans = []
    lock = threading.Lock()
    t_start = [None]

    def timed(mod, name, label, key_arg):
        orig = getattr(mod, name)

        @functools.wraps(orig)
        def wrapper(*a, **kw):
            t0 = time.monotonic()
            try:
                return orig(*a, **kw)
            finally:
                t1 = time.monotonic()
                key = a[key_arg] if len(a) > key_arg else "?"
                if isinstance(key, list):  # mysqldump argv: the database is last
                    key = key[-1]
                with lock:
                    spans.append({"part": label, "key": str(key),
                                  "start": round(t0 - t_start[0], 3), "seconds": round(t1 - t0, 3)})
        setattr(mod, name, wrapper)

    if req.get("profile"):
        # (module, function, label, index of the argument that names the database/file)
        # (the dump reads no table checksums any more: no "checksum" span)
        timed(metadb_inventory, "base_tables", "list tables", 1)
        timed(mysql_clients, "run_dump_to_file", "mysqldump", 0)
        timed(dump_files, "check_dump_content", "verify content", 0)
        timed(dump_files, "sha256_file", "sha256", 0)

    s = req["settings"]
    settings = oms_config.MetaDBSettings(host=s["host"], port=int(s["port"]), user=s["user"],
                                         password=s["password"], rm_db=s["rm_db"],
                                         cm_db=s["cm_db"], cm_hb_db=s["cm_hb_db"])
    t_start[0] = time.monotonic()
    result = metadb_dump.dump(settings, req["backup_dir"], compress=req.get("compress", "none"),
                              parallel=req.get("parallel", True), force=True)
    seconds = time.monotonic() - t_start[0]
    json.dump({"manifest": result["manifest"], "seconds": seconds, "vm_hwm_kb": vm_hwm_kb(),
               "spans": spans}, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the parent reports it and fails the run
        sys.stderr.write("%s: %s\n" % (type(e).__name__, e))
        sys.exit(1)
