# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The Docker engine connection, shared by every module that talks to docker."""

    DOCUMENTATION = r'''
options:
  docker_host:
    description:
      - URL of the Docker engine's API, for example C(unix:///var/run/docker.sock) or
        C(tcp://127.0.0.1:2375).
      - If not set, the value of the E(DOCKER_HOST) environment variable is used, and if that is
        not set either, C(unix:///var/run/docker.sock).
    type: str
  docker_timeout:
    description:
      - Seconds to wait for an answer from the Docker engine.
      - Long operations (stopping a container, loading an image, running a script inside a
        container) add their own timeouts to this one.
    type: int
    default: 60
requirements:
  - docker (the Docker SDK for Python) >= 7.1 on the host that runs the module
notes:
  - The module talks to the engine through the Docker SDK for Python, never the docker CLI.
  - docker SDK versions below 7.1 fail with requests 2.32 and later
    (C(Not supported URL scheme http+docker)).
'''
