# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """How a module reaches OMS's MetaDB and which three databases it uses."""

    DOCUMENTATION = r'''
options:
  config_file:
    description:
      - Host path of the C(config.yaml) that the OMS container mounts at C(/home/admin/conf/config.yaml).
      - The MetaDB host, port, user, password and the three database names are read from its keys
        C(oms_meta_host), C(oms_meta_port), C(oms_meta_user), C(oms_meta_password), C(drc_rm_db),
        C(drc_cm_db) and C(drc_cm_heartbeat_db).
      - Any of the options below that is given explicitly overrides the value from this file.
      - Reading it needs PyYAML on the host.
    type: path
    version_added: 0.1.0
  login_host:
    description:
      - Host name or IP address of the MetaDB. Overrides C(oms_meta_host).
    type: str
    version_added: 0.1.0
  login_port:
    description:
      - TCP port of the MetaDB. Overrides C(oms_meta_port).
      - Defaults to C(3306) when neither this option nor the file sets it.
    type: int
    version_added: 0.1.0
  login_user:
    description:
      - MetaDB user. Overrides C(oms_meta_user).
      - An OBProxy user C(name@tenant#cluster) is passed on unchanged.
    type: str
    version_added: 0.1.0
  login_password:
    description:
      - Password of O(login_user). Overrides C(oms_meta_password).
      - Never passed on a command line or in the environment; the C(mysql) and C(mysqldump)
        clients get it from a mode 0600 C(--defaults-file) (their first argument, so no
        C(~/.my.cnf) applies) in the 0700 backup directory, removed afterwards and, when a killed
        run left it, at the next start.
      - Sent as UTF-8 by PyMySQL and by the clients alike, so non-ASCII passwords work.
    type: str
    version_added: 0.1.0
  rm_db:
    description:
      - Name of OMS's rm database (for example C(rm_411)). Overrides C(drc_rm_db).
    type: str
    version_added: 0.1.0
  cm_db:
    description:
      - Name of OMS's cluster manager database (for example C(cm_411)). Overrides C(drc_cm_db).
    type: str
    version_added: 0.1.0
  cm_hb_db:
    description:
      - Name of OMS's cluster manager heartbeat database (for example C(cm_hb_411)).
        Overrides C(drc_cm_heartbeat_db).
    type: str
    version_added: 0.1.0
  connect_timeout:
    description:
      - Seconds to wait for the MetaDB to accept a connection.
    type: int
    default: 10
    version_added: 0.1.0
requirements:
  - PyMySQL on the host the module runs on.
  - PyYAML on that host when O(config_file) is used.
notes:
  - The MetaDB is MySQL, MariaDB or OceanBase in MySQL mode, as OMS supports. The engine is read
    from C(SELECT VERSION(\)) and C(@@version_comment). On OceanBase every session of the
    collection raises C(ob_query_timeout) and C(ob_trx_timeout) (6 hours), and so does the
    C(mysql) client (C(init-command)); C(mysqldump) cannot, and runs with the tenant's global
    values. A statement the server still kills fails with a message naming the variable.
'''
