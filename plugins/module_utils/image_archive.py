# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read which tags an image tarball holds, without loading it.

Preflight must refuse a tarball that does not hold the target tag before the old container stops,
and the load step must be skippable when the engine already has that tag with the same image id.
Both need the tarball's own index: `docker save` writes `manifest.json` (RepoTags, Config) and the
legacy `repositories` file; OCI layouts (docker 25+, containerd) write `index.json` whose manifest
annotations carry the image name. docker load accepts gzip, bzip2 and xz compressed tarballs, and
so does this reader.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tarfile

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

# OCI annotations that name an image: the full reference (containerd, docker 25+) and the bare tag.
OCI_NAME_ANNOTATION = "io.containerd.image.name"
OCI_REF_ANNOTATION = "org.opencontainers.image.ref.name"

# Members we ever read are small JSON indexes; refuse anything larger rather than fill memory.
MAX_INDEX_BYTES = 16 * 1024 * 1024


def normalize_reference(ref):
    """The short form docker itself prints: no `docker.io/`, no `library/`, `:latest` if untagged."""
    if ref is None:
        return None
    ref = ref.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/",
                   "index.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if ref.startswith("library/"):
        ref = ref[len("library/"):]
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref = ref + ":latest"
    return ref


def _digest_to_id(value):
    """`sha256:<hex>` from a config file name (`<hex>.json`), a blob path or a digest."""
    if not value:
        return None
    value = value.strip()
    base = value.rsplit("/", 1)[-1]
    if base.endswith(".json"):
        base = base[:-len(".json")]
    if value.startswith("sha256:"):
        return value
    if value.startswith("blobs/sha256/") or len(base) == 64:
        return "sha256:" + base
    return None


class _Members(object):
    """Small JSON members of an open tarball, by normalised name."""

    def __init__(self, tar):
        self._tar = tar
        self._members = {}
        # What the tarball holds once uncompressed: docker load writes about this much
        self.content_bytes = 0
        for member in tar.getmembers():
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            self._members[name] = member
            if member.isfile():
                self.content_bytes += member.size

    def has(self, name):
        return name in self._members

    def json(self, name):
        member = self._members.get(name)
        if member is None or not member.isfile():
            return None
        if member.size > MAX_INDEX_BYTES:
            raise OmsError("The member %s of the image archive is %d bytes, too large for an index"
                           % (name, member.size),
                           "Check that the file is an image tarball written by docker save")
        handle = self._tar.extractfile(member)
        try:
            data = handle.read()
        finally:
            handle.close()
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise OmsError("The member %s of the image archive is not valid JSON (%s)" % (name, exc),
                           "The tarball is damaged or incomplete: copy it again")


def _from_docker_manifest(manifest, images, configs):
    for entry in manifest or []:
        if not isinstance(entry, dict):
            continue
        image_id = _digest_to_id(entry.get("Config"))
        for tag in entry.get("RepoTags") or []:
            images.setdefault(normalize_reference(tag), image_id)
            if entry.get("Config"):
                configs.setdefault(normalize_reference(tag), entry["Config"])


def _from_repositories(repositories, images):
    # Legacy format: {"repo": {"tag": "<top layer id>"}}. The layer id is not the image id.
    for repo, tags in (repositories or {}).items():
        if not isinstance(tags, dict):
            continue
        for tag in tags:
            images.setdefault(normalize_reference("%s:%s" % (repo, tag)), None)


def _oci_config_id(members, manifest_digest):
    """The image id (config digest) behind an OCI manifest descriptor, when its blob is here."""
    if not manifest_digest or ":" not in manifest_digest:
        return None
    algo, hexpart = manifest_digest.split(":", 1)
    blob = members.json("blobs/%s/%s" % (algo, hexpart))
    if not isinstance(blob, dict):
        return None
    if "manifests" in blob:  # a nested index (multi-platform): take its first image manifest
        for desc in blob.get("manifests") or []:
            found = _oci_config_id(members, desc.get("digest"))
            if found:
                return found
        return None
    config = blob.get("config") or {}
    return config.get("digest")


