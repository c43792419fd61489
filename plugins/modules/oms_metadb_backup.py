#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oms_metadb_backup
short_description: Prune, dump, verify and restore the three OMS MetaDB databases
version_added: 0.1.0
description:
  - Works on OMS's rm, cm and cm_hb databases in the MetaDB, as steps 2.2, 2.3, 9.3 and 9.4 of the
    OMS 4.2.0-CE single-node upgrade procedure do by hand, and more safely.
  - O(state=pruned) deletes the heartbeat rows of C(heatbeat_sequence) below its highest C(id), in
    batches. It reads the highest C(id) first, because the procedure's one-statement form is refused by
    MySQL (error 1093). It may run while OMS still writes heartbeats (rows above that C(id) are
    kept), so the roles prune once before the stop and once more, briefly, after it.
  - O(state=dumped) dumps the three databases with C(mysqldump --single-transaction --quick
    --skip-dump-date --order-by-primary) in pieces, so that no statement outlives OceanBase's
    C(ob_query_timeout), whatever the size of a table, without changing the tenant's globals - the
    schema with C(--no-data), then the rows with C(--no-create-info), a table with a single-column
    integer primary key in key ranges (C(--where)), a table with another key (several columns,
    strings, dates, decimals, or a unique key of NOT NULL columns) in ranges of its key tuple whose
    ends are found by bounded seeks in the index, each piece sized from the rate measured on the
    table's earlier pieces to a quarter of the server's statement timeout (at most 1 s), small
    tables several at a time - over
    one more worker than the host has cores. Each database's pieces are put back together in order
    into a temporary file in O(backup_dir), one plain C(.sql) that C(mysql -e "source file") loads,
    verified while it is written (non-empty, ends with mysqldump's completion line, as many
    C(CREATE TABLE) as C(information_schema) lists, its header names the host and database that
    were checked, sha256 of the bytes stored), then fsynced and renamed to
    C(<database>.sql[.gz|.zst]) with mode 0600. A C(manifest.json) records each file's size,
    sha256, table count, duration and pieces, and the server's engine. The pieces are read one
    after another, so the databases must be quiescent (OMS stopped); the dump refuses, naming them,
    when other sessions use the databases before it starts or when it ends. A table without such
    a key is read with one C(SELECT); M(obtools.oms.oms_metadb_info) names it when it may outlive the
    timeout. Nothing else runs inside the upgrade's window.
  - O(state=rehearsed) runs C(mysqldump --no-data) of each database through the same client
    defaults file and arguments as O(state=dumped), and checks it ends with the completion line.
    Then it probes the user's INSERT, UPDATE and DELETE privileges on each database with statements
    that match no row (rolled back), and fails naming what is missing. Changes nothing; a
    preflight's rehearsal of the downtime steps while OMS still serves.
  - O(state=restored) first verifies every file and computes the content digest of each (its schema
    and data lines, without comments, dates and C(AUTO_INCREMENT) counters), and only then drops,
    creates and reloads each database that, dumped again, does not give back that digest. After
    the load each database is dumped again to a stream (no file) and its digest must equal the
    file's. This proof uses only C(mysqldump), so every engine answers it (OceanBase has no table
    checksum statement).
  - Reading - the MetaDB's engine, the space the dumps need, whether a backup directory verifies - is
    M(obtools.oms.oms_metadb_info)'s job.
extends_documentation_fragment:
  - obtools.oms.platform
  - obtools.oms.metadb
  - obtools.oms.journal
