#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oms_metadb_info
short_description: Read the OMS MetaDB's engine, the size of its dumps, and prove a backup directory
version_added: 0.1.0
description:
  - Reads what an upgrade or a rollback needs to know about OMS's rm, cm and cm_hb databases before
    it changes anything. Never changes anything; changing is M(obtools.oms.oms_metadb_backup)'s job.
  - V(engine) in O(gather) reads the MetaDB's engine and version (C(SELECT VERSION(\)) and
    C(@@version_comment)).
  - V(estimate) in O(gather) estimates the space the three dumps need. On MySQL and MariaDB the
    size comes from C(information_schema); on OceanBase, whose C(information_schema) reads 0 rows
    and 0 bytes until a compaction, from C(COUNT(*\)) of every table times the average length, as
    mysqldump writes it, of a sample of its rows. With O(backup_dir) the free space there is
    compared with the estimate.
  - V(backup) in O(gather) checks every file in O(backup_dir) against its C(manifest.json) (size,
    sha256, content, header) and fails when anything does not match. It needs no MetaDB connection,
    so O(gather=[backup]) alone never connects (the rollback proves its dumps this way before it
    drops anything).
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.info
options:
  gather:
    description:
      - What to read; see the description.
      - The MetaDB is connected to only when V(engine) or V(estimate) is gathered.
    type: list
    elements: str
    choices: [engine, estimate, backup]
    default: [engine, estimate]
  backup_dir:
    description:
      - Directory on the host for the dump files and C(manifest.json).
      - With V(estimate) in O(gather), the free space there (or in its nearest existing parent) is
        compared with the estimate.
      - Required when O(gather) includes V(backup).
    type: path
notes:
  - C(mysqldump) runs with the server's global statement timeout (OceanBase's C(ob_query_timeout), 10 s
    by default; MariaDB's C(max_statement_time); MySQL's C(max_execution_time)). M(obtools.oms.oms_metadb_backup)
    reads a table with a primary key (or a unique key of NOT NULL columns) of integers, decimals,
    strings or dates in key ranges short enough; a table without one is read with one C(SELECT),
    which the server would kill if it took longer. With V(estimate) such tables whose read, at the
    rate measured on a bounded sample of the largest of them, would take more than half the timeout
    are returned in RV(dump_timeout_risks) (and given as warnings); the upgrade's preflight refuses them.
seealso:
  - module: obtools.oms.oms_metadb_backup
author:
  - obtools developers (@obtools)
'''

EXAMPLES = r'''
- name: Preflight | Does the backup directory have room for the dumps?
  obtools.oms.oms_metadb_info:
    config_file: /data/config.yaml
    backup_dir: /data/oms_backup
  register: oms_estimate

- name: Preflight | Refuse without room
  ansible.builtin.assert:
    that: oms_estimate.enough_space

- name: Rollback | Prove the dumps before anything is dropped (no MetaDB connection)
  obtools.oms.oms_metadb_info:
    gather: [backup]
    backup_dir: /data/oms_backup
  register: oms_backup

- name: Which engine runs the MetaDB?
  obtools.oms.oms_metadb_info:
    gather: [engine]
    config_file: /data/config.yaml
  register: oms_metadb
'''

RETURN = r'''
engine:
  description: The MetaDB's engine (C(mysql), C(mariadb) or C(oceanbase)), from C(SELECT VERSION(\))
    and C(@@version_comment).
  returned: when O(gather) includes V(engine) or V(estimate)
  type: dict
  sample: {"engine": "oceanbase", "version": "5.7.25-OceanBase seekdb-v1.4.0.0",
           "version_comment": "OceanBase 4.3.5.3 seekdb (r1.4.0.0)"}
estimate_bytes:
  description: Bytes the dumps may need (see RV(method)), RV(total_bytes) times RV(margin), at least 1 MiB.
  returned: when O(gather) includes V(estimate)
  type: int
  sample: 12582912
total_bytes:
  description: Bytes the three databases hold as RV(method) measures them, before the margin.
  returned: when O(gather) includes V(estimate)
  type: int
  sample: 10066329
margin:
  description: The factor RV(estimate_bytes) adds to RV(total_bytes).
  returned: when O(gather) includes V(estimate)
  type: float
  sample: 1.25
databases:
  description:
    - Per database that exists, its C(role), C(database), C(tables), C(data_bytes), C(index_bytes)
      and C(bytes).
    - On OceanBase also C(largest_table) and C(largest_unkeyed_table), the largest table without
      a single-column integer primary key, which the dump reads with one SELECT (C(table), C(bytes)).
  returned: when O(gather) includes V(estimate)
  type: list
  elements: dict
  sample: [{"role": "rm", "database": "rm_411", "tables": 130, "bytes": 4194304,
            "data_bytes": 3145728, "index_bytes": 1048576}]
