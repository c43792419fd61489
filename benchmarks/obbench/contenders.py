"""The dump contenders, each run on the same data with the simulator stopped.

Every contender returns a dict with at least: seconds, bytes (written), files {name: bytes},
peak_kb (largest process), and raises BenchFailure when its output is missing or empty.
"""

import glob
import json
import os
import shutil
import sys
import tempfile

from .db import BenchFailure
from .measure import run_measured

COMPLETED = b"-- Dump completed"
# The module's mysqldump flags (module_utils/mysql_clients.dump_command), used for the floor so
# that it measures the same work; the manual contender uses the procedure's flags instead.
MODULE_DUMP_FLAGS = ["--single-transaction", "--quick", "--skip-triggers", "--hex-blob",
                     "--default-character-set=utf8mb4", "--no-tablespaces"]


def _tail(path, n=256):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - n))
        return f.read()


def _check_sql_file(path, label):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise BenchFailure("%s: %s is missing or empty" % (label, path))
    if COMPLETED not in _tail(path):
        raise BenchFailure("%s: %s does not end with mysqldump's completion line" % (label, path))
    return os.path.getsize(path)


def _fresh_dir(base, name):
    path = os.path.join(base, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, 0o700)
    return path


def manual_sequence(metadb, workdir):
    """Step 2.3 as written: three mysqldump, one after another, each `> <db>.sql`.

    Only change: host, port, user and password come from a 0600 defaults file, not the line.
    """
    out = _fresh_dir(workdir, "manual")
    total, peak, files, per_db = 0.0, 0, {}, {}
    for role in metadb.ROLES:
        db = metadb.dbs[role]
        path = os.path.join(out, db + ".sql")
        with open(path, "wb") as f:
            m = run_measured(["mysqldump", "--defaults-extra-file=" + metadb.defaults_file,
                              "--triggers=false", db], stdout=f)
        if m.rc != 0:
            raise BenchFailure("manual mysqldump %s failed (rc %d): %s"
                               % (db, m.rc, m.stderr.decode(errors="replace")[-500:]))
        total += m.seconds
        peak = max(peak, m.tree_peak_kb or 0)
        files[db] = _check_sql_file(path, "manual sequence")
        per_db[role] = round(m.seconds, 3)
    return {"seconds": total, "bytes": sum(files.values()), "files": files, "peak_kb": peak,
            "per_db_seconds": per_db, "dir": out}


def largest_single(metadb, workdir, role):
    """mysqldump of the largest database alone, with the module's flags: the floor."""
    out = _fresh_dir(workdir, "largest")
    db = metadb.dbs[role]
    path = os.path.join(out, db + ".sql")
    with open(path, "wb") as f:
        m = run_measured(["mysqldump", "--defaults-extra-file=" + metadb.defaults_file]
                         + MODULE_DUMP_FLAGS + [db], stdout=f)
    if m.rc != 0:
        raise BenchFailure("mysqldump %s failed (rc %d): %s"
                           % (db, m.rc, m.stderr.decode(errors="replace")[-500:]))
    size = _check_sql_file(path, "largest single")
    return {"seconds": m.seconds, "bytes": size, "files": {db: size}, "peak_kb": m.tree_peak_kb,
            "database": db, "dir": out}


def mydumper(metadb, workdir, threads=4):
    """mydumper 0.10 (Debian) on the three databases in one run, `threads` threads.

    --no-locks: the simulator is stopped, nothing writes (mysqldump --single-transaction takes no
    lock either, and the MetaDB user need not have RELOAD for FLUSH TABLES WITH READ LOCK).
    """
    out = _fresh_dir(workdir, "mydumper")
    regex = "^(%s)\\." % "|".join(metadb.dbs[r] for r in metadb.ROLES)
    m = run_measured(["mydumper", "--defaults-file=" + metadb.defaults_file,
                      "--regex", regex, "--outputdir", out, "--threads", str(threads),
                      "--no-locks", "--trx-consistency-only", "--verbose", "1"])
    if m.rc != 0:
        raise BenchFailure("mydumper failed (rc %d): %s"
                           % (m.rc, m.stderr.decode(errors="replace")[-800:]))
    files = {}
    for p in glob.glob(os.path.join(out, "*")):
        files[os.path.basename(p)] = os.path.getsize(p)
    data = sum(v for k, v in files.items() if not k.endswith("-schema.sql") and k != "metadata"
               and not k.endswith("-schema-create.sql"))
    if data == 0:
        raise BenchFailure("mydumper wrote no data files in %s" % out)
    for role in metadb.ROLES:
        if not any(k.startswith(metadb.dbs[role] + ".") for k in files):
            raise BenchFailure("mydumper dumped nothing of %s" % metadb.dbs[role])
    return {"seconds": m.seconds, "bytes": sum(files.values()), "files_count": len(files),
            "peak_kb": m.tree_peak_kb, "threads": threads, "dir": out}


def _check_manifest(manifest, backup_dir, label):
    files = {}
    for entry in manifest.get("databases", []):
        path = os.path.join(backup_dir, entry["file"])
        if not os.path.exists(path) or os.path.getsize(path) == 0 or not entry.get("size"):
            raise BenchFailure("%s: %s is missing or empty" % (label, path))
        files[entry["database"]] = entry["size"]
    if len(files) != 3:
        raise BenchFailure("%s: the manifest lists %d databases, not 3" % (label, len(files)))
    return files


