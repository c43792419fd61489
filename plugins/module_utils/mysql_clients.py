# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the mysqldump and mysql clients, streaming through a compressor, without secrets in argv.

Each client's first argument is --defaults-file pointing at the 0600 file from
metadb.client_defaults_file(): the clients read that file and no other, so a ~/.my.cnf or
/etc/mysql/my.cnf on the OMS host cannot send them to another server or user. Nothing else carries
the password, and the environment passed on has no MYSQL_PWD. A load flows file -> (decompressor) -> mysql through pipes and file descriptors;
a dump flows through this process in fixed-size chunks, so that it is hashed and checked while it
is written, without reading the file back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import functools
import hashlib
import os
import subprocess
import tempfile
import threading
import time

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_files, metadb_engine

STDERR_TAIL = 2000
WRITEBACK_EVERY = 16 * 1024 * 1024
FOLLOW_PAUSE = 0.01  # the reader caught up with mysqldump: about 1 MB more is written by then
PIPE_SIZE = 1024 * 1024
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; Python < 3.10 lacks the name

COMPRESSORS = {
    # compress to stdout / decompress to stdout; one thread each, the three dumps run side by side
    "gzip": (["gzip", "-c", "-6"], ["gzip", "-d", "-c"]),
    "zstd": (["zstd", "-q", "-c", "-3"], ["zstd", "-q", "-d", "-c"]),
}


def find_clients(module, names, compress="none"):
    """Paths of the clients `names` (mysqldump, mysql: the options NAME_path, else PATH) and of the
    compressor, found before anything changes: a missing one fails the module now."""
    paths = {}
    for name in names:
        paths[name] = module.params.get(name + "_path") or module.get_bin_path(name, required=True)
        if not os.access(paths[name], os.X_OK):
            module.fail_json(msg="%s is not an executable file. Install the MySQL/MariaDB client or give "
                                 "%s_path (oms_upgrade_%s_path, oms_rollback_%s_path)" % (paths[name], name, name, name))
    if compress in COMPRESSORS:
        paths[compress] = module.get_bin_path(compress, required=True)
    return paths


def client_env():
    """The environment for the clients: ours minus anything that could carry a password."""
    env = dict(os.environ)
    for key in ("MYSQL_PWD", "MYSQL_HOST"):
        env.pop(key, None)
    return env


