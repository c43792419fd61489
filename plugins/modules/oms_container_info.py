#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_container_info
short_description: Read an OMS container, an OMS image and an image tarball, changing nothing
version_added: 0.1.0
description:
  - Reads what an upgrade needs to know before it changes anything - the OMS container's settings,
    mounts and version (and where they differ from the docs' C(docker run) flags), whether the
    target image is in the engine, and which tags and image ids an image tarball holds (from its
    manifest, without loading it).
  - Never changes anything. Changing is M(obtools.oms.oms_container_upgrade)'s job.
author:
  - obtools developers (@obtools)
options:
  name:
    description:
      - Name of the container to read. A container that does not exist is reported with
        C(exists=false), not as a failure.
    type: str
  image:
    description:
      - An image reference (for example V(oms:feature_4.2.0-ce)) to look up in the engine and, with
        O(image_archive), in the tarball.
    type: str
  image_archive:
    description:
      - An image tarball (docker save or OCI layout) on the host, read without loading it.
      - With O(image), the task fails when the tarball does not hold O(image).
    type: path
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.docker
  - obtools.oms.info
seealso:
  - module: obtools.oms.oms_container_upgrade
'''

EXAMPLES = r'''
- name: Read the old container
  obtools.oms.oms_container_info:
    name: oms_411
  register: old

- name: Refuse unless it runs 4.1.1-CE
  ansible.builtin.assert:
    that: [old.container.exists, old.container.running, old.container.version == '4.1.1-CE']

- name: Does the tarball hold the 4.2.0 image, and is it loaded already?
  obtools.oms.oms_container_info:
    image: work.oceanbase-dev.com/obartifact-store/oms:feature_4.2.0-ce
    image_archive: /data/packages/oms_4.2.0-ce.tar.gz
  register: target
'''

RETURN = r'''
container:
  description:
    - The container O(name), as M(obtools.oms.oms_container_upgrade) returns it (mounts, network
      mode, privileged, pids limit, ulimits, C(OMS_HOST_IP), version, state). Secret-looking
      environment values are replaced by C(********).
    - "V({exists: false, name: ...}) when there is no such container."
  returned: when O(name) is given
  type: dict
  sample: {exists: true, name: oms_411, running: true, version: 4.1.1-CE, mounts: {config: /data/config.yaml}}
deviations:
  description: Where the container's settings differ from the docs' C(docker run) flags, one sentence each.
  returned: when O(name) is given
  type: list
  elements: str
  sample: ["not privileged, the docs run OMS with --privileged=true"]
image:
  description: O(image) in the engine.
  returned: when O(image) is given
  type: dict
  contains:
    name:
      description: O(image) as given.
      type: str
    present:
      description: Whether the engine has O(image) (with the tarball's image id, when O(image_archive) records one).
      type: bool
    id:
      description: Its id in the engine, V(null) when absent.
      type: str
    version:
      description: The OMS version its tag (or label) gives, for example V(4.2.0-CE); V(null) when none does.
      type: str
  sample: {name: "oms:feature_4.2.0-ce", present: false, id: null, version: 4.2.0-CE}
archive:
  description: What O(image_archive) holds, read from its manifest.
  returned: when O(image_archive) is given
  type: dict
  contains:
    path:
      description: O(image_archive).
      type: str
    format:
      description: V(docker-save), V(oci) or V(docker-save+oci).
      type: str
    tags:
      description: Every image tag the tarball holds.
      type: list
      elements: str
    image_id:
      description: The id the tarball records for O(image), V(null) when it records none or O(image) is not given.
      type: str
    content_bytes:
      description:
        - The bytes of the tarball's files once uncompressed (its layers and indexes), about what
          C(docker load) writes where the engine keeps its images; C(docker load) first unpacks
          the tarball there, then each layer, so it needs about twice this much at its peak.
      type: int
    file_bytes:
      description: The size of the tarball file itself (compressed or not).
      type: int
  sample: {path: /data/packages/oms_4.2.0-ce.tar.gz, format: docker-save, tags: ["oms:feature_4.2.0-ce"], image_id: "sha256:6b2c1d",
           content_bytes: 2147483648, file_bytes: 903741824}
engine:
  description: Where the Docker engine keeps its images, and the space free there (for C(docker load)).
  returned: when O(image_archive) is given
  type: dict
  contains:
    root_dir:
      description: The engine's C(DockerRootDir) (C(docker info)), for example V(/var/lib/docker).
      type: str
    free_bytes:
      description: Bytes free in RV(engine.root_dir) for this user, as the host sees the directory; V(null) when the
        engine is not local (C(docker_host) is not a C(unix://) socket) or the directory is not visible from here.
      type: int
  sample: {root_dir: /var/lib/docker, free_bytes: 80530636800}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import docker_client
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    absent,
    describe,
    deviations,
    image_version,
)
from ansible_collections.obtools.oms.plugins.module_utils.image_archive import (
    read_archive,
    require_tag,
)


def read_container(client, name):
    inspect = client.inspect_container(name)
    if inspect is None:
        return dict(container=absent(name), deviations=[])
    image = client.inspect_image(inspect["Image"]) if inspect.get("Image") else None
    container = describe(inspect, image)
    return dict(container=container, deviations=deviations(container))


def read_image(client, image, archive):
    archive_id = require_tag(archive, image) if archive else None
    found = client.inspect_image(image)
    present = found is not None and archive_id in (None, found["Id"])
    return dict(name=image, present=present, id=found["Id"] if found else None,
                version=image_version(image, found)[0])


def run(module, client):
    params = module.params
    result = dict(changed=False)
    if params["name"]:
        result.update(read_container(client, params["name"]))
    archive = read_archive(params["image_archive"]) if params["image_archive"] else None
    if params["image"]:
        result["image"] = read_image(client, params["image"], archive)
    if archive:
        image_id = require_tag(archive, params["image"]) if params["image"] else None
        result["archive"] = dict(path=archive["path"], format=archive["format"],
                                 tags=archive["tags"], image_id=image_id,
                                 content_bytes=archive["content_bytes"], file_bytes=archive["file_bytes"])
        result["engine"] = client.root_dir_space()
    return result


def main():
    argument_spec = docker_client.docker_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        image=dict(type="str"),
        image_archive=dict(type="path"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("name", "image", "image_archive")],
    )
    docker_client.fail_without_sdk(module)
    try:
        client = docker_client.DockerClient(module.params["docker_host"],
                                            module.params["docker_timeout"])
        result = run(module, client)
    except OmsError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
