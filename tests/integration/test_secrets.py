"""Secrets: a MetaDB password and a console password full of shell and SQL metacharacters never show.

The test gives this run's instance (OMS_TEST_INSTANCE) a MetaDB user of its own whose password
holds quotes, a backslash, `$`, `;`, `#`, spaces, `%` and `{{`, writes it into the config.yaml the
OMS container mounts (where the collection reads it, as on a real host), gives the console such a
password too, and restarts the 4.1.1 container so that OMS itself uses both. It then runs the
upgrade and the rollback with -vvv while a thread samples `ps -eo args` every 50 ms, and searches
for either password, as written and as JSON or an option file would escape it:
  - every line `ps` showed,
  - both runs' output (-vvv),
  - every file of the backup directory (the journal, the reports, the dumps and their manifest),
  - every file written during the test under /tmp, ~/.ansible/tmp and the Ansible local temp dir.
The expected number of hits is zero. config.yaml itself holds the password (it is where OMS keeps
it) and is the one file not searched.
"""

import json
import os
import secrets as secrets_module
import subprocess
import sys
import threading
import time

import pytest
import yaml

from conftest import INSTANCE, REPO, ansible_env

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
from testbed_vars import inventory_vars  # noqa: E402  pylint: disable=wrong-import-position

# Quotes, backslash, $, ;, #, spaces, %, {{ and a backtick: whatever a shell, SQL, a MySQL option
# file, YAML, JSON or Jinja would read as something else.
# Each ends with a token drawn per run, so that no file holds them but what the run wrote: copies
# of this source (the unit tests build the collection in /tmp beside this test in CI) do not.
METADB_PASSWORD = "Me'ta\"D\\b $HOME;#x %s {{ 7*7 }} `id` --p'" + secrets_module.token_hex(4)
CONSOLE_PASSWORD = "Co'n\"so\\le $PATH;#y %d {{ lookup('env','HOME') }} `id`" + secrets_module.token_hex(4)
SAMPLE_INTERVAL = 0.05
SEARCHED_TMP = ("/tmp", os.path.expanduser("~/.ansible/tmp"), "/var/tmp/ansible-local")
MAX_FILE_BYTES = 200 * 1024 * 1024


def variants(secret):
    """The secret as written and as JSON, a MySQL option file, or a shell would escape it."""
    forms = {secret, json.dumps(secret)[1:-1], secret.replace("\\", "\\\\").replace('"', '\\"'),
             secret.replace("'", "'\"'\"'")}
    return sorted(forms)


class PsSampler(threading.Thread):
    """`ps -eo args` every 50 ms; keeps each distinct line."""

    def __init__(self):
        super(PsSampler, self).__init__(daemon=True)
        self.lines = set()
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE,
                                 universal_newlines=True, check=False).stdout
            self.lines.update(out.splitlines())
            self.samples += 1
            self.stop.wait(SAMPLE_INTERVAL)


def files_under(path, since, skip):
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if (full in skip or not os.path.isfile(full) or os.path.islink(full)
                    or st.st_size > MAX_FILE_BYTES or st.st_mtime < since):
                continue
            yield full


def hits_in_files(paths, secrets, since, skip):
    found = []
    for path in paths:
        if not os.path.isdir(path):
            continue
        for full in files_under(path, since, skip):
            try:
                with open(full, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            for secret in secrets:
                if secret.encode("utf-8") in data:
                    found.append("%s holds %r" % (full, secret))
    return found


def give_the_instance_these_passwords(testbed, info):
    """A MetaDB user of the instance's own with METADB_PASSWORD (the shared oms_meta user is left
    alone), written into its config.yaml with CONSOLE_PASSWORD; the 4.1.1 container restarted."""
    user = "%s_secret" % INSTANCE
    conn = testbed.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, METADB_PASSWORD))
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, METADB_PASSWORD))
            cur.execute("GRANT PROCESS ON *.* TO %s@'%%'", (user,))
            for role in ("rm_db", "cm_db", "cm_hb_db"):
                db = info["metadb"][role].replace("_", "\\_")
                cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'%%%%'" % db, (user,))
    finally:
        conn.close()
    with open(info["config_file"]) as handle:
        config = yaml.safe_load(handle)
    config.update(oms_meta_user=user, oms_meta_password=METADB_PASSWORD,
                  oms_sim_console_password=CONSOLE_PASSWORD)
    fd = os.open(info["config_file"], os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, default_flow_style=False, sort_keys=False)
    subprocess.run(["docker", "restart", "-t", "5", info["old_container"]], check=True,
                   stdout=subprocess.DEVNULL)
    testbed.wait_serving(INSTANCE, timeout=180)
    return user


def write_inventory(path, info):
    values = inventory_vars(info)
    values.pop("oms_console_password")
    values.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
    text = yaml.safe_dump({"all": {"children": {"oms": {"hosts": {INSTANCE: values}}}}})
    # !unsafe: Ansible must not template a password that holds {{ (as the README tells users)
    indent = " " * 10
    text += "%soms_console_password: !unsafe %s\n" % (indent, json.dumps(CONSOLE_PASSWORD))
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return str(path)


def run(playbook, inventory, extra=()):
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-vvv", "-i", inventory,
           os.path.join(REPO, "playbooks", playbook)] + list(extra)
    proc = subprocess.run(cmd, env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=1800, check=False)
    return proc