def dump_command(mysqldump, defaults_file, database, triggers=False, extra_args=None):
    """argv for mysqldump of one database as the procedure's step 2.3 does, minus the password."""
    cmd = [mysqldump, "--defaults-file=%s" % defaults_file,
           "--single-transaction", "--quick",
           # the same database dumps to the same bytes: no date in the completion line, rows in
           # primary-key order (the order clustered engines read them in anyway), so a re-dump
           # after a restore can be compared with the file (dump_digest)
           "--skip-dump-date", "--order-by-primary",
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
    return [mysql, "--defaults-file=%s" % defaults_file, "--default-character-set=utf8mb4",
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


def client_failure_hint(stderr_text, default):
    """What to do after a client failed: the OceanBase timeout's own hint when that killed it."""
    variable = metadb_engine.timeout_variable(None, stderr_text)
    return metadb_engine.timeout_hint(variable) if variable else default


def _start(argv, what, **kwargs):
    try:
        # The dump and the restore pipe mysqldump, the compressor and mysql into each other (GBs):
        # run_command buffers all output and connects no processes.
        # pylint: disable-next=ansible-bad-function
        return subprocess.Popen(argv, env=client_env(), close_fds=True, **kwargs)
    except OSError as e:
        raise OmsError("Cannot run %s (%s): %s" % (what, argv[0], e.strerror or e),
                       "Install it on the OMS host or give its path (mysqldump_path, mysql_path: the "
                       "inventory's oms_upgrade_mysqldump_path, oms_upgrade_mysql_path, or the "
                       "oms_rollback_ ones)")


def _grow_pipe(fd):
    """Ask Linux for a 1 MiB pipe (64 KiB by default): fewer, larger reads and writes."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except (AttributeError, IOError, OSError, ValueError):
        pass


def _write_all(fd, data):
    view = memoryview(data)
    while len(view):
        view = view[os.write(fd, view):]


class _HashingSink(object):
    """Writes what it is given to the file descriptor and hashes it, in the same pass.

    Every WRITEBACK_EVERY bytes it asks the kernel to start writing what it was given to disk (and
    to drop those pages from the cache once written), so that the fsync at the end, which makes
    the dump durable before the new container migrates the databases, waits for the last few
    megabytes instead of the whole file: about 1.1 s less inside the window per GB of dump here.
    """

    def __init__(self, fd):
        self.fd = fd
        self.digest = hashlib.sha256()
        self.size = 0
        self.written_back = 0

    def write(self, data):
        self.digest.update(data)
        self.size += len(data)
        _write_all(self.fd, data)
        if self.size - self.written_back >= WRITEBACK_EVERY:
            _start_writeback(self.fd, self.written_back, self.size - self.written_back)
            self.written_back = self.size

    def copy(self, data, src_fd, src_offset):
        """As write(data), the bytes copied from src_fd at src_offset by the kernel."""
        self.digest.update(data)
        left, offset = len(data), src_offset
        while left:
            try:
                n = os.copy_file_range(src_fd, self.fd, left, offset)
            except (AttributeError, OSError) as e:
                if isinstance(e, OSError) and e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                _write_all(self.fd, data[len(data) - left:])  # no copy_file_range here: write it
                n = left
            if n <= 0:
                raise IOError(errno.EIO, "copy_file_range copied nothing")
            left -= n
            offset += n
        self.size += len(data)
        if self.size - self.written_back >= WRITEBACK_EVERY:
            _start_writeback(self.fd, self.written_back, self.size - self.written_back)
            self.written_back = self.size


def _start_writeback(fd, offset, length):
    """Linux starts writing dirty pages back, without waiting, on POSIX_FADV_DONTNEED."""
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):
        pass  # another OS: the final fsync does it all


def _pump(src_fd, sink, errors, on_error):
    """Thread body: the compressor's output into the sink until EOF; the first error in errors."""
    try:
        while True:
            data = os.read(src_fd, dump_files.CHUNK)
            if not data:
                return
            sink.write(data)
    except Exception as e:  # pylint: disable=broad-except
        errors.append(e)
        on_error()  # the compressor must not block on a full pipe nobody reads any more


def _stop(proc):
    if proc is not None and proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()


def _dump_failed(dump_argv, rc, err_file):
    text = _tail(err_file)
    return OmsError("mysqldump of %s failed (rc %s): %s" % (dump_argv[-1], rc, text),
                    client_failure_hint(text, "Fix the cause above (MetaDB reachable, user "
                                              "privileges, disk space) and run again"))


def _write_failed(dump_argv, out_path, e):
    return OmsError("Writing the dump of %s to %s failed: %s" % (dump_argv[-1], out_path, getattr(e, "strerror", None) or e),
                    "Check disk space in the backup directory (oms_backup_dir) and run again")


def _dump_straight_to_file(dump_argv, out_path):
    """mysqldump > out_path, verified as it is written: mysqldump writes the file itself, as the
    manual procedure's `mysqldump ... > file` does, and this process reads the file behind it
    (CHUNK at a time, from the page cache) for the scanner and the sha256. Relaying the output
    through this process instead cost 3.5 s per GB on 2 cores (a dump alone: 13.1 s against
    mysqldump's 9.6 s); reading behind the writer costs a read of the cache, on the other core.
    """
    started = time.time()
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    err_dump = tempfile.TemporaryFile()
    scanner = dump_files.DumpScanner()
    digest = hashlib.sha256()
    size = written_back = 0
    dump = None
    try:
        rfd = os.open(out_path, os.O_RDONLY)
        try:
            dump = _start(dump_argv, "mysqldump", stdout=fd, stderr=err_dump)
            ended = False
            while True:
                data = os.read(rfd, dump_files.CHUNK)
                if data:
                    scanner.feed(data)
                    digest.update(data)
                    size += len(data)
                    if size - written_back >= WRITEBACK_EVERY:
                        _start_writeback(rfd, written_back, size - written_back)
                        written_back = size
                    continue
                if ended:
                    break  # mysqldump has exited and everything it wrote has been read
                # at the end of what is written so far: wait for more, or for mysqldump's exit
                # (checked before the last read, so nothing written before it is missed)
                ended = dump.poll() is not None
                if not ended:
                    time.sleep(FOLLOW_PAUSE)
        finally:
            os.close(rfd)
        rc_dump = dump.wait()
        if rc_dump != 0:
            raise _dump_failed(dump_argv, rc_dump, err_dump)
        os.fsync(fd)
    except (IOError, OSError) as e:
        raise _write_failed(dump_argv, out_path, e)
    finally:
        _stop(dump)
        os.close(fd)
        err_dump.close()
    return {"seconds": time.time() - started, "sha256": digest.hexdigest(), "size": size,
            "scan": scanner.result()}


def run_dump_to_file(dump_argv, out_path, compress="none", paths=None):
    """mysqldump [| compressor] > out_path (created 0600, must not exist), verified as it is written.

    This process reads mysqldump's output in chunks of dump_files.CHUNK and, in the same pass,
    feeds it to a dump_files.DumpScanner (completion line, CREATE TABLE count) and either writes
    it to the file or hands it to the compressor, whose output a thread writes to the file. The
    sha256 and size are of the bytes as stored. Nothing is read back; memory stays flat.
    Returns {"seconds", "sha256", "size", "scan"}; the file is fsynced. Without compression,
    mysqldump writes the file itself and this process reads it behind it (_dump_straight_to_file).
    """
    if compress == "none":
        return _dump_straight_to_file(dump_argv, out_path)
    started = time.time()
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    err_dump = tempfile.TemporaryFile()
    err_comp = tempfile.TemporaryFile()
    scanner = dump_files.DumpScanner()
    sink = _HashingSink(fd)
    dump = comp = pump = None
    pump_errors = []
    try:
        dump = _start(dump_argv, "mysqldump", stdout=subprocess.PIPE, stderr=err_dump)
        src = dump.stdout.fileno()
        _grow_pipe(src)
        if compress != "none":
            comp = _start(compressor_command(compress, paths), compress, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=err_comp)
            _grow_pipe(comp.stdin.fileno())
            _grow_pipe(comp.stdout.fileno())
            pump = threading.Thread(target=_pump, args=(comp.stdout.fileno(), sink, pump_errors,
                                                        functools.partial(_stop, comp)))
            pump.daemon = True
            pump.start()
            target = comp.stdin.fileno()
        compressor_gone = False
        while True:
            data = os.read(src, dump_files.CHUNK)
            if not data:
                break
            scanner.feed(data)
            if comp is None:
                sink.write(data)
                continue
            try:
                _write_all(target, data)
            except OSError as e:
                if e.errno != errno.EPIPE:
                    raise
                compressor_gone = True  # its exit code and stderr say why
                break
        if compressor_gone:
            _stop(dump)
        dump.stdout.close()
        rc_dump = dump.wait()
        rc_comp = 0
        if comp is not None:
            comp.stdin.close()
            pump.join()
            comp.stdout.close()
            rc_comp = comp.wait()
        if pump_errors:
            e = pump_errors[0]
            raise OmsError("Writing the dump of %s to %s failed: %s"
                           % (dump_argv[-1], out_path, getattr(e, "strerror", None) or e),
                           "Check disk space in the backup directory (oms_backup_dir) and run again")
        if rc_comp != 0:
            raise OmsError("%s of the dump of %s failed (rc %s): %s"
                           % (compress, dump_argv[-1], rc_comp, _tail(err_comp)),
                           "Check disk space in the backup directory (oms_backup_dir) and the %s binary" % compress)
        if rc_dump != 0:
            raise _dump_failed(dump_argv, rc_dump, err_dump)
        os.fsync(fd)
    except (IOError, OSError) as e:
        raise _write_failed(dump_argv, out_path, e)
    finally:
        _stop(dump)
        _stop(comp)
        if pump is not None:
            pump.join()
        for proc in (dump, comp):
            if proc is not None:
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        pipe.close()
        os.close(fd)
        err_dump.close()
        err_comp.close()
    return {"seconds": time.time() - started, "sha256": sink.digest.hexdigest(), "size": sink.size,
            "scan": scanner.result()}


def run_load_from_file(load_argv, in_path, compress="none", paths=None, line_filter=None):
    """[decompressor <] in_path [| line_filter] | mysql. Returns seconds taken.

    line_filter(line) -> bytes rewrites each line of the dump on its way to mysql (the restore
    ahead loads the tables under other names, restore_ahead.py); it may raise OmsError, which
    stops the load."""
    started = time.time()
    err_load = tempfile.TemporaryFile()
    err_comp = tempfile.TemporaryFile()
    src = open(in_path, "rb")
    comp = load = None
    try:
        source = src
        if compress != "none":
            comp = _start(compressor_command(compress, paths, decompress=True), compress, stdin=src,
                          stdout=subprocess.PIPE, stderr=err_comp)
            source = comp.stdout
        try:
            load = _start(load_argv, "mysql", stdin=source if line_filter is None else subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=err_load)
        except OmsError:
            if comp is not None:
                comp.kill()
                comp.wait()
            raise
        if line_filter is not None:
            _feed_filtered(source, load, line_filter)
        if comp is not None:
            comp.stdout.close()
        rc_load = load.wait()
        rc_comp = comp.wait() if comp else 0
        if rc_load != 0:
            database = load_argv[-1].split("=", 1)[-1]
            text = _tail(err_load)
            raise OmsError("Loading %s into %s failed (rc %s): %s" % (in_path, database, rc_load, text),
                           client_failure_hint(text, "The database is now partly restored: fix the "
                                                     "cause and run the restore again (it drops and "
                                                     "reloads that database)"))
        if rc_comp != 0:
            raise OmsError("Decompressing %s failed (rc %s): %s" % (in_path, rc_comp, _tail(err_comp)),
                           "Check the file and the %s binary, then run the restore again" % compress)
    finally:
        for proc in (comp, load):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        src.close()
        err_load.close()
        err_comp.close()
    return time.time() - started


def _feed_filtered(source, load, line_filter):
    """Every line of `source` through line_filter into load's stdin. When mysql exits early (a
    broken pipe), its exit code and stderr say why; the caller reports them."""
    try:
        for line in source:
            load.stdin.write(line_filter(line))
    except BrokenPipeError:
        pass
    except OmsError:
        load.kill()
        raise
    finally:
        try:
            load.stdin.close()
        except BrokenPipeError:
            pass


def run_dump_to_stream(dump_argv, feed):
    """mysqldump, its output handed chunk by chunk to `feed` and written nowhere. Returns seconds.

    Used after a restore: the restored database is dumped again with the same options and its
    content digest compared with the file's, without a second copy on disk.
    """
    started = time.time()
    err_dump = tempfile.TemporaryFile()
    dump = None
    try:
        dump = _start(dump_argv, "mysqldump", stdout=subprocess.PIPE, stderr=err_dump)
        src = dump.stdout.fileno()
        _grow_pipe(src)
        while True:
            data = os.read(src, dump_files.CHUNK)
            if not data:
                break
            feed(data)
        dump.stdout.close()
        rc = dump.wait()
        if rc != 0:
            text = _tail(err_dump)
            raise OmsError("mysqldump of %s (to compare it with its backup) failed (rc %s): %s"
                           % (dump_argv[-1], rc, text),
                           client_failure_hint(text, "Fix the cause above and run the restore again"))
    finally:
        _stop(dump)
        err_dump.close()
    return time.time() - started


def run_piece(dump_argv, out_path):
    """mysqldump > out_path (a piece of a dump, created 0600); OmsError with its stderr on failure.

    Returns the seconds it took. The piece's completion line is checked where it is put together
    (metadb_dump), which reads it anyway.
    """
    started = time.time()
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    err_dump = tempfile.TemporaryFile()
    dump = None
    try:
        dump = _start(dump_argv, "mysqldump", stdout=fd, stderr=err_dump)
        rc = dump.wait()
        if rc != 0:
            raise _dump_failed(dump_argv, rc, err_dump)
    finally:
        _stop(dump)
        os.close(fd)
        err_dump.close()
    return time.time() - started


class AssemblySink(object):
    """Where a dump put together from pieces goes: a file (through a compressor or not), hashed
    and scanned as it is written, or only fed to a content digest (`feed`, no file).

    write(data) takes the SQL text in order; close() ends it and returns {"sha256", "size",
    "scan"} of the bytes as stored (the file is fsynced). abort() stops what runs.
    """

    def __init__(self, out_path=None, compress="none", paths=None, feed=None, what="dump"):
        self.out_path = out_path
        self.compress = compress
        self.feed = feed
        self.what = what
        self.scanner = dump_files.DumpScanner() if feed is None else None
        self.fd = None
        self.sink = None
        self.comp = None
        self.pump = None
        self.pump_errors = []
        self.err_comp = None
        if out_path is None:
            return
        self.fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.sink = _HashingSink(self.fd)
        if compress != "none":
            self.err_comp = tempfile.TemporaryFile()
            self.comp = _start(compressor_command(compress, paths), compress, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=self.err_comp)
            _grow_pipe(self.comp.stdin.fileno())
            _grow_pipe(self.comp.stdout.fileno())
            self.pump = threading.Thread(target=_pump, args=(self.comp.stdout.fileno(), self.sink,
                                                             self.pump_errors,
                                                             functools.partial(_stop, self.comp)))
            self.pump.daemon = True
            self.pump.start()

    def write(self, data, scan=True, src_fd=None, src_offset=None):
        """Append `data` (bytes or a memoryview); `scan`: also feed it to the content scanner.

        With src_fd/src_offset (where `data` was read from), a plain file gets the bytes by
        copy_file_range, inside the kernel, instead of a write from this process.
        """
        if self.feed is not None:
            self.feed(bytes(data))
            return
        if scan:
            self.scanner.feed(bytes(data))
        try:
            if self.comp is None:
                if src_fd is not None:
                    self.sink.copy(data, src_fd, src_offset)
                else:
                    self.sink.write(data)
            else:
                _write_all(self.comp.stdin.fileno(), data)
        except (IOError, OSError) as e:
            if self.comp is not None and e.errno == errno.EPIPE:
                raise self._compressor_failed()
            raise OmsError("Writing the %s to %s failed: %s" % (self.what, self.out_path, getattr(e, "strerror", None) or e),
                           "Check disk space in the backup directory (oms_backup_dir) and run again")

    def _compressor_failed(self):
        rc = self.comp.wait()
        return OmsError("%s of the %s failed (rc %s): %s" % (self.compress, self.what, rc, _tail(self.err_comp)),
                        "Check disk space in the backup directory (oms_backup_dir) and the %s binary" % self.compress)

    def close(self):
        if self.out_path is None:
            return None
        try:
            if self.comp is not None:
                self.comp.stdin.close()
                self.pump.join()
                self.comp.stdout.close()
                if self.comp.wait() != 0:
                    raise self._compressor_failed()
                if self.pump_errors:
                    e = self.pump_errors[0]
                    raise OmsError("Writing the %s to %s failed: %s" % (self.what, self.out_path, getattr(e, "strerror", None) or e),
                                   "Check disk space in the backup directory (oms_backup_dir) and run again")
            os.fsync(self.fd)
        except (IOError, OSError) as e:
            raise OmsError("Writing the %s to %s failed: %s" % (self.what, self.out_path, getattr(e, "strerror", None) or e),
                           "Check disk space in the backup directory (oms_backup_dir) and run again")
        finally:
            self.abort()
        return {"sha256": self.sink.digest.hexdigest(), "size": self.sink.size, "scan": self.scanner.result()}

    def abort(self):
        if self.comp is not None:
            _stop(self.comp)
            if self.pump is not None:
                self.pump.join()
            for pipe in (self.comp.stdin, self.comp.stdout):
                if pipe is not None and not pipe.closed:
                    try:
                        pipe.close()
                    except (IOError, OSError):
                        pass
            self.comp = None
        if self.err_comp is not None:
            self.err_comp.close()
            self.err_comp = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
