"""Base images (mmdebstrap | docker import), the simulator images and their tarballs.

4.1.1 (an image) and 4.2.0 (a tarball) are made by ensure_all; 4.2.1 and 4.2.2 (tarballs) only
when a test asks for them (ensure_release). Every version shares the Dockerfile's layers but the
last metadata ones (OMS_SIM_VERSION, labels), so a later release costs a cached build and a save.

The simulator images are rebuilt only when the simulator's sources (or the base image) change:
the 4.1.1 image carries the content hash as a label, the tarball has it in a file beside it.
"""

import hashlib
import os
import shutil
import subprocess

import docker

from obtestbed import naming
from obtestbed.engine import apt_install
from obtestbed.errors import TestbedError
from obtestbed.locks import locked

SIM_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "simulator")
BASE_PACKAGES = {
    naming.BASE_DEBIAN: "python3,python3-pymysql,python3-yaml,procps,openssl,ca-certificates",
    naming.BASE_MARIADB: "mariadb-server,mariadb-client",
}
HASH_LABEL = "obtools.testbed.source_hash"


def archive_path(root, repo=naming.DEFAULT_IMAGE_REPO, tag=naming.TARGET_TAG):
    prefix = "oms" if repo == naming.DEFAULT_IMAGE_REPO else repo.replace("/", "_").replace(":", "_")
    return os.path.join(root, "images", "%s_%s.tar" % (prefix, tag))


def source_hash(base_id, repo):
    digest = hashlib.sha256()
    digest.update(("%s\n%s\n" % (base_id, repo)).encode())
    for top, dirs, files in os.walk(SIM_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(top, name)
            digest.update(os.path.relpath(path, SIM_DIR).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
            digest.update(b"\0%o\0" % (os.stat(path).st_mode & 0o111))
    return digest.hexdigest()[:16]


def _image(client, name):
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def ensure_base(client, name, say=print):
    if _image(client, name):
        return
    if not shutil.which("mmdebstrap"):
        say("mmdebstrap not found: installing it")
        apt_install("mmdebstrap")
    say("building base image %s with mmdebstrap (a few minutes)" % name)
    # The machine's own apt sources choose the mirror: none is written here.
    cmd = "set -o pipefail; mmdebstrap --variant=apt --include=%s bookworm - | docker import - %s" \
        % (BASE_PACKAGES[name], name)
    proc = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if proc.returncode != 0 or not _image(client, name):
        raise TestbedError("building base image %s failed:\n%s\nCheck the machine's Debian "
                           "mirror (apt sources) and network" % (name, proc.stdout[-3000:]))


def _build(client, tag, version, digest, say):
    say("building simulator image %s" % tag)
    try:
        client.images.build(path=SIM_DIR, tag=tag, rm=True, forcerm=True, pull=False,
                            buildargs={"OMS_VERSION": version, "SOURCE_HASH": digest,
                                       "BASE_IMAGE": naming.BASE_DEBIAN})
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        log = ""
        for chunk in getattr(exc, "build_log", None) or []:
            log += chunk.get("stream", "") or chunk.get("error", "") or ""
        raise TestbedError("building %s failed: %s\n%s" % (tag, exc, log[-3000:]))


def _save(client, image, archive, digest, say):
    os.makedirs(os.path.dirname(archive), exist_ok=True)
    tmp = archive + ".tmp"
    say("saving %s to %s" % (image, archive))
    with open(tmp, "wb") as f:
        for chunk in client.api.get_image(image):
            f.write(chunk)
    os.replace(tmp, archive)
    with open(archive + ".source_hash", "w") as f:
        f.write(digest + "\n")


def _stamp(archive):
    stamp = archive + ".source_hash"
    if os.path.exists(archive) and os.path.exists(stamp):
        with open(stamp) as f:
            return f.read().strip()
    return None


def remove_target_tag(client, repo, tag=naming.TARGET_TAG):
    """Untag a target unless a container uses it, so an upgrade really runs `docker load`."""
    tag = "%s:%s" % (repo, tag)
    if not _image(client, tag):
        return True
    try:
        client.images.remove(tag, force=False, noprune=False)
        return True
    except docker.errors.APIError:
        return False  # in use by a container (someone's upgraded deployment): leave it


def ensure_all(client, root, repo, say=print):
    """Base images, the 4.1.1 image and the 4.2.0 tarball; returns (source_image, archive)."""
    with locked(root, "images"):
        for name in BASE_PACKAGES:
            ensure_base(client, name, say)
        base_id = client.images.get(naming.BASE_DEBIAN).id
        digest = source_hash(base_id, repo)
        source = "%s:%s" % (repo, naming.SOURCE_TAG)
        target = "%s:%s" % (repo, naming.TARGET_TAG)
        image = _image(client, source)
        if image is None or image.labels.get(HASH_LABEL) != digest:
            _build(client, source, "4.1.1-CE", digest, say)
        archive = archive_path(root, repo)
        if _stamp(archive) != digest:
            _build(client, target, "4.2.0-CE", digest, say)
            _save(client, target, archive, digest, say)
        remove_target_tag(client, repo)
        return source, archive


def ensure_release(client, root, repo, version, say=print):
    """The tarball of a later release (4.2.1-CE or 4.2.2-CE), built when missing or stale; its
    tag is removed afterwards, as 4.2.0's is. Call after ensure_all (the base image)."""
    if version not in naming.LATER_TAGS:
        raise TestbedError("no simulated release %r. Use: %s"
                           % (version, ", ".join(sorted(naming.LATER_TAGS))))
    tag = naming.LATER_TAGS[version]
    with locked(root, "images"):
        digest = source_hash(client.images.get(naming.BASE_DEBIAN).id, repo)
        archive = archive_path(root, repo, tag)
        if _stamp(archive) != digest:
            image = "%s:%s" % (repo, tag)
            _build(client, image, version, digest, say)
            _save(client, image, archive, digest, say)
        remove_target_tag(client, repo, tag)
        return archive