method:
  description: How the size was estimated, C(information_schema) (MySQL, MariaDB) or C(sampled)
    (OceanBase, row counts times a sampled row length).
  returned: when O(gather) includes V(estimate)
  type: str
  sample: sampled
missing_databases:
  description: Which of the three databases do not exist.
  returned: when O(gather) includes V(estimate)
  type: list
  elements: str
  sample: []
free_bytes:
  description: Free bytes in (the nearest existing parent of) O(backup_dir).
  returned: when O(gather) includes V(estimate) and O(backup_dir) is given
  type: int
  sample: 53687091200
enough_space:
  description: Whether RV(free_bytes) covers RV(estimate_bytes).
  returned: when O(gather) includes V(estimate) and O(backup_dir) is given
  type: bool
  sample: true
dump_timeout_risks:
  description:
    - The tables without a key the dump can read in ranges whose one C(SELECT) would take more than
      half the server's global statement timeout, at the rate measured here (empty when no timeout
      is set). The C(obtools.oms.oms_upgrade) role refuses them in its preflight.
    - C(bytes) is the table's estimated size as mysqldump writes it, C(seconds) its estimated read
      time at C(bytes_per_second), C(variable) and C(timeout_seconds) the timeout, C(hint) how to
      raise it.
  returned: when O(gather) includes V(estimate)
  type: list
  elements: dict
  sample: [{"database": "cm_411", "table": "task_log", "bytes": 524288000, "seconds": 14.2,
            "bytes_per_second": 36920000, "variable": "ob_query_timeout", "timeout_seconds": 10.0,
            "hint": "as the tenant's administrator: SET GLOBAL ob_query_timeout = 3600000000, ..."}]
manifest:
  description:
    - The backup's manifest (C(<backup_dir>/manifest.json)), every file of which was verified.
    - C(engine) is the MetaDB's engine when it was dumped.
  returned: when O(gather) includes V(backup)
  type: dict
  sample: {"format": 1, "created_at": "2024-05-01T10:00:00Z", "finished_at": "2024-05-01T10:00:12Z",
           "duration": 12.3, "metadb": {"host": "10.0.0.1", "port": 3306, "user": "oms_meta"},
           "engine": {"engine": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1", "version_comment": "Debian 12"},
           "compress": "none", "triggers": false, "parallel": true,
           "databases": [{"role": "rm", "database": "rm_411", "file": "rm_411.sql", "size": 1048576,
                          "sha256": "e3b0c442...", "tables": 130, "duration": 11.9,
                          "charset": "utf8mb4", "collation": "utf8mb4_general_ci"}]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_files, metadb, metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import oms_config


def warn_dump_timeout_risks(module, risks):
    for risk in risks:
        module.warn("%s.%s (~%d MiB, ~%.1f s at the %.1f MiB/s measured) has no key the dump can read in "
                    "ranges, and one statement would outlive half the MetaDB's %s (%s s): the upgrade's "
                    "preflight refuses it. Raise %s (%s), or add a primary key to the table"
                    % (risk["database"], risk["table"], risk["bytes"] // 1048576, risk["seconds"],
                       risk["bytes_per_second"] / 1048576.0, risk["variable"], risk["timeout_seconds"],
                       risk["variable"], risk["hint"]))


def read_metadb(module, gather):
    """engine and/or estimate: the part that connects to the MetaDB."""
    p = module.params
    settings = metadb.settings_from_params(p)
    oms_config.register_no_log(module, settings)
    if "estimate" in gather:
        result = metadb_dump.estimate(settings, p["backup_dir"])
        warn_dump_timeout_risks(module, result.get("dump_timeout_risks", []))
        return result
    return dict(engine=metadb.read_engine(settings))


def verify_backup(module):
    backup_dir = module.params["backup_dir"]
    compressions = dump_files.manifest_compressions(backup_dir)
    zstd = module.get_bin_path("zstd", required=True) if "zstd" in compressions else "zstd"
    return dict(manifest=metadb_dump.verify(backup_dir, zstd_path=zstd))


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(
        gather=dict(type="list", elements="str", choices=["engine", "estimate", "backup"],
                    default=["engine", "estimate"]),
        backup_dir=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    gather = set(module.params["gather"])
    if not gather:
        module.fail_json(msg="gather is empty. Name at least one of engine, estimate, backup")
    if "backup" in gather and not module.params["backup_dir"]:
        module.fail_json(msg="gather includes backup but backup_dir is not given. Give the directory "
                             "of the dump (where its manifest.json is)")
    if gather & set(["engine", "estimate"]):
        metadb.check_libraries(module)
    result = dict(changed=False)
    try:
        if "backup" in gather:
            result.update(verify_backup(module))
        if gather & set(["engine", "estimate"]):
            result.update(read_metadb(module, gather))
    except OmsError as e:
        e.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
