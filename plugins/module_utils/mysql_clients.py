# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the mysqldump and mysql clients, streaming through a compressor, without secrets in argv.

Each client's first argument is --defaults-extra-file pointing at the 0600 file from
metadb.client_defaults_file(); nothing else carries the password, and the environment passed on
has no MYSQL_PWD. Data flows file <-> (compressor) <-> client through pipes and file descriptors,
never through this process's memory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import tempfile
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

STDERR_TAIL = 2000

COMPRESSORS = {
    # compress to stdout / decompress to stdout; one thread each, the three dumps run side by side
    "gzip": (["gzip", "-c", "-6"], ["gzip", "-d", "-c"]),
    "zstd": (["zstd", "-q", "-c", "-3"], ["zstd", "-q", "-d", "-c"]),
}


def client_env():
    """The environment for the clients: ours minus anything that could carry a password."""
    env = dict(os.environ)
    for key in ("MYSQL_PWD", "MYSQL_HOST"):
        env.pop(key, None)
    return env


def dump_command(mysqldump, defaults_file, database, triggers=False, extra_args=None):
    """argv for mysqldump of one database as the procedure's step 2.3 does, minus the password."""
    cmd = [mysqldump, "--defaults-extra-file=%s" % defaults_file,
           "--single-transaction", "--quick",
           "--triggers" if triggers else "--skip-triggers",
           # OMS's tables hold binary columns; hex keeps them intact across character sets
           "--hex-blob", "--default-character-set=utf8mb4",
           # MySQL 8 wants the PROCESS privilege for tablespaces; OMS's databases have none
           "--no-tablespaces"]
    cmd.extend(extra_args or [])
    cmd.append(database)
    return cmd


def load_command(mysql, defaults_file, database):
    """argv for mysql loading a dump from stdin into `database` (step 9.4, without -e source)."""
    return [mysql, "--defaults-extra-file=%s" % defaults_file, "--default-character-set=utf8mb4",
            "--database=%s" % database]


def compressor_command(compress, paths=None, decompress=False):
    base = list(COMPRESSORS[compress][1 if decompress else 0])
    if paths and paths.get(compress):
        base[0] = paths[compress]
    return base


def _tail(fileobj):
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(0, size - STDERR_TAIL))
    return fileobj.read().decode("utf-8", "replace").strip()


def _start(argv, what, **kwargs):
    try:
        return subprocess.Popen(argv, env=client_env(), close_fds=True, **kwargs)
    except OSError as e:
        raise OmsError("Cannot run %s (%s): %s" % (what, argv[0], e.strerror or e),
                       "Install it on the OMS host or give its path (mysqldump_path, mysql_path)")


def run_dump_to_file(dump_argv, out_path, compress="none", paths=None):
    """mysqldump [| compressor] > out_path (created 0600, must not exist). Returns seconds taken."""
    started = time.time()
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    err_dump = tempfile.TemporaryFile()
    err_comp = tempfile.TemporaryFile()
    try:
        if compress == "none":
            dump = _start(dump_argv, "mysqldump", stdout=fd, stderr=err_dump)
            comp = None
        else:
            dump = _start(dump_argv, "mysqldump", stdout=subprocess.PIPE, stderr=err_dump)
            try:
                comp = _start(compressor_command(compress, paths), compress, stdin=dump.stdout,
                              stdout=fd, stderr=err_comp)
            except OmsError:
                dump.kill()
                dump.wait()
                raise
            dump.stdout.close()  # the compressor holds the read end now
        rc_dump = dump.wait()
        rc_comp = comp.wait() if comp else 0
        if rc_dump != 0:
            raise OmsError("mysqldump of %s failed (rc %s): %s" % (dump_argv[-1], rc_dump, _tail(err_dump)),
                           "Fix the cause above (MetaDB reachable, user privileges, disk space) and run again")
        if rc_comp != 0:
            raise OmsError("%s of the dump of %s failed (rc %s): %s"
                           % (compress, dump_argv[-1], rc_comp, _tail(err_comp)),
                           "Check disk space in the backup directory and the %s binary" % compress)
        os.fsync(fd)
    finally:
        os.close(fd)
        err_dump.close()
        err_comp.close()
    return time.time() - started


def run_load_from_file(load_argv, in_path, compress="none", paths=None):
    """[decompressor <] in_path | mysql. Returns seconds taken."""
    started = time.time()
    err_load = tempfile.TemporaryFile()
    err_comp = tempfile.TemporaryFile()
    src = open(in_path, "rb")
    try:
        if compress == "none":
            load = _start(load_argv, "mysql", stdin=src, stdout=subprocess.DEVNULL, stderr=err_load)
            comp = None
        else:
            comp = _start(compressor_command(compress, paths, decompress=True), compress, stdin=src,
                          stdout=subprocess.PIPE, stderr=err_comp)
            try:
                load = _start(load_argv, "mysql", stdin=comp.stdout, stdout=subprocess.DEVNULL,
                              stderr=err_load)
            except OmsError:
                comp.kill()
                comp.wait()
                raise
            comp.stdout.close()
        rc_load = load.wait()
        rc_comp = comp.wait() if comp else 0
        if rc_load != 0:
            database = load_argv[-1].split("=", 1)[-1]
            raise OmsError("Loading %s into %s failed (rc %s): %s" % (in_path, database, rc_load, _tail(err_load)),
                           "The database is now partly restored: fix the cause and run the restore "
                           "again (it drops and reloads that database)")
        if rc_comp != 0:
            raise OmsError("Decompressing %s failed (rc %s): %s" % (in_path, rc_comp, _tail(err_comp)),
                           "Check the file and the %s binary, then run the restore again" % compress)
    finally:
        src.close()
        err_load.close()
        err_comp.close()
    return time.time() - started
