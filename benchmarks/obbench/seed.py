"""Deterministic seeding of the three OMS databases with the volume a busy OMS has.

Same seed and size -> same rows (each chunk of CHUNK rows comes from its own random stream, seeded
by (seed, table, chunk index)), so a smaller size is a prefix of a bigger one and the data can be
grown in place (the memory probe seeds size/4 first, then grows to the full size).

The bulk lives in tables of our own, prefixed ``bench_``: the simulator's schema and behaviour are
left alone, and docker_init.sh's migration does not touch them. Proportions (a guess at a busy OMS,
OMS publishes none): cm_hb 45 % (heartbeat history, plus ``heatbeat_sequence`` rows that step 2.2
prunes), rm 30 % (project step logs, task configuration), cm 25 % (resource tasks, host metrics).
Rows are loaded with LOAD DATA LOCAL INFILE from a FIFO the generator writes to, so generation and
loading overlap and nothing of size is written to disk.
"""

import concurrent.futures
import errno
import fcntl
import json
import os
import random
import signal
import shutil
import subprocess
import tempfile
import time

from .db import BenchFailure

GENERATOR_VERSION = 1
CHUNK = 5000
BASE_EPOCH_DAY = 19723          # 2024-01-01
MARKER = "bench_seed"           # in the rm database

HEX = "0123456789abcdef"
STEPS = ("STRUCT_MIGRATION", "FULL_MIGRATION", "INCR_SYNC", "FULL_VERIFY", "REVERSE_INCR",
         "INDEX_TRANSFER", "TRANSFER_APP_SWITCH")
STATES = ("RUNNING", "FINISHED", "FAILED", "SUSPEND", "INIT", "RELEASED")
TASKS = ("supervisor", "store", "connector", "jdbc_writer", "checker", "incr_sync", "full_trans",
         "meta_sync")
METRICS = ("cpu.usage", "mem.used", "disk.used", "net.in", "net.out", "store.delay",
           "connector.rps", "connector.iops", "writer.delay", "jvm.gc")
CFG = ("sink.workerNum", "source.sliceBatchSize", "sink.batchSize", "source.readerThreads",
       "checker.sliceSize", "store.retentionHours", "connector.partitionMode", "jvm.xmx")


def _dt_factory():
    cache = {}

    def dt(sec):
        day, rem = divmod(sec, 86400)
        d = cache.get(day)
        if d is None:
            d = time.strftime("%Y-%m-%d", time.gmtime((BASE_EPOCH_DAY + day) * 86400))
            cache[day] = d
        h, rem = divmod(rem, 3600)
        m, s = divmod(rem, 60)
        return "%s %02d:%02d:%02d" % (d, h, m, s)
    return dt


def _ip(r):
    return "10.%d.%d.%d" % (r.getrandbits(4), r.getrandbits(8), 1 + r.getrandbits(7))


# Each generator: (rng, first row index, count) -> TSV text. No tab, newline or backslash in values.
def gen_step_log(r, first, n):
    dt = _dt_factory()
    rb, ch = r.getrandbits, r.choice
    out = []
    for i in range(first, first + n):
        pid = "np_%010x" % rb(40)
        step = ch(STEPS)
        t = i * 7
        detail = ('{"projectId":"%s","step":"%s","progress":%d,"delaySec":%d,"checkpoint":%d,'
                  '"traceId":"%032x","workers":[%s],"message":"%s"}'
                  % (pid, step, rb(7), rb(12), 1704067200 + t, rb(128),
                     ",".join(str(rb(10)) for _i in range(1 + rb(3))), "ok " * rb(5)))
        out.append("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
            i + 1, pid, step, ch(STATES), dt(t), dt(t + rb(10)),
            "step %s of %s is %s" % (step, pid, ch(STATES).lower()), detail))
    return "".join(out)


def gen_task_config(r, first, n):
    dt = _dt_factory()
    rb, ch = r.getrandbits, r.choice
    out = []
    for i in range(first, first + n):
        tid = "t_%012x" % rb(48)
        kv = ",".join('"%s":"%x"' % (ch(CFG), rb(24)) for _i in range(6 + rb(3)))
        value = '{"taskId":"%s",%s,"extra":"%s"}' % (tid, kv, "%064x" % rb(256))
        out.append("%d\t%s\t%s\t%s\t%s\n" % (i + 1, tid, ch(CFG), value, dt(i * 11)))
    return "".join(out)