options:
  state:
    description:
      - What to do; see the description.
    type: str
    required: true
    choices: [pruned, dumped, restored, rehearsed]
  backup_dir:
    description:
      - Directory on the host for the dump files and C(manifest.json).
      - Required for O(state=dumped) and O(state=restored). Created with mode 0700 by
        O(state=dumped) when missing.
      - With O(state=rehearsed), the client defaults file is written there when it exists, else in
        the collection's own directory C(~/.obtools-oms) (created with mode 0700, never under
        C(/tmp)); it is removed afterwards, and one a killed run left is swept at the next start.
    type: path
  batch_size:
    description:
      - Rows deleted by the first transaction of O(state=pruned); with O(batch_seconds) the later
        ones are sized from the time the previous one took.
    type: int
    default: 10000
  batch_seconds:
    description:
      - With O(state=pruned), size each batch so that its C(DELETE) and C(COMMIT) take about this
        many seconds (between 1000 and 200000 rows; a batch grows at most twice as large as the one
        before, and shrinks at once after a slow one). Row locks then stay short while OMS runs,
        and no DELETE nears OceanBase's C(ob_query_timeout).
      - C(0) keeps every batch at O(batch_size).
    type: float
    default: 0.2
  from_id:
    description:
      - With O(state=pruned), every row of C(heatbeat_sequence) below this C(id) is known to be
        deleted already (the C(max_id) an earlier prune returned); the prune looks only at rows
        from there on. A prune leaves delete marks (OceanBase keeps them until a compaction), and
        stepping over millions of them would make a second prune slow.
      - Rows below it that still exist are left alone.
    type: int
  triggers:
    description:
      - Dump triggers too. The procedure dumps with C(--triggers=false); OMS's databases need none.
    type: bool
    default: false
  compress:
    description:
      - Compress the dumps while they are written, by piping C(mysqldump) into C(gzip) or C(zstd).
    type: str
    choices: [none, gzip, zstd]
    default: none
  parallel:
    description:
      - Dump (and restore) the three databases at the same time. The dump is downtime.
    type: bool
    default: true
  force:
    description:
      - With O(state=dumped), dump again even when O(backup_dir) already holds verified dumps of
        these databases (by default they are kept, because after an upgrade started they are the only copy
        of the old state).
      - With O(state=restored), drop and reload every database even when its tables already equal
        the backup.
    type: bool
    default: false
  mysqldump_path:
    description:
      - Path of C(mysqldump). Searched in E(PATH) by default.
    type: path
  mysql_path:
    description:
      - Path of the C(mysql) client. Searched in E(PATH) by default.
    type: path
  dump_extra_args:
    description:
      - More C(mysqldump) options, for example C(--column-statistics=0) for a MySQL 8 client
        against OceanBase. Never put a password here.
    type: list
    elements: str
    default: []
notes:
  - Stop the OMS container before O(state=pruned), O(state=dumped) and O(state=restored), as the
    procedure does. C(--single-transaction) gives each database one consistent snapshot; only a
    stopped OMS makes the three databases consistent with each other.
  - The password reaches C(mysqldump) and C(mysql) only through a mode 0600 C(--defaults-file) in
    O(backup_dir) (their first argument; before O(backup_dir) exists, in C(~/.obtools-oms)),
    removed afterwards and swept at the next start when a
    killed run left it; it is never on a command line, in the environment or in C(/tmp), so C(ps)
    does not show it.
  - On an OceanBase MetaDB, C(mysqldump) runs with the tenant's global C(ob_query_timeout), so a table
    whose dump takes longer than that (10 s by default) is killed by the server, and the dump fails
    with a message that names the variable and what to do.
  - Check mode says what would be deleted, written, dropped or restored, and changes nothing.
    Diff mode is not supported (nothing here is a value to compare).
  - With O(journal_step), the module records in the step's journal data, for O(state=pruned), C(heartbeat_rows_deleted),
    C(heartbeat_rows_after), C(heartbeat_max_id), C(seconds), C(batches), C(batch_size_first),
    C(batch_size_last), C(longest_batch_seconds), C(longest_batch_rows) and C(workers); for O(state=dumped)
    C(dump_dir) and C(manifest); for O(state=restored) C(restored), C(dropped) and C(unchanged). O(state=rehearsed) changes nothing and records nothing.
attributes:
  check_mode:
    description: Can run in check mode and return what it would change without changing it.
    support: full
  diff_mode:
    description: Nothing here is a value to compare; check mode reports the plan instead.
    support: none
seealso:
  - module: obtools.oms.oms_metadb_info
  - module: obtools.oms.oms_ha_config
author:
  - obtools developers (@obtools)