@pytest.fixture
def secret_deployment(testbed):
    testbed.reset(INSTANCE)
    info = testbed.describe(INSTANCE)
    user = give_the_instance_these_passwords(testbed, info)
    yield info
    testbed.reset(INSTANCE)  # the config.yaml and the container go back to the test bed's own
    conn = testbed.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    finally:
        conn.close()


def test_no_password_shows_anywhere_during_an_upgrade_and_a_rollback(secret_deployment, tmp_path):
    info = secret_deployment
    inventory = write_inventory(tmp_path / "inventory.yml", info)
    with open(inventory) as handle:
        assert "!unsafe" in handle.read()
    secrets = variants(METADB_PASSWORD) + variants(CONSOLE_PASSWORD)
    since = time.time()
    sampler = PsSampler()
    sampler.start()
    try:
        upgrade = run("upgrade.yml", inventory)
        # the user's explicit word for rolling back a completed upgrade, and the host named
        rollback = run("rollback.yml", inventory, ["-l", INSTANCE, "-e", "oms_rollback_accept_data_loss=true"])
    finally:
        sampler.stop.set()
        sampler.join()
    print("ps sampled %d times, %d distinct lines" % (sampler.samples, len(sampler.lines)))
    assert upgrade.returncode == 0, upgrade.stdout[-4000:]
    assert rollback.returncode == 0, rollback.stdout[-4000:]
    # The runs did what they say, so the secrets really travelled through every step
    assert "Step 7" in upgrade.stdout and "Steps 9.1 to 9.6" in rollback.stdout
    assert os.path.exists(os.path.join(info["backup_dir"], "oms_upgrade_journal.json"))

    hits = []
    for line in sampler.lines:
        hits += ["ps: %s" % line for s in secrets if s in line]
    for name, proc in (("upgrade -vvv", upgrade), ("rollback -vvv", rollback)):
        hits += ["%s output holds %r" % (name, s) for s in secrets if s in proc.stdout]
    canary = tmp_path / "canary" / "holds-the-password"
    canary.parent.mkdir()
    canary.write_text(METADB_PASSWORD)
    skip = {info["config_file"], inventory, str(canary)}
    hits += hits_in_files([info["backup_dir"]], secrets, 0, skip)
    hits += hits_in_files(SEARCHED_TMP, secrets, since, skip)
    # The searches can find: ps saw the runs, and the file search finds a canary file that holds
    # the password (left out of the search above)
    assert any("ansible-playbook" in line for line in sampler.lines)
    assert hits_in_files([str(canary.parent)], secrets, since, set())
    print("secrets found: %d" % len(hits))
    assert hits == [], "\n".join(hits)


def test_a_first_preflight_leaves_no_metadb_password_under_tmp(testbed, tmp_path):
    """A DBA's first run: the backup directory does not exist yet. The preflight (which rehearses
    the dump with the mysqldump client, through a defaults file) must leave the MetaDB password in
    no file under /tmp, /var/tmp or ~/.ansible/tmp, nor in the collection's own private directory,
    and the backup directory (which the run lock creates) must hold no leftover defaults file."""
    testbed.reset(INSTANCE)
    info = testbed.describe(INSTANCE)
    secret = "first-run-%s" % os.urandom(8).hex()  # this test's own: no other run can hold it
    user = "%s_first" % INSTANCE
    conn = testbed.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, secret))
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, secret))
            cur.execute("GRANT PROCESS ON *.* TO %s@'%%'", (user,))
            for role in ("rm_db", "cm_db", "cm_hb_db"):
                db = info["metadb"][role].replace("_", "\\_")
                cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'%%%%'" % db, (user,))
    finally:
        conn.close()
    try:
        with open(info["config_file"]) as handle:
            config = yaml.safe_load(handle)
        config.update(oms_meta_user=user, oms_meta_password=secret)
        config_copy = str(tmp_path / "config.yaml")  # the file that holds it, as config.yaml does
        fd = os.open(config_copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(config, handle)
        backup = str(tmp_path / "first-run-backup")
        values = inventory_vars(info)
        values.update(ansible_connection="local", ansible_python_interpreter=sys.executable,
                      oms_config_file=config_copy, oms_backup_dir=backup)
        inventory = str(tmp_path / "inventory.yml")
        fd = os.open(inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump({"all": {"children": {"oms": {"hosts": {INSTANCE: values}}}}}, handle)
        since = time.time()
        proc = run("upgrade.yml", inventory, ["-e", "oms_upgrade_preflight_only=true"])
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert "Preflight | Rehearse the dump" in proc.stdout, proc.stdout[-3000:]
        # The run lock (taken first, beside the journal) creates the backup directory, 0700; the
        # rehearsal then writes its defaults file there. Searched below with /tmp, where it lies.
        assert backup.startswith("/tmp/") and os.stat(backup).st_mode & 0o777 == 0o700
        private = os.path.join(os.path.expanduser("~"), ".obtools-oms")
        hits = hits_in_files(list(SEARCHED_TMP) + [private], [secret], since, {config_copy, inventory})
        assert secret not in proc.stdout
        # the search can find: the config copy holds it
        assert hits_in_files([str(tmp_path)], [secret], 0, {inventory}) == \
            ["%s holds %r" % (config_copy, secret)]
        assert hits == [], "\n".join(hits)
    finally:
        conn = testbed.root_connect()
        try:
            with conn.cursor() as cur:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        finally:
            conn.close()