def gen_resource_task(r, first, n):
    dt = _dt_factory()
    rb, ch = r.getrandbits, r.choice
    out = []
    for i in range(first, first + n):
        task = ch(TASKS)
        ip = _ip(r)
        params = ('{"name":"%s-%x","host":"%s","port":%d,"mem":%d,"args":"-Xmx%dg -Dfoo=%x",'
                  '"subtopic":"%s_%x","checksum":"%040x"}'
                  % (task, rb(24), ip, 17000 + rb(10), 1 << (8 + rb(3)), 1 + rb(4), rb(32),
                     task, rb(16), rb(160)))
        t = i * 5
        out.append("%d\t%s-%x\t%s\t%s\t%s\t%s\t%s\n" % (
            i + 1, task, rb(24), ip, ch(STATES), dt(t), dt(t + rb(12)), params))
    return "".join(out)


def gen_host_metric(r, first, n):
    dt = _dt_factory()
    rb, ch = r.getrandbits, r.choice
    out = []
    for i in range(first, first + n):
        out.append("%d\t%s\t%s\t%d.%02d\t%s\n" % (
            i + 1, _ip(r), ch(METRICS), rb(14), rb(6) % 100, dt(i)))
    return "".join(out)


def gen_heart_beat_history(r, first, n):
    dt = _dt_factory()
    rb, ch = r.getrandbits, r.choice
    out = []
    for i in range(first, first + n):
        task = ch(TASKS)
        t = i * 2
        content = ('{"pid":%d,"uptime":%d,"load":%d.%02d,"memUsed":%d,"delay":%d,'
                   '"checkpoint":%d,"session":"%024x"}'
                   % (rb(16), rb(20), rb(3), rb(6) % 100, rb(30), rb(10), 1704067200 + t,
                      rb(96)))
        out.append("%d\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
            i + 1, task, _ip(r), ch(("ONLINE", "ONLINE", "ONLINE", "OFFLINE")), dt(t),
            dt(t + 1), content))
    return "".join(out)


def gen_heatbeat_sequence(r, first, n):
    dt = _dt_factory()
    out = []
    for i in range(first, first + n):
        out.append("%s\t%s\n" % (dt(i), dt(i)))
    return "".join(out)


# (role, table, share of the total, DDL columns, load columns, generator)
TABLES = (
    ("rm", "bench_project_step_log", 0.20,
     "id BIGINT PRIMARY KEY, project_id VARCHAR(32) NOT NULL, step_name VARCHAR(64), "
     "status VARCHAR(16), gmt_created DATETIME, gmt_modified DATETIME, message VARCHAR(255), "
     "detail TEXT, KEY idx_project (project_id)",
     "id, project_id, step_name, status, gmt_created, gmt_modified, message, detail",
     gen_step_log),
    ("rm", "bench_task_config", 0.10,
     "id BIGINT PRIMARY KEY, task_id VARCHAR(48) NOT NULL, cfg_name VARCHAR(128), "
     "cfg_value TEXT, gmt_modified DATETIME",
     "id, task_id, cfg_name, cfg_value, gmt_modified", gen_task_config),
    ("cm", "bench_resource_task", 0.15,
     "id BIGINT PRIMARY KEY, task_name VARCHAR(128) NOT NULL, ip VARCHAR(15), "
     "status VARCHAR(16), gmt_created DATETIME, gmt_modified DATETIME, params TEXT",
     "id, task_name, ip, status, gmt_created, gmt_modified, params", gen_resource_task),
    ("cm", "bench_host_metric", 0.10,
     "id BIGINT PRIMARY KEY, ip VARCHAR(15), metric VARCHAR(48), value DOUBLE, "
     "gmt_created DATETIME, KEY idx_ip_time (ip, gmt_created)",
     "id, ip, metric, value, gmt_created", gen_host_metric),
    ("cm_hb", "bench_heart_beat_history", 0.44,
     "id BIGINT PRIMARY KEY, task_name VARCHAR(128), ip VARCHAR(15), status VARCHAR(16), "
     "gmt_created DATETIME, gmt_modified DATETIME, content VARCHAR(512)",
     "id, task_name, ip, status, gmt_created, gmt_modified, content", gen_heart_beat_history),
)
# The simulator's heartbeat table (procedure step 2.2 prunes it): ~1 % of the total.
HB_SEQ = ("cm_hb", "heatbeat_sequence", 0.01,
          "id BIGINT AUTO_INCREMENT PRIMARY KEY, gmt_created DATETIME, gmt_modified DATETIME",
          "gmt_created, gmt_modified", gen_heatbeat_sequence)

GENERATORS = {t[1]: t[5] for t in TABLES + (HB_SEQ,)}


def _rng(seed, table, chunk):
    return random.Random("%s:%s:%d:%d" % (seed, table, chunk, GENERATOR_VERSION))