def _from_oci_index(members, index, images):
    for desc in (index or {}).get("manifests") or []:
        annotations = desc.get("annotations") or {}
        name = annotations.get(OCI_NAME_ANNOTATION)
        ref = annotations.get(OCI_REF_ANNOTATION)
        if not name and ref and (":" in ref or "/" in ref):
            name = ref  # some writers put the full reference here
        if not name:
            continue
        images.setdefault(normalize_reference(name), _oci_config_id(members, desc.get("digest")))


def _labels(members, config_member, image_id):
    """The image config's Labels ({} when the tarball does not hold the config)."""
    names = []
    if config_member:
        while config_member.startswith("./"):
            config_member = config_member[2:]
        names.append(config_member)
    if image_id and image_id.startswith("sha256:"):
        names.append("blobs/sha256/%s" % image_id[len("sha256:"):])
    for name in names:
        config = members.json(name)
        if isinstance(config, dict):
            return (config.get("config") or config.get("Config") or {}).get("Labels") or {}
    return {}


def read_archive(path):
    """Tags in the image tarball at `path` and, where the tarball says, their image ids.

    Returns {"path", "format" ("docker-save" | "oci" | "docker-save+oci"), "tags" (sorted list),
    "image_ids" ({tag: "sha256:..." or None}), "labels" ({tag: the image config's Labels, {} when
    the tarball lacks the config}), "content_bytes" (the bytes of its files, uncompressed),
    "file_bytes" (the size of the file itself)}. Raises OmsError when the file is missing,
    unreadable, not a tar or names no tag at all.
    """
    if not os.path.exists(path):
        raise OmsError("The image archive %s does not exist" % path,
                       "Copy the OMS image tarball to the host and set image_archive (the inventory's "
                       "oms_image_archive) to its path")
    if not os.path.isfile(path):
        raise OmsError("The image archive %s is not a regular file" % path,
                       "Set image_archive (the inventory's oms_image_archive) to the tarball itself, not "
                       "a directory")
    try:
        tar = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, EOFError, OSError, IOError) as exc:
        raise OmsError("The image archive %s cannot be read as a tar file (%s)" % (path, exc),
                       "Check that it is the tarball from the OMS download (docker save format) "
                       "and that it was copied completely")
    images = {}
    configs = {}
    labels = {}
    try:
        try:
            members = _Members(tar)
            formats = []
            if members.has("manifest.json"):
                formats.append("docker-save")
                _from_docker_manifest(members.json("manifest.json"), images, configs)
            if members.has("repositories"):
                if not formats:
                    formats.append("docker-save")
                _from_repositories(members.json("repositories"), images)
            if members.has("index.json"):
                formats.append("oci")
                _from_oci_index(members, members.json("index.json"), images)
            for tag, image_id in images.items():
                labels[tag] = _labels(members, configs.get(tag), image_id)
        except (tarfile.TarError, EOFError, OSError, IOError) as exc:
            raise OmsError("The image archive %s is damaged (%s)" % (path, exc),
                           "Copy the tarball again and compare its checksum with the download")
    finally:
        tar.close()
    if not formats:
        raise OmsError("The image archive %s holds neither manifest.json, repositories nor "
                       "index.json" % path,
                       "Check that it is an image tarball written by docker save")
    if not images:
        raise OmsError("The image archive %s names no image tag" % path,
                       "Load it by hand with docker load and tag the image, or use the tarball "
                       "from the OMS download")
    return {"path": path, "format": "+".join(formats), "tags": sorted(images),
            "image_ids": images, "labels": labels, "content_bytes": members.content_bytes,
            "file_bytes": os.path.getsize(path)}


def require_tag(archive, image):
    """The image id the archive records for `image` (None if it records none); OmsError if absent."""
    wanted = normalize_reference(image)
    if wanted not in archive["image_ids"]:
        raise OmsError("The image archive %s does not hold %s (it holds: %s)"
                       % (archive["path"], image, ", ".join(archive["tags"])),
                       "Check oms_target_image (the module's image) against the tag of the tarball you "
                       "downloaded, or point oms_image_archive (image_archive) at the right tarball")
    return archive["image_ids"][wanted]
