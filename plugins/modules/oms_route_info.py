#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: oms_route_info
short_description: Plan the documented upgrade route of OMS Community Edition from the tarballs given
version_added: 0.2.0
description:
  - Reads the OMS tag in each image tarball (its manifest, without loading it) and plans the hops
    from O(running_version) to O(target_version) (default the newest tarball) along the routes
    OMS documents, oldest hop first, whatever order the tarballs are given in.
  - Fails before anything changes, naming the tarball or version, on a skipped release (a missing
    intermediate tarball), a downgrade or the running version, two tarballs of one version, a
    tarball that holds no OMS tag, several, or another version than the one given beside it, and a
    running version no documented route starts from.
  - Read-only; never reports changed.
author:
  - obtools developers (@obtools)
extends_documentation_fragment:
  - obtools.oms.platform
options:
  running_version:
    description:
      - The version of the OMS that runs now, as C(4.2.0-CE), C(4.2.0) or its image tag
        C(feature_4.2.0-ce).
    type: str
    required: true
  archives:
    description:
      - The image tarballs on the OMS host, one per release to go through, in any order.
      - Each is a path, or a dictionary with C(path) and C(version), the release it must hold
        (checked against its manifest).
    type: list
    elements: raw
    required: true
  target_version:
    description:
      - The release to reach. Default is the newest release among the tarballs.
    type: str
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
    details: Read-only, runs the same in check mode.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
    support: none
notes:
  - "The documented routes (oceanbase/oms-doc, C(en-US/1300.upgrade-guide/200.single-node-upgrade.md)
    of each branch, each hop allowed only from its predecessor):"
  - "4.1.1-CE -> 4.2.0-CE, branch V4.2.0, image tag feature_4.2.0-ce."
  - "4.2.0-CE -> 4.2.1-CE, branch V4.2.1, image tag feature_4.2.1-ce."
  - "4.2.1-CE -> 4.2.2-CE, branch V4.2.2, image tag feature_4.2.2-ce."
  - No downgrade and no hop that skips a release is documented. The table is kept in one place,
    C(plugins/module_utils/routes.py); C(docs/routes.md) quotes the pages and what differs between
    the branches.
seealso:
  - module: obtools.oms.oms_project_info
    description: The documented restrictions on projects before an upgrade (O(obtools.oms.oms_project_info#module:check_restrictions)).
'''

EXAMPLES = r'''
- name: Preflight | The route from the running OMS through the tarballs given
  obtools.oms.oms_route_info:
    running_version: "{{ old_container.image_tag }}"
    archives:
      - /data/images/oms_422.tar.gz
      - /data/images/oms_421.tar.gz
  register: route

- name: Preflight | Each tarball checked against the release it is given for
  obtools.oms.oms_route_info:
    running_version: 4.2.0-CE
    archives:
      - {path: /data/images/oms_421.tar.gz, version: 4.2.1-CE}
      - {path: /data/images/oms_422.tar.gz, version: 4.2.2-CE}
    target_version: 4.2.2-CE
'''

RETURN = r'''
route:
  description: The hops to run, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    source:
      description: The release the hop starts from.
      type: str
    target:
      description: The release the hop reaches.
      type: str
    branch:
      description: The oms-doc branch that documents the hop.
      type: str
    page:
      description: The page of that branch.
      type: str
    image_tag:
      description: The documented tag of the target's image.
      type: str
    archive:
      description: The tarball that holds the target.
      type: str
  sample:
    - {source: 4.2.0-CE, target: 4.2.1-CE, branch: V4.2.1, image_tag: feature_4.2.1-ce,
       page: en-US/1300.upgrade-guide/200.single-node-upgrade.md, archive: /data/images/oms_421.tar.gz}
running_version:
  description: O(running_version) in the form C(x.y.z-CE).
  returned: success
  type: str
  sample: 4.2.0-CE
target_version:
  description: The release the route reaches.
  returned: success
  type: str
  sample: 4.2.2-CE
table:
  description: Every documented hop (C(source), C(target), C(branch), C(page), C(image_tag)).
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import image_archive, routes


def archive_entries(given):
    """[{path, version or None}] from paths and {path, version} dictionaries."""
    entries = []
    for item in given:
        if isinstance(item, dict):
            if not item.get("path"):
                raise OmsError("an entry of archives has no path: %r" % (item,),
                               "Give each tarball as a path or as {path: ..., version: ...}")
            entries.append({"path": str(item["path"]), "version": item.get("version")})
        else:
            entries.append({"path": str(item), "version": None})
    return entries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            running_version=dict(type="str", required=True),
            archives=dict(type="list", elements="raw", required=True),
            target_version=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    try:
        archives = []
        for entry in archive_entries(module.params["archives"]):
            read = image_archive.read_archive(entry["path"])
            archives.append({"path": entry["path"], "tags": read["tags"],
                             "version": entry["version"]})
        hops = routes.plan_route(module.params["running_version"], archives,
                                 module.params["target_version"])
        module.exit_json(changed=False, route=hops, table=routes.table(),
                         running_version=hops[0]["source"], target_version=hops[-1]["target"])
    except OmsError as exc:
        exc.fail(module, table=routes.table())


if __name__ == "__main__":
    main()