def generate(seed, table, first, last):
    """Yield TSV text for rows [first, last) of `table`, chunk by chunk (deterministic)."""
    gen = GENERATORS[table]
    i = first
    while i < last:
        chunk = i // CHUNK
        end = min(last, (chunk + 1) * CHUNK)
        r = _rng(seed, table, chunk)
        text = gen(r, chunk * CHUNK, end - chunk * CHUNK)
        if i > chunk * CHUNK:  # resume inside a chunk: drop the rows already loaded
            text = "".join(text.splitlines(True)[i - chunk * CHUNK:])
        yield text
        i = end


def plan(seed, size_bytes):
    """{table: rows} so that the generated text is about `size_bytes` in the shares above."""
    rows = {}
    for _role, table, share, _ddl, _cols, gen in TABLES + (HB_SEQ,):
        sample = gen(_rng(seed, table, 0), 0, CHUNK)
        avg = len(sample.encode()) / float(CHUNK)
        rows[table] = max(CHUNK // 5, int(share * size_bytes / avg))
    return rows


# how long the loader waits for `mysql` to open the FIFO (it connects first); the client's own
# connect timeout is shorter, so this only bounds a client that hangs without failing
FIFO_OPEN_SECONDS = 120
FIFO_POLL = 0.05


def _die_with_parent():
    """In the mysql child: SIGKILL when the loader process dies (Linux PR_SET_PDEATHSIG), so a
    loader stopped after another one failed leaves no mysql waiting for its FIFO for ever."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def open_fifo_for_writing(fifo, proc, timeout=FIFO_OPEN_SECONDS, poll=FIFO_POLL):
    """The FIFO's write end, once `proc` (the reader) has opened it; None when `proc` exited first.

    A plain open() for writing blocks until a reader opens the FIFO: when `mysql` fails before
    (bad login, LOAD DATA LOCAL refused, the server gone) nobody ever does, and the loader hung
    for ever with a defunct `mysql`. O_NONBLOCK answers ENXIO at once while there is no reader, so
    the loader polls, and checks the client between tries.
    """
    deadline = time.time() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        else:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # blocking writes from here
            return fd
        if proc.poll() is not None:
            return None
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            raise BenchFailure("mysql did not open %s within %d s" % (fifo, timeout))
        time.sleep(poll)


def _load_worker(args):
    """Generate rows [first, last) into a FIFO that `mysql` LOAD DATA LOCAL INFILE reads."""
    mysql_cmd, db, table, cols, seed, first, last = args[:7]
    session_sql = args[7] if len(args) > 7 else ""
    tmp = tempfile.mkdtemp(prefix="obbench-fifo-")
    fifo = os.path.join(tmp, table + ".tsv")
    os.mkfifo(fifo, 0o600)
    sql = (session_sql + "SET SESSION unique_checks=0; SET SESSION foreign_key_checks=0; "
           "LOAD DATA LOCAL INFILE '%s' INTO TABLE `%s` CHARACTER SET utf8mb4 "
           "FIELDS TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' (%s); "
           "SHOW WARNINGS;" % (fifo, table, cols))
    t0 = time.time()
    written = 0
    # stdout and stderr go to files: a client that writes much must not block on a full pipe
    # while this process writes the FIFO
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(mysql_cmd + ["--local-infile=1", "--batch", db, "-e", sql],
                                stdout=out_f, stderr=err_f, preexec_fn=_die_with_parent)
        try:
            fd = open_fifo_for_writing(fifo, proc)
            if fd is not None:
                try:
                    with os.fdopen(fd, "w") as f:
                        for text in generate(seed, table, first, last):
                            f.write(text)
                            written += len(text)
                except BrokenPipeError:
                    pass  # mysql stopped reading: its exit code and stderr say why
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise BenchFailure("loading %s.%s failed (mysql rc %s): %s"
                           % (db, table, proc.returncode, err.decode(errors="replace").strip()))
    if fd is None:
        raise BenchFailure("loading %s.%s failed: mysql exited (rc 0) without reading the rows: %s"
                           % (db, table, (err or out).decode(errors="replace").strip()))
    if out.strip():
        raise BenchFailure("loading %s.%s gave warnings: %s" % (db, table, out.decode()[:500]))
    return table, last - first, written, time.time() - t0


def run_loaders(jobs, workers):
    """_load_worker over `jobs` in a process pool; the first failure ends the seed at once.

    The other loaders are stopped rather than waited for: their client's error is the one the
    benchmark reports, and a half-loaded table is reloaded by the next run (the marker is only
    written after every loader succeeded).
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
    results = []
    try:
        futures = [pool.submit(_load_worker, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            results.append(future.result())
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def _marker(metadb):
    rm = metadb.dbs["rm"]
    metadb.query("CREATE TABLE IF NOT EXISTS `%s` (k VARCHAR(64) PRIMARY KEY, v TEXT)" % MARKER,
                 db=rm)
    rows = metadb.query("SELECT v FROM `%s` WHERE k = 'state'" % MARKER, db=rm)
    return json.loads(rows[0][0]) if rows else None


def _set_marker(metadb, state):
    metadb.query("REPLACE INTO `%s` (k, v) VALUES ('state', %%s)" % MARKER,
                 (json.dumps(state, sort_keys=True),), db=metadb.dbs["rm"])


def seed(metadb, seed_value, size_bytes, log=print, workers=3, loader=None):
    """Bring the bench tables to exactly plan(seed, size) rows; grow in place when possible.

    `loader`: the MetaDB login whose mysql client loads the rows (default `metadb`'s).

    Returns {table: rows, "_seconds": load time, "_bytes": text bytes loaded this time}.
    """
    want = plan(seed_value, size_bytes)
    state = _marker(metadb)
    have = {}
    fresh = (state is None or state.get("seed") != seed_value
             or state.get("version") != GENERATOR_VERSION
             or any(state.get("rows", {}).get(t, 0) > want[t] for t in want if t != HB_SEQ[1]))
    if not fresh:
        have = dict(state["rows"])
        # verify the marker still tells the truth (a reset or a failed restore may have changed it)
        for role, table, *_rest in TABLES:
            if table not in metadb.tables(role) or metadb.table_rows(role, table) != have.get(table):
                fresh = True
                break
    if fresh:
        have = {}
        for role, table, _share, ddl, _cols, _gen in TABLES:
            db = metadb.dbs[role]
            metadb.query("DROP TABLE IF EXISTS `%s`" % table, db=db)
            metadb.query("CREATE TABLE `%s` (%s) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
                         % (table, ddl), db=db)
    hb_role, hb_table, _s, hb_ddl, hb_cols, _g = HB_SEQ
    if hb_table not in metadb.tables(hb_role):  # a bare MetaDB (no simulator schema)
        metadb.query("CREATE TABLE `%s` (%s) ENGINE=InnoDB" % (hb_table, hb_ddl),
                     db=metadb.dbs[hb_role])
    jobs = []
    for role, table, _share, _ddl, cols, _gen in TABLES:
        first = have.get(table, 0)
        if want[table] > first:
            jobs.append(((loader or metadb).mysql_cmd(), metadb.dbs[role], table, cols, seed_value, first,
                         want[table], (loader or metadb).session_sql))
    hb_have = metadb.table_rows(hb_role, hb_table)
    if want[hb_table] > hb_have:
        jobs.append(((loader or metadb).mysql_cmd(), metadb.dbs[hb_role], hb_table, hb_cols, seed_value,
                     hb_have, want[hb_table], (loader or metadb).session_sql))
    t0 = time.time()
    written = 0
    if jobs:
        # biggest first, so the pool's tail is short
        jobs.sort(key=lambda j: -(j[6] - j[5]))
        log("seeding %d table(s), %d rows (seed %s, target %.0f MB) ..."
            % (len(jobs), sum(j[6] - j[5] for j in jobs), seed_value, size_bytes / 1e6))
        for table, n, nbytes, secs in run_loaders(jobs, workers):
            written += nbytes
            log("  %-26s +%9d rows %8.1f MB in %5.1f s" % (table, n, nbytes / 1e6, secs))
    rows = {t: want[t] for t in want if t != hb_table}
    _set_marker(metadb, {"seed": seed_value, "version": GENERATOR_VERSION, "rows": rows,
                         "size_bytes": size_bytes})
    out = dict(rows)
    out[hb_table] = max(want[hb_table], hb_have)
    out["_seconds"] = round(time.time() - t0, 2)
    out["_bytes"] = written
    return out


def top_up_heartbeat_sequence(metadb, seed_value, size_bytes):
    """Put heatbeat_sequence back to its planned row count (a restore after a prune empties it)."""
    want = plan(seed_value, size_bytes)[HB_SEQ[1]]
    role, table, _s, _d, cols, _g = HB_SEQ
    have = metadb.table_rows(role, table)
    if want > have:
        _load_worker((metadb.mysql_cmd(), metadb.dbs[role], table, cols, seed_value, have, want))
    return want


def prune_heartbeat_sequence(metadb):
    """Procedure step 2.2: delete from heatbeat_sequence where id < (select max(id) ...)."""
    db = metadb.dbs["cm_hb"]
    top = metadb.query("SELECT MAX(id) FROM heatbeat_sequence", db=db)[0][0]
    if top is None:
        return 0
    conn = metadb.connect(db)
    try:
        with conn.cursor() as cur:
            return cur.execute("DELETE FROM heatbeat_sequence WHERE id < %s", (top,))
    finally:
        conn.close()
