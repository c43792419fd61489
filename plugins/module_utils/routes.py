# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documented upgrade routes of OMS Community Edition, and the planning of one run's route.

The table is the one place the collection knows which hop OMS documents: each row is one page of
oceanbase/oms-doc (branch, path) whose notice says the target is reached "only from" its source.
docs/routes.md quotes the pages and what differs between the branches.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

PAGE = "en-US/1300.upgrade-guide/200.single-node-upgrade.md"
RESTRICTIONS_PAGE = "en-US/1300.upgrade-guide/100.overview-1.md"
FAQ_PAGE = "en-US/1300.upgrade-guide/400.faq.md"

# (source, target, docs branch): "Currently, it is only supported to upgrade from OMS Community
# Edition <source> to Community Edition <target>" (PAGE and RESTRICTIONS_PAGE of the branch).
HOPS = (
    ("4.1.1-CE", "4.2.0-CE", "V4.2.0"),
    ("4.2.0-CE", "4.2.1-CE", "V4.2.1"),
    ("4.2.1-CE", "4.2.2-CE", "V4.2.2"),
)

_VERSION_RE = re.compile(r"^(?:feature_)?v?(\d+)\.(\d+)\.(\d+)(?:[-_]?(ce))?$", re.IGNORECASE)


def normalize_version(value):
    """'4.2.1-CE' for '4.2.1', 'V4.2.1-CE', '4.2.1-ce' or the image tag 'feature_4.2.1-ce';
    None for anything else (an EE tag, a typo): the caller says what it was given."""
    match = _VERSION_RE.match(str(value or "").strip())
    if not match:
        return None
    return "%s.%s.%s-CE" % match.group(1, 2, 3)


def version_key(version):
    match = _VERSION_RE.match(version)
    return tuple(int(part) for part in match.group(1, 2, 3))


def image_tag(version):
    """The documented tag form feature_x.x.x-ce (PAGE, the IMAGE_TAG row)."""
    return "feature_%d.%d.%d-ce" % version_key(version)


def hop_dict(source, target, branch):
    return {"source": source, "target": target, "branch": branch, "page": PAGE,
            "image_tag": image_tag(target)}


def table():
    """Every documented hop, oldest first."""
    return [hop_dict(*row) for row in HOPS]


def documented_versions():
    return [HOPS[0][0]] + [row[1] for row in HOPS]


def hop_from(source):
    for row in HOPS:
        if row[0] == source:
            return hop_dict(*row)
    return None


def archive_version(archive):
    """The one documented OMS version an archive holds, read from its tags (image_archive's
    read_archive answer, or any dict with path and tags), checked against a declared version."""
    path = archive.get("path")
    versions = sorted(set(v for v in (normalize_version(t.rpartition(":")[2])
                                      for t in archive.get("tags") or []) if v),
                      key=version_key)
    if not versions:
        raise OmsError("the image tarball %s holds no OMS tag of the form feature_x.x.x-ce (tags: %s)"
                       % (path, ", ".join(archive.get("tags") or []) or "none"),
                       "Give the tarball of the OMS Community Edition release you downloaded")
    if len(versions) > 1:
        raise OmsError("the image tarball %s holds several OMS versions (%s)"
                       % (path, ", ".join(versions)),
                       "Give one tarball per version, as OMS ships them")
    declared = archive.get("version")
    if declared and normalize_version(declared) != versions[0]:
        raise OmsError("the image tarball %s is given for %s but holds %s"
                       % (path, declared, versions[0]),
                       "Give the %s tarball in its place" % declared)
    return versions[0]


def plan_route(running_version, archives, target_version=None):
    """The hops from running_version to target_version (default: the newest tarball given).

    archives: the tarballs the DBA gave, in any order, each {path, tags[, version]}. Returns one
    hop dict per hop, oldest first, each with the archive (path) it runs. Raises OmsError naming
    the missing tarball, or refusing a downgrade, a repeated or unknown version, or a version OMS
    does not document a route from.
    """
    running = normalize_version(running_version)
    if running is None or running not in documented_versions():
        raise OmsError("the running OMS is %s: no documented upgrade route starts there"
                       % running_version,
                       "The documented routes are %s, each only from its predecessor (%s)"
                       % (", ".join("%s -> %s" % row[:2] for row in HOPS), PAGE))
    if not archives:
        raise OmsError("no OMS image tarball was given", "Give the tarball of %s"
                       % ((hop_from(running) or {}).get("target") or "the next release"))
    by_version = {}
    for archive in archives:
        version = archive_version(archive)
        if version in by_version:
            raise OmsError("the image tarballs %s and %s both hold %s"
                           % (by_version[version]["path"], archive.get("path"), version),
                           "Give each version's tarball once")
        if version_key(version) <= version_key(running):
            raise OmsError("the image tarball %s holds %s, and the running OMS is %s: that is %s"
                           % (archive.get("path"), version, running,
                              "the running version" if version == running else "a downgrade"),
                           "OMS documents no downgrade; to go back, use the rollback playbook. "
                           "Remove this tarball from the list")
        if version not in documented_versions():
            raise OmsError("the image tarball %s holds %s, which no documented route reaches"
                           % (archive.get("path"), version),
                           "The documented releases are %s" % ", ".join(documented_versions()))
        by_version[version] = archive
    newest = max(by_version, key=version_key)
    target = normalize_version(target_version) if target_version else newest
    if target is None or target not in documented_versions() or \
            version_key(target) <= version_key(running):
        raise OmsError("the target version %s is not a documented release after %s"
                       % (target_version, running),
                       "Choose one of %s" % ", ".join(
                           v for v in documented_versions() if version_key(v) > version_key(running)))
    if version_key(newest) > version_key(target):
        raise OmsError("the image tarball %s holds %s, beyond the target %s"
                       % (by_version[newest]["path"], newest, target),
                       "Remove it from the list, or set the target to %s" % newest)
    hops = []
    current = running
    while current != target:
        hop = hop_from(current)
        archive = by_version.get(hop["target"])
        if archive is None:
            raise OmsError("the tarball of %s is missing: OMS upgrades to %s only from %s, so the "
                           "route %s -> %s passes through it (branch %s, %s)"
                           % (hop["target"], hop["target"], hop["source"], running, target,
                              hop["branch"], PAGE),
                           "Add the %s image tarball (tag %s) to the list"
                           % (hop["target"], hop["image_tag"]))
        hop["archive"] = archive.get("path")
        hops.append(hop)
        current = hop["target"]
    return hops