'''

EXAMPLES = r'''
- name: Step 2.2 | Delete the useless heartbeat rows
  obtools.oms.oms_metadb_backup:
    state: pruned
    config_file: /data/config.yaml

- name: Step 2.3 | Dump rm, cm and cm_hb in parallel, compressed
  obtools.oms.oms_metadb_backup:
    state: dumped
    config_file: /data/config.yaml
    backup_dir: /data/oms_backup
    compress: zstd
  register: oms_dump

- name: Step 9.3 and 9.4 | Drop, create and restore the three databases
  obtools.oms.oms_metadb_backup:
    state: restored
    config_file: /data/config.yaml
    backup_dir: /data/oms_backup
    login_password: "{{ vault_oms_meta_password }}"
'''

RETURN = r'''
journal:
  description:
    - What the module recorded in the journal (O(journal_step)).
  returned: when journal_step is given, outside check mode
  type: dict
  contains:
    path: {description: The journal file., type: str, returned: always}
    step: {description: The step recorded., type: str, returned: always}
    written: {description: Whether the journal could be written., type: bool, returned: always}
    status: {description: The status written (V(done) or V(failed))., type: str, returned: when written}
    error: {description: Why the journal could not be written., type: str, returned: when not written}
estimate_bytes:
  description: Bytes the dumps may need, with a margin, as M(obtools.oms.oms_metadb_info) estimates
    them.
  returned: when O(state=dumped) in check mode would dump
  type: int
  sample: 12582912
engine:
  description: The MetaDB's engine (C(mysql), C(mariadb) or C(oceanbase)), from C(SELECT VERSION(\))
    and C(@@version_comment).
  returned: when O(state=restored)
  type: dict
  sample: {"engine": "oceanbase", "version": "5.7.25-OceanBase seekdb-v1.4.0.0",
           "version_comment": "OceanBase 4.3.5.3 seekdb (r1.4.0.0)"}
content_digests:
  description: Per database, the content digest of its dump file, which a restored database must give
    back when dumped again.
  returned: when O(state=restored)
  type: dict
  sample: {"rm_411": "f0c6e81a689b13d9c0012a0b75a7d4b3cec19143c94dec1eefd6cae3f264f5f6"}
database:
  description: The heartbeat database the prune worked on (O(cm_hb_db) or C(drc_cm_heartbeat_db)).
  returned: when O(state=pruned)
  type: str
  sample: cm_hb_411
