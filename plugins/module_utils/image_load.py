# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the 4.2.0 image from its tarball, unless the engine already has that image.

Used by oms_container_upgrade (state=image_loaded), by container_create.py (an image absent or
not image_id at step 4) and by the rehearsal (an image not loaded yet, days ahead).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import image_version
from ansible_collections.obtools.oms.plugins.module_utils.image_archive import (
    normalize_reference,
    read_archive,
    require_tag,
)


def image_loaded(client, image, image_archive, load_timeout, warn, check=False):
    """The image `image` present, loaded from `image_archive` when it is absent or another id.
    `warn(msg)` is told when the tarball records no id to compare with."""
    archive = read_archive(image_archive)
    archive_id = require_tag(archive, image)
    present = client.inspect_image(image)
    # The version the tarball's image is, from its tag or else its config's labels, so that a
    # preflight can refuse a wrong target before anything is loaded
    version, version_source = image_version(image, {"Config": {"Labels": archive["labels"].get(
        normalize_reference(image)) or {}}})
    result = dict(archive_tags=archive["tags"], changed=False, loaded=False, present=False,
                  version=version, version_source=version_source)
    if present is not None and archive_id in (None, present["Id"]):
        result["present"] = True
        if archive_id is None:
            warn("The tarball records no image id for %s; the image already "
                 "present was kept as it is" % image)
        result.update(image_id=present["Id"])
        return result
    result["changed"] = True
    result["diff"] = dict(before={"image": image, "image_id": present and present["Id"]},
                          after={"image": image, "image_id": archive_id})
    if check:
        result["image_id"] = archive_id
        return result
    client.load_image(image_archive, load_timeout)
    loaded = client.inspect_image(image)
    if loaded is None:
        raise OmsError("The image archive %s was loaded but %s is not present afterwards"
                       % (image_archive, image),
                       "Run docker images to see what the tarball brought in")
    result.update(image_id=loaded["Id"], loaded=True)
    return result
