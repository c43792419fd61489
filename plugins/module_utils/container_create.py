# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 4: create and start the 4.2.0 container like the old one (its mounts, network, ports,
environment), loading the image first when it is absent or not the one recorded.

Used by oms_container_upgrade (state=upgraded) and the window's run_new step. A run again after a
cut finds the container it created (labelled with the old one's name, same image) and starts it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import container_stop_start as lifecycle
from ansible_collections.obtools.oms.plugins.module_utils import image_load
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    CONTAINER_PATHS,
    DATA_MOUNTS,
    UPGRADED_FROM_LABEL,
    absent,
)
from ansible_collections.obtools.oms.plugins.module_utils.container_spec import (
    build_run_spec,
    check_data_mounts,
    check_mounts,
    planned,
    spec_deviations,
)
from ansible_collections.obtools.oms.plugins.module_utils.image_archive import normalize_reference


def check_host_paths(client, container, ssl_certificate=None, ssl_key=None):
    """Refuse sources the engine would silently create as empty directories."""
    if not client.is_local:
        return
    for key in DATA_MOUNTS:
        path = container["mounts"].get(key)
        if path and not os.path.exists(path):
            raise OmsError("The host path %s (mounted at %s) does not exist"
                           % (path, CONTAINER_PATHS[key]),
                           "Restore it from the old deployment before running the new "
                           "container")
    config = container["mounts"].get("config")
    if config and not os.path.isfile(config):
        raise OmsError("The config mount %s is not a file" % config,
                       "Point the config of oms_mounts (mounts) at the config.yaml of the deployment")
    for key, path in (("ssl_certificate", ssl_certificate), ("ssl_key", ssl_key)):
        if path and not os.path.isfile(path):
            raise OmsError("The %s %s is not a file" % (key.replace("_", " "), path),
                           "Copy the certificate and key to the host or fix oms_ssl_certificate and "
                           "oms_ssl_key (ssl_certificate, ssl_key)")


def ensure_ours_running(client, name, existing, source, image, target, settle, check=False):
    """The container `name` that exists: started when it is the one created from `source` with
    `image`, refused otherwise."""
    labels = (existing.get("Config") or {}).get("Labels") or {}
    same_image = (target is not None and existing.get("Image") == target["Id"]) or \
        normalize_reference((existing.get("Config") or {}).get("Image")) == normalize_reference(image)
    if labels.get(UPGRADED_FROM_LABEL) != source or not same_image:
        raise OmsError("A container named %s already exists (image %s, label %s=%s)"
                       % (name, (existing.get("Config") or {}).get("Image"),
                          UPGRADED_FROM_LABEL, labels.get(UPGRADED_FROM_LABEL)),
                       "It was not created by this module from %s with %s: choose another "
                       "name for the new container, or rename or remove that one after "
                       "checking it is not needed" % (source, image))
    if existing["State"].get("Running"):
        return dict(changed=False, container=lifecycle.described(client, existing))
    if check:
        return dict(changed=True, container=lifecycle.described(client, existing))
    client.start_container(name)
    return dict(changed=True, container=lifecycle.described(
        client, client.wait_still_running(name, settle)))


def image_for_upgrade(client, target, image, image_archive, image_id, load_timeout, warn, check=False):
    """(inspect of the image to run, loaded now): loads image_archive when the image is absent
    or is not image_id; reads nothing from the tarball when the image is there."""
    if not image_archive:
        return target, False
    if target is not None and (not image_id or target["Id"] == image_id):
        return target, False
    if check:
        warn("%s would be loaded from %s first" % (image, image_archive))
        return target, False
    loaded = image_load.image_loaded(client, image, image_archive, load_timeout, warn)
    return client.inspect_image(image), loaded["loaded"]


def upgraded(client, name, source_container, image, warn, image_archive=None, image_id=None,
             load_timeout=1800, mounts=None, ssl_certificate=None, ssl_key=None, oms_host_ip=None,
             restart_policy=None, settle_seconds=lifecycle.START_SETTLE, check=False):
    """The container `name` created from `source_container` with `image`, and running. In check
    mode, what must happen first (the stop, the load) is returned as `prerequisites`."""
    source = source_container
    settle = max(0.0, float(settle_seconds))
    if source == name:
        raise OmsError("name and source_container are both %s" % source,
                       "Give the new container its own name (oms_new_container, not oms_old_container); "
                       "the old one is kept for rollback")
    target = client.inspect_image(image)
    existing = client.inspect_container(name)
    if existing is not None:
        return ensure_ours_running(client, name, existing, source, image, target, settle, check)
    old = lifecycle.require(client, source, "source container")
    others = [n for n in client.running_containers_with_label(UPGRADED_FROM_LABEL, source)
              if n != name]
    if others:
        raise OmsError("%s already runs, created from %s with the same data directories"
                       % (", ".join(others), source),
                       "Use that container's name, or stop it before creating %s" % name)
    old_container = lifecycle.described(client, old)
    if mounts:
        check_mounts(source, old_container["mounts"], mounts)
    check_data_mounts(source, old_container["mounts"])
    old_image = client.inspect_image(old["Image"])
    spec = build_run_spec(old, name, image, old_image_inspect=old_image, oms_host_ip=oms_host_ip,
                          ssl_certificate=ssl_certificate, ssl_key=ssl_key)
    wanted = lifecycle.wanted_policy(restart_policy)
    if wanted is not None:
        # The old container's policy was set to no for the stop: the role passes the one
        # it had before.
        spec["restart_policy"] = None if wanted["Name"] == "no" else wanted
    check_host_paths(client, old_container, ssl_certificate, ssl_key)
    # In check mode, what must happen before the container can be created: returned, not
    # warned, since a plan made ahead of the stop and the load expects both
    prerequisites = []
    if old["State"].get("Running"):
        if not check:
            raise OmsError("The source container %s is still running" % source,
                           "Stop it first (state=stopped): both containers use the same data "
                           "directories and host ports")
        prerequisites.append("stop %s" % source)
    target, loaded = image_for_upgrade(client, target, image, image_archive, image_id, load_timeout,
                                       warn, check)
    if target is None:
        if not check:
            raise OmsError("The image %s is not present in the engine" % image,
                           "Load it first (state=image_loaded with the tarball)")
        prerequisites.append("load %s" % image)
    found = spec_deviations(spec)
    for sentence in found:
        warn("%s: %s (copied from %s)" % (name, sentence, source))
    shown = planned(spec)
    result = dict(changed=True, deviations=found, planned=shown, loaded=loaded,
                  diff=dict(before={}, after=shown))
    if check:
        result["container"] = absent(name)
        result["prerequisites"] = prerequisites
        return result
    client.create_container(spec)
    try:
        client.start_container(name)
        started = client.wait_still_running(name, settle)
    except OmsError as exc:
        raise OmsError("%s was created but did not start: %s" % (name, exc.msg),
                       "Look at docker logs %s, fix the cause and run this task again; it "
                       "will start the container it created" % name)
    result["container"] = lifecycle.described(client, started)
    return result