def child_settings(metadb):
    """The MetaDB settings a child process (module_child, prune_child) builds MetaDBSettings from."""
    return {"host": metadb.host, "port": metadb.port, "user": metadb.user, "password": metadb.password,
            "rm_db": metadb.dbs["rm"], "cm_db": metadb.dbs["cm"], "cm_hb_db": metadb.dbs["cm_hb"]}


def run_child(module, req):
    """`python -m module` (an obbench child) measured, `req` as JSON on its stdin from a 0600 file,
    so that the password is never on a command line."""
    fd, req_path = tempfile.mkstemp(prefix="obbench-req-", suffix=".json")
    with os.fdopen(fd, "w") as f:  # mkstemp: mode 0600
        json.dump(req, f)
    try:
        with open(req_path, "rb") as stdin:
            return run_measured([sys.executable, "-m", module], stdin=stdin,
                                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    finally:
        os.unlink(req_path)


def module_utils_dump(metadb, workdir, collections_path, compress="none", parallel=True,
                      profile=False):
    """The collection's dump (metadb_dump.dump) in its own Python process."""
    out = _fresh_dir(workdir, "module-%s" % compress)
    req = {"collections_path": collections_path, "backup_dir": out, "compress": compress,
           "parallel": parallel, "profile": profile, "settings": child_settings(metadb)}
    m = run_child("obbench.module_child", req)
    if m.rc != 0:
        raise BenchFailure("the module's dump (compress=%s) failed: %s"
                           % (compress, m.stderr.decode(errors="replace")[-800:]))
    res = json.loads(m.stdout.decode())
    files = _check_manifest(res["manifest"], out, "module dump")
    return {"seconds": m.seconds, "dump_seconds": res["seconds"], "bytes": sum(files.values()),
            "files": files, "own_peak_kb": m.own_peak_kb, "peak_kb": m.tree_peak_kb,
            "self_reported_peak_kb": res["vm_hwm_kb"], "spans": res["spans"],
            "manifest_duration": res["manifest"].get("duration"),
            "per_db_seconds": {d["role"]: d.get("duration") for d in res["manifest"]["databases"]},
            "compress": compress, "dir": out}


PLAYBOOK = """- name: Dump the OMS databases with obtools.oms.oms_metadb_backup (benchmark)
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {secrets}
  tasks:
    - name: Dump
      obtools.oms.oms_metadb_backup:
        state: dumped
        login_host: "{{{{ bench_metadb.host }}}}"
        login_port: "{{{{ bench_metadb.port }}}}"
        login_user: "{{{{ bench_metadb.user }}}}"
        login_password: "{{{{ bench_metadb.password }}}}"
        rm_db: "{{{{ bench_metadb.rm_db }}}}"
        cm_db: "{{{{ bench_metadb.cm_db }}}}"
        cm_hb_db: "{{{{ bench_metadb.cm_hb_db }}}}"
        backup_dir: {backup_dir}
        compress: {compress}
        force: true
"""


def ansible_module_dump(metadb, workdir, env, compress="none"):
    """The module oms_metadb_backup run by ansible-playbook on localhost.

    The interpreter is memwrap.py, which records the module process's peak memory.
    """
    out = _fresh_dir(workdir, "ansible-%s" % compress)
    priv = tempfile.mkdtemp(prefix="obbench-ansible-")
    try:
        secrets = os.path.join(priv, "secrets.json")
        fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"bench_metadb": {"host": metadb.host, "port": metadb.port,
                                        "user": metadb.user, "password": metadb.password,
                                        "rm_db": metadb.dbs["rm"], "cm_db": metadb.dbs["cm"],
                                        "cm_hb_db": metadb.dbs["cm_hb"]}}, f)
        playbook = os.path.join(priv, "dump.yml")
        with open(playbook, "w") as f:
            f.write(PLAYBOOK.format(secrets=secrets, backup_dir=out, compress=compress))
        wrapper = os.path.join(priv, "python")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n"
                    % (sys.executable, os.path.join(os.path.dirname(__file__), "memwrap.py")))
        os.chmod(wrapper, 0o700)
        memlog = os.path.join(priv, "mem.jsonl")
        penv = dict(env)
        penv["OBBENCH_MEMLOG"] = memlog
        m = run_measured(["ansible-playbook", "-i", "localhost,", playbook,
                          "-e", "ansible_python_interpreter=" + wrapper], env=penv)
        if m.rc != 0:
            raise BenchFailure("ansible-playbook oms_metadb_backup (compress=%s) failed: %s"
                               % (compress, (m.stdout + m.stderr).decode(errors="replace")[-1500:]))
        recs = []
        if os.path.exists(memlog):
            with open(memlog) as f:
                recs = [json.loads(line) for line in f if line.strip()]
        if not recs:
            raise BenchFailure("ansible run left no memory record of the module's process")
        mod = max(recs, key=lambda r: r["seconds"])
    finally:
        shutil.rmtree(priv, ignore_errors=True)
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    files = _check_manifest(manifest, out, "ansible module dump")
    return {"seconds": m.seconds, "module_seconds": mod["seconds"], "bytes": sum(files.values()),
            "files": files, "own_peak_kb": mod["own_peak_kb"], "peak_kb": mod["tree_peak_kb"],
            "ansible_overhead_seconds": round(m.seconds - mod["seconds"], 3),
            "compress": compress, "dir": out}
