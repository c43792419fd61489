# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump files and their manifest on disk: naming, verification, sha256, atomic writes.

Pure file work, no database: a dump is trusted only when it is non-empty, ends with mysqldump's
`-- Dump completed` line, holds as many CREATE TABLE statements as the database had tables, and
its sha256 matches the manifest. Everything is read in fixed-size chunks, so memory stays flat
whatever the size of the dump.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import gzip
import hashlib
import json
import os
import re
import subprocess

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_digest

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
SUFFIXES = {"none": ".sql", "gzip": ".sql.gz", "zstd": ".sql.zst"}
CHUNK = 1024 * 1024
COMPLETION_PREFIX = b"-- Dump completed"
# mysqldump writes each table's definition at the start of a line; views' stand-in tables are
# inside /*!50001 ... */ comments and so do not start a line with this
CREATE_TABLE = b"\nCREATE TABLE "
TAIL_BYTES = 4096
HEAD_BYTES = 1024
# mysqldump's header names the server and database it dumped: `-- Host: 10.0.0.1    Database: rm_411`
_HEADER = re.compile(br"^-- Host: (\S*)\s+Database: ([^\r\n]*?)\s*$", re.M)


def parse_header(head):
    """(host, database) from the first bytes of a dump, or (None, None) when it has no header."""
    m = _HEADER.search(head or b"")
    if not m:
        return None, None
    return m.group(1).decode("utf-8", "replace"), m.group(2).decode("utf-8", "replace")


def dump_file_name(database, compress="none"):
    if compress not in SUFFIXES:
        raise OmsError("Unknown compression %r" % compress,
                       "Set oms_upgrade_dump_compress (compress) to one of none, gzip, zstd")
    return database + SUFFIXES[compress]


def compression_of(file_name):
    for compress in ("gzip", "zstd", "none"):
        if file_name.endswith(SUFFIXES[compress]):
            return compress
    raise OmsError("Cannot tell the compression of %s" % file_name,
                   "Dump files end in .sql, .sql.gz or .sql.zst")


