# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The OMS console connection options, shared by every module that talks to the console."""

    DOCUMENTATION = r'''
options:
  console_url:
    description:
      - URL of the OMS console, C(http://<OMS host>:8089), or C(https://...) when the console's
        certificate and key are mounted in the container.
      - The OpenAPI is reached at C(<console_url>/api/v2) and the health check at
        C(<console_url>/oms/health).
      - A plain C(http://) URL gets a warning, since HTTP Basic then sends O(console_password) in clear.
    type: str
  console_user:
    description:
      - OMS console user for the OpenAPI's HTTP Basic authentication.
    type: str
    default: admin
  console_password:
    description:
      - Password of O(console_user). Keep it in ansible-vault.
    type: str
  validate_certs:
    description:
      - Verify the console's TLS certificate when O(console_url) is C(https://).
      - Set to V(false) only for a self-signed test certificate; prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the console's certificate, used when O(validate_certs=true).
    type: path
  request_timeout:
    description:
      - Seconds to wait for one answer from the console.
    type: int
    default: 30
notes:
  - The console is reached through ansible-core's own HTTP client (C(ansible.module_utils.urls)),
    so no Python HTTP library is needed on the host that runs the module.
  - The console's OpenAPI exists from OMS 4.1.1-CE on (oceanbase/oms-doc,
    1200.reference-guide/100.api-reference); errors carry OMS's C(GHANA-*) or C(CM-*) code,
    message and advice.
'''