table:
  description: The table the prune deleted from, always C(heatbeat_sequence) (OMS's spelling).
  returned: when O(state=pruned)
  type: str
  sample: heatbeat_sequence
max_id:
  description: The highest C(id) of C(heatbeat_sequence) when the prune started (null when empty).
  returned: when O(state=pruned)
  type: int
  sample: 1234567
rows_deleted:
  description: Rows deleted by the prune (0 in check mode).
  returned: when O(state=pruned)
  type: int
  sample: 99999
batches:
  description: Transactions the prune used (0 in check mode or when nothing was below the highest C(id)).
  returned: when O(state=pruned)
  type: int
  sample: 37
batch_size_first:
  description: Rows in the prune's first batch (O(batch_size)).
  returned: when O(state=pruned)
  type: int
  sample: 10000
batch_size_last:
  description: Rows the last batch was sized for, after O(batch_seconds) adapted it.
  returned: when O(state=pruned)
  type: int
  sample: 160000
longest_batch_seconds:
  description: The longest time one batch held its locks (its C(DELETE) to its C(COMMIT)), in seconds.
  returned: when O(state=pruned)
  type: float
  sample: 0.13
longest_batch_rows:
  description: Rows deleted by that longest batch.
  returned: when O(state=pruned)
  type: int
  sample: 120000
workers:
  description:
    - Sessions that deleted side by side, each in a range of C(id) of its own. 2 on OceanBase when
      200,000 rows or more are to be pruned (two sessions delete about 1.5 times the rows per second
      of one there), otherwise 1; 0 when nothing was deleted. Each session sizes its own batches by
      O(batch_seconds).
  returned: when O(state=pruned)
  type: int
  sample: 2
seconds:
  description: Seconds the prune took, from connecting to the last count.
  returned: when O(state=pruned)
  type: float
  sample: 12.4
rows_to_delete:
  description:
    - Rows below the highest C(id) before the prune; in check mode counted (what it would
      delete), otherwise the rows the batches deleted (a count of millions of rows is skipped).
  returned: when O(state=pruned)
  type: int
  sample: 99999
rows_before:
  description: Rows in the table before the prune.
  returned: when O(state=pruned)
  type: int
  sample: 100000
rows_after:
  description: Rows in the table after the prune.
  returned: when O(state=pruned)
  type: int
  sample: 1
manifest:
  description:
    - The backup's manifest (also in C(<backup_dir>/manifest.json)).
    - C(engine) is the MetaDB's engine when it was dumped.
    - Each database's C(pieces) are the mysqldumps its file was put together from, in order (a key
      range of one table, C(key) with C(from) and C(to) integers, or C(keyset) with C(from) and
      C(to) lists of SQL literals, open-ended at both ends; or whole tables); the restore dumps the
      database again with the same pieces to prove it.
  returned: when O(state=dumped) (not in check mode, or when it keeps verified dumps) or O(state=restored)
  type: dict
  sample: {"format": 1, "created_at": "2024-05-01T10:00:00Z", "finished_at": "2024-05-01T10:00:12Z",
           "duration": 12.3, "metadb": {"host": "10.0.0.1", "port": 3306, "user": "oms_meta"},
           "engine": {"engine": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1", "version_comment": "Debian 12"},
           "compress": "none", "triggers": false, "parallel": true,
           "databases": [{"role": "rm", "database": "rm_411", "file": "rm_411.sql", "size": 1048576,
                          "sha256": "e3b0c442...", "tables": 130, "duration": 11.9,
                          "charset": "utf8mb4", "collation": "utf8mb4_general_ci", "triggers": false,
                          "pieces": [{"table": "oms_log", "key": "id", "from": null, "to": 120001},
                                     {"table": "oms_log", "key": "id", "from": 120001, "to": null},
                                     {"tables": ["oms_project", "oms_task"]}]}]}
manifest_path:
  description: Path of C(manifest.json).
  returned: when O(state=dumped)
  type: str
  sample: /data/oms_backup/manifest.json
files:
  description: The dump files written (or that check mode would write).
  returned: when O(state=dumped) and something was or would be dumped
  type: list
  elements: str
  sample: ["/data/oms_backup/rm_411.sql", "/data/oms_backup/cm_411.sql", "/data/oms_backup/cm_hb_411.sql"]
restored:
  description: Databases restored (in check mode, that would be restored).
  returned: when O(state=restored)
  type: list
  elements: str
  sample: ["rm_411", "cm_411"]
dropped:
  description: Databases dropped before being restored (in check mode, that would be dropped).
  returned: when O(state=restored)
  type: list
  elements: str
  sample: ["rm_411", "cm_411"]
unchanged:
  description: Databases left alone because every table already equals the backup.
  returned: when O(state=restored)
  type: list
  elements: str
  sample: ["cm_hb_411"]
rehearsal:
  description: Per database, the schema-only dump's C(role), C(database), C(tables) and C(duration).
  returned: when O(state=rehearsed)
  type: list
  elements: dict
  sample: [{"role": "rm", "database": "rm_411", "tables": 130, "duration": 0.4}]
plan:
  description: Per database, C(state) (missing, identical, different) and the tables that differ
    (C((content)) when the table lists are equal but the content is not).
  returned: when O(state=restored)
  type: dict
  sample: {"rm_411": {"state": "different", "differing_tables": ["oms_meta_version"]}}
durations:
  description: Seconds each database took to load.
  returned: when O(state=restored) restored something
  type: dict
  sample: {"rm_411": 3.2}
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import dump_files, heartbeat, metadb, metadb_dump
from ansible_collections.obtools.oms.plugins.module_utils import oms_config
from ansible_collections.obtools.oms.plugins.module_utils import metadb_restore, mysql_clients
from ansible_collections.obtools.oms.plugins.module_utils import metadb_rehearsal, step_journal
from ansible_collections.obtools.oms.plugins.module_utils.job_lock import JobLock


def client_paths(module, compress):
    """Binaries this run needs, found now so that a missing one fails before anything changes
    (a restore dumps the restored databases again, to compare them with the files)."""
    names = ("mysql", "mysqldump") if module.params["state"] == "restored" else ("mysqldump",)
    return mysql_clients.find_clients(module, names, compress)


def dump_or_restore(module, settings):
    """state=dumped or state=restored; the result to exit with."""
    p = module.params
    if p["state"] == "dumped":
        paths = client_paths(module, p["compress"])
        return metadb_dump.dump(settings, p["backup_dir"], compress=p["compress"],
                                triggers=p["triggers"], parallel=p["parallel"], force=p["force"],
                                check_mode=module.check_mode, mysqldump=paths["mysqldump"],
                                paths=paths, extra_args=p["dump_extra_args"])
    compressions = dump_files.manifest_compressions(p["backup_dir"])
    paths = client_paths(module, "none")
    for c in compressions - set(["none"]):
        paths[c] = module.get_bin_path(c, required=True)
    return metadb_restore.restore(settings, p["backup_dir"], parallel=p["parallel"],
                                  force=p["force"], check_mode=module.check_mode,
                                  mysql=paths["mysql"], paths=paths, mysqldump=paths["mysqldump"])


def main():
    argument_spec = metadb.metadb_argument_spec()
    argument_spec.update(
        state=dict(type="str", required=True, choices=["pruned", "dumped", "restored", "rehearsed"]),
        backup_dir=dict(type="path"),
        batch_size=dict(type="int", default=10000),
        batch_seconds=dict(type="float", default=0.2),
        from_id=dict(type="int"),
        triggers=dict(type="bool", default=False),
        compress=dict(type="str", default="none", choices=["none", "gzip", "zstd"]),
        parallel=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        mysqldump_path=dict(type="path"),
        mysql_path=dict(type="path"),
        dump_extra_args=dict(type="list", elements="str", default=[]),
    )
    argument_spec.update(step_journal.journal_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "dumped", ["backup_dir"]), ("state", "restored", ["backup_dir"])],
        required_by=step_journal.JOURNAL_REQUIRED_BY,
    )
    metadb.check_libraries(module)
    p = module.params
    state = p["state"]
    if p["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1. Give a positive number of rows per batch")
    if p["batch_seconds"] < 0:
        module.fail_json(msg="batch_seconds must not be negative. Give 0 to keep every batch at batch_size")
    for arg in p["dump_extra_args"]:
        if "password" in arg.lower() or arg.startswith("-p"):
            module.fail_json(msg="dump_extra_args must not carry a password (%s...). Give it as "
                                 "login_password; it reaches mysqldump through a 0600 defaults file"
                             % arg[:12])

    try:
        settings = metadb.settings_from_params(p)
        oms_config.register_no_log(module, settings)
        if state == "rehearsed":
            rehearsal = metadb_rehearsal.rehearse(settings, client_paths(module, "none")["mysqldump"],
                                                  p["backup_dir"])
            module.exit_json(changed=False, rehearsal=rehearsal)

        step = step_journal.StepJournal(module)
        step.start()
        if state == "pruned":
            result = heartbeat.prune(settings, p["batch_size"], check_mode=module.check_mode,
                                     batch_seconds=p["batch_seconds"], from_id=p["from_id"])
        elif state in ("dumped", "restored") and not module.check_mode:
            # Waits while a dump or restore of this deployment started by an earlier (cut off)
            # run still runs; held until this one ends.
            what = "the %s of %s" % ("dump" if state == "dumped" else "restore", p["backup_dir"])
            with JobLock(p["backup_dir"], what, module.warn):
                result = dump_or_restore(module, settings)
        else:
            result = dump_or_restore(module, settings)
        module.exit_json(**step.done(result, metadb_dump.journal_data(state, p["backup_dir"], result)))
    except OmsError as e:
        e.fail(module)


if __name__ == "__main__":
    main()
