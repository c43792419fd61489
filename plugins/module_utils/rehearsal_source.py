# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The serving deployment as a rehearsal reads it: the old container's inspect data and its
image's (the settings step 4 copies), config.yaml (the MetaDB, and the copy the rehearsing OMS
mounts) and the run directory (OMS's runtime state, which docker_init.sh finds there).

On the OMS host the rehearsal reads them where they are (local()). To rehearse on another Docker
host (the role's oms_rehearsal_host), the OMS host writes them into a bundle (export(): a gzip'd
tar of mode 0600, for config.yaml holds the MetaDB password), the role carries it there, and the
module there reads it and removes it at once (read_bundle()): the password stays on that host only
for as long as the rehearsal's own copy of config.yaml does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import posixpath
import shutil
import socket
import stat
import tarfile
import tempfile

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    bind_mounts,
)

BUNDLE_FORMAT = 1
MANIFEST = "source.json"
CONFIG = "config.yaml"
RUN = "run"


def data_mounts(container):
    """{config, logs, store, run: host path or None} of an OMS container's inspect data."""
    found = dict((key, None) for key in DATA_MOUNTS)
    for mount in bind_mounts(container):
        for key in DATA_MOUNTS:
            if posixpath.normpath(mount["destination"]) == CONTAINER_PATHS[key]:
                found[key] = mount["source"]
    return found


def copy_regular_tree(src, dst):
    """Copy directories and regular files under `src` (no sockets, fifos or devices)."""
    os.makedirs(dst, 0o700)
    if not src or not os.path.isdir(src):
        return
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = os.path.join(dst, rel) if rel != "." else dst
        for d in dirs:
            path = os.path.join(target, d)
            if not os.path.isdir(path):
                os.makedirs(path, 0o755)
        for f in files:
            source = os.path.join(root, f)
            try:
                if stat.S_ISREG(os.lstat(source).st_mode):
                    shutil.copy2(source, os.path.join(target, f))
            except OSError:
                pass  # a file OMS removed meanwhile


def _read_config(path):
    if not path:
        raise OmsError("The old container mounts no config.yaml and none was given",
                       "Give config_file (the inventory's oms_config_file)")
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError) as exc:
        raise OmsError("Cannot read %s: %s" % (path, exc), "Give oms_config_file (config_file)")


class Source(object):
    """What a rehearsal reads of the serving deployment, from this host or from a bundle."""

    def __init__(self, container, image, config_text, config_label, run_dir=None,
                 run_files=None, exported=None):
        self.container = container        # docker inspect of the old container
        self.image = image                # docker inspect of its image (None: unknown)
        self.config_text = config_text
        self.config_label = config_label  # where config.yaml was read, for messages
        self.run_dir = run_dir            # the run directory on this host, or
        self.run_files = run_files        # its regular files [(relative path, mode, bytes)]
        self.exported = exported          # {host, at, config_file} of a bundle (None: local)

    @property
    def mounts(self):
        return data_mounts(self.container)

    def copy_run(self, target):
        """The run directory's regular files under `target` (created, mode 0700)."""
        if self.run_files is None:
            copy_regular_tree(self.run_dir, target)
            return
        os.makedirs(target, 0o700)
        for rel, mode, content in self.run_files:
            path = os.path.join(target, rel)
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
            with os.fdopen(fd, "wb") as f:
                f.write(content)


def local(client, name, config_file=None):
    """The deployment whose old container is `name`, read on this host."""
    old = client.inspect_container(name)
    if old is None:
        raise OmsError("No container named %s exists" % name,
                       "Set oms_old_container (source_container) to the name of the serving 4.1.1 container")
    mounts = data_mounts(old)
    path = config_file or mounts["config"]
    return Source(old, client.inspect_image(old["Image"]), _read_config(path), path,
                  run_dir=mounts["run"])


def _add(tar, name, content, mode=0o600):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = mode
    tar.addfile(info, io.BytesIO(content))


def export(source, path):
    """Write `source` (local()) into the bundle `path` (mode 0600, written whole or not at all);
    returns {path, bytes, run_files}."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    manifest = {"format": BUNDLE_FORMAT, "container": source.container, "image": source.image,
                "exported": {"host": socket.gethostname(),
                             "at": journal_file.iso(journal_file.utc_now()),
                             "config_file": source.config_label}}
    fd, tmp = tempfile.mkstemp(prefix=".oms_rehearsal_bundle.", suffix=".tmp", dir=directory)
    files = 0
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add(tar, MANIFEST, json.dumps(manifest).encode("utf-8"))
                _add(tar, CONFIG, source.config_text.encode("utf-8"))
                run = source.run_dir
                walk = os.walk(run) if run and os.path.isdir(run) else []
                for root, dirs, names in walk:
                    dirs.sort()
                    for name in sorted(names):
                        full = os.path.join(root, name)
                        try:
                            st = os.lstat(full)
                            if not stat.S_ISREG(st.st_mode):
                                continue  # sockets, fifos: what copy_regular_tree skips too
                            with open(full, "rb") as f:
                                content = f.read()
                        except (IOError, OSError):
                            continue  # a file OMS removed meanwhile
                        rel = os.path.relpath(full, run).replace(os.sep, "/")
                        _add(tar, "%s/%s" % (RUN, rel), content, stat.S_IMODE(st.st_mode))
                        files += 1
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"path": path, "bytes": os.path.getsize(path), "run_files": files}


def _safe_relative(name):
    """`name` of a run/ member relative to run/, or None when it would leave the directory."""
    rel = posixpath.normpath(name[len(RUN) + 1:])
    if not rel or rel.startswith(("/", "../")) or rel in (".", ".."):
        return None
    return rel


def read_bundle(path):
    """The Source in the bundle `path`, which is removed once read (it holds the password)."""
    if not os.path.isfile(path):
        raise OmsError("The rehearsal's bundle %s does not exist" % path,
                       "It is written on the OMS host by state=exported and copied here by the "
                       "role; run the rehearsal through the role (oms_rehearsal_host)")
    try:
        try:
            with tarfile.open(path, mode="r:gz") as tar:
                manifest, config, run_files = None, None, []
                for member in tar.getmembers():
                    if not member.isfile():
                        continue
                    content = tar.extractfile(member).read()
                    if member.name == MANIFEST:
                        manifest = json.loads(content.decode("utf-8"))
                    elif member.name == CONFIG:
                        config = content.decode("utf-8")
                    elif member.name.startswith(RUN + "/"):
                        rel = _safe_relative(member.name)
                        if rel is not None:
                            run_files.append((rel, member.mode, content))
        except (tarfile.TarError, EOFError, IOError, OSError, ValueError) as exc:
            raise OmsError("The rehearsal's bundle %s cannot be read: %s" % (path, exc),
                           "Rehearse again: the role exports and copies it anew")
    finally:
        os.unlink(path)
    if not isinstance(manifest, dict) or config is None or \
            manifest.get("format") != BUNDLE_FORMAT or not manifest.get("container"):
        raise OmsError("%s is not a rehearsal bundle of this collection's version" % path,
                       "Rehearse again with the same collection version on both hosts")
    exported = manifest.get("exported") or {}
    label = "the config.yaml of %s exported from %s (%s)" % (
        (manifest["container"].get("Name") or "?").lstrip("/"), exported.get("host") or "?",
        exported.get("config_file") or "?")
    return Source(manifest["container"], manifest.get("image"), config, label,
                  run_files=run_files, exported=exported)