class DumpScanner(object):
    """The content checks of a dump, fed chunk by chunk (any sizes), in fixed memory.

    Counts CREATE TABLE at the start of a line, also when the statement is split across two
    chunks, and keeps the last TAIL_BYTES bytes for the completion line.
    """

    KEEP = len(CREATE_TABLE) - 1

    def __init__(self, digest=False):
        self.count = 0
        self.carry = b"\n"  # so that a CREATE TABLE on the very first line counts too
        self.tail = b""
        self.head = b""
        self.size = 0
        # the content digest costs a second pass of hashing: only at rollback, never in the window
        self.digest = dump_digest.ContentDigest() if digest else None

    def feed(self, chunk):
        if not chunk:
            return
        self.size += len(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head = (self.head + chunk)[:HEAD_BYTES]
        if self.digest is not None:
            self.digest.feed(chunk)
        # a match needs KEEP + 1 bytes: one that starts in the carried bytes ends within the
        # chunk's first KEEP bytes, and the carry itself (KEEP bytes) cannot hold a whole one
        self.count += (self.carry + chunk[:self.KEEP]).count(CREATE_TABLE) + chunk.count(CREATE_TABLE)
        if len(chunk) >= self.KEEP:
            self.carry = chunk[-self.KEEP:]
        else:
            self.carry = (self.carry + chunk)[-self.KEEP:]
        if len(chunk) >= TAIL_BYTES:
            self.tail = chunk[-TAIL_BYTES:]
        else:
            self.tail = (self.tail + chunk)[-TAIL_BYTES:]

    def result(self):
        lines = [line for line in self.tail.splitlines() if line.strip()]
        last = lines[-1].decode("utf-8", "replace") if lines else ""
        host, database = parse_header(self.head)
        result = {"create_tables": self.count, "last_line": last,
                  "completed": last.encode("utf-8").startswith(COMPLETION_PREFIX), "content_bytes": self.size,
                  "header_host": host, "header_database": database}
        if self.digest is not None:
            result["content_digest"] = self.digest.hexdigest()
            result["table_names"] = list(self.digest.tables)
        return result


def scan_dump(stream, digest=False):
    """Read a decompressed dump stream; return CREATE TABLE count, last line, completion flag."""
    scanner = DumpScanner(digest)
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        scanner.feed(chunk)
    return scanner.result()


def header_problems(path, scan, host=None, database=None):
    """Problems when the dump's header names another server or database than the one checked.

    The header is what mysqldump itself says it connected to, so a defaults file or a client that
    went elsewhere (another host, a ~/.my.cnf) shows here before the dump is trusted or loaded.
    """
    problems = []
    got_host, got_db = scan.get("header_host"), scan.get("header_database")
    if got_host is None and got_db is None:
        return ["%s has no mysqldump header (-- Host: ... Database: ...)" % path]
    if host is not None and got_host != str(host):
        problems.append("%s was dumped from host %s, not from %s (the MetaDB that was checked)"
                        % (path, got_host, host))
    if database is not None and got_db != database:
        problems.append("%s is a dump of database %s, not of %s" % (path, got_db, database))
    return problems


def scan_problems(path, scan, expected_tables=None):
    """Problems (list of strings, empty when fine) of a finished scan of the dump at `path`."""
    problems = []
    if scan["content_bytes"] == 0:
        problems.append("%s holds no SQL" % path)
    if not scan["completed"]:
        problems.append("%s does not end with mysqldump's '-- Dump completed' line (last line: %r): "
                        "the dump is truncated" % (path, scan["last_line"][:80]))
    if expected_tables is not None and scan["create_tables"] != expected_tables:
        problems.append("%s has %d CREATE TABLE statements, the database has %d tables"
                        % (path, scan["create_tables"], expected_tables))
    return problems


@contextlib.contextmanager
def open_decompressed(path, compress="none", zstd_path="zstd"):
    """A binary stream of the dump's SQL text, decompressing on the fly."""
    if compress == "none":
        with open(path, "rb") as f:
            yield f
    elif compress == "gzip":
        with gzip.open(path, "rb") as f:
            yield f
    elif compress == "zstd":
        with open(path, "rb") as raw:
            # zstd -d streams a dump of GBs into the checker: run_command would hold it all in memory
            # (and Python has no zstd before 3.14).
            # pylint: disable-next=ansible-bad-function
            proc = subprocess.Popen([zstd_path, "-d", "-c", "-q"], stdin=raw,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                yield proc.stdout
                while proc.stdout.read(CHUNK):  # drain, so zstd ends and its exit code means something
                    pass
            finally:
                proc.stdout.close()
                err = proc.stderr.read()
                proc.stderr.close()
                rc = proc.wait()
            if rc != 0:
                raise IOError("zstd -d failed (rc %s): %s" % (rc, err.decode("utf-8", "replace").strip()))
    else:
        raise OmsError("Unknown compression %r" % compress, "Use one of none, gzip, zstd")


def sha256_file(path):
    """(hex sha256, size in bytes) of the file as stored."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def check_dump_content(path, compress="none", expected_tables=None, zstd_path="zstd", scan_out=None,
                       database=None):
    """Problems (list of strings, empty when fine) with the dump's content.

    With scan_out (a dict), the scan's result, content digest included, is stored in it.
    """
    try:
        if os.path.getsize(path) == 0:
            return ["%s is empty" % path]
        with open_decompressed(path, compress, zstd_path) as stream:
            scan = scan_dump(stream, digest=scan_out is not None)
    except (IOError, OSError, EOFError, ValueError) as e:
        return ["%s cannot be read as a %s dump: %s" % (path, compress, e)]
    if scan_out is not None:
        scan_out.update(scan)
    problems = scan_problems(path, scan, expected_tables)
    if database is not None:
        problems.extend(header_problems(path, scan, database=database))
    return problems


def verify_against_manifest(backup_dir, entry, content=True, zstd_path="zstd", scan_out=None):
    """Problems of one manifest entry's file: missing, size, sha256 and (optionally) content."""
    path = os.path.join(backup_dir, entry["file"])
    if not os.path.isfile(path):
        return ["%s is missing" % path]
    digest, size = sha256_file(path)
    problems = []
    if size != entry.get("size"):
        problems.append("%s is %d bytes, the manifest says %s" % (path, size, entry.get("size")))
    if digest != entry.get("sha256"):
        problems.append("%s has sha256 %s, the manifest says %s" % (path, digest, entry.get("sha256")))
    if content and not problems:
        problems.extend(check_dump_content(path, compression_of(entry["file"]), entry.get("tables"),
                                           zstd_path, scan_out=scan_out, database=entry.get("database")))
    return problems


def read_manifest(backup_dir):
    """The manifest dict, or None when there is none; OmsError when it is unreadable."""
    path = os.path.join(backup_dir, MANIFEST_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (IOError, OSError, ValueError) as e:
        raise OmsError("Cannot read the backup manifest %s: %s" % (path, e),
                       "Check the backup directory; a dump writes the manifest last, so a missing "
                       "or broken one means the dump did not finish")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("databases"), list):
        raise OmsError("%s is not a backup manifest of format %d" % (path, MANIFEST_FORMAT),
                       "Point backup_dir (under oms_backup_dir) at a directory written by oms_metadb_backup "
                       "state=dumped")
    return manifest


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def manifest_compressions(backup_dir):
    """The compressions of the files the manifest in backup_dir names (empty without a readable
    manifest): which decompressors a verify or a restore needs."""
    try:
        manifest = read_manifest(backup_dir)
    except OmsError:
        return set()
    if not manifest:
        return set()
    return set(compression_of(e.get("file", "")) for e in manifest["databases"]
               if e.get("file", "").endswith((".sql", ".gz", ".zst")))
