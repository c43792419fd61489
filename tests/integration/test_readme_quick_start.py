"""The README's Quick start, run as written from the built tarball, on a test-bed instance.

What a user does with the README open: the Install section's build in a checkout (a copy of
this one), then in an empty HOME and a directory of the user's holding only the tarball, every
command of the Quick start in order, each exactly as the README gives it: the install with -p
into an empty directory and the export of ANSIBLE_COLLECTIONS_PATH, the copy of the example
inventory out of the installed collection, the console password vaulted, the plan, the
rehearsal, the upgrade, the rollback (refused: the upgrade completed), and then the README's
command for rolling back a completed upgrade. Between them only what the README asks the user
to do by hand: edit the inventory (here: the example's first host, with the test bed's facts) and
paste the vaulted password into it. Two things differ from a terminal, the same as in
tests/unit/test_readme.py: the placeholder paths (/path/to/oms, ~) name the test's directories,
and --ask-vault-pass reads the vault password from a file (no terminal here).

Run with OMS_TEST_INSTANCE set to your own instance.
"""

import glob
import os
import re
import shutil
import sys

import docker
import yaml

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
import test_readme as readme_doc  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(REPO, "molecule", "shared"))
from testbed_vars import inventory_vars  # noqa: E402  pylint: disable=wrong-import-position


def quick_start_commands(text):
    cmds = [c for c in readme_doc.commands(text) if c.section == readme_doc.QUICK_START]
    assert cmds, "the README has no Quick start"
    return cmds


def build_tarball(base):
    """The Install section's first block (the build), run as written in a copy of this checkout."""
    run = readme_doc.Run(os.path.join(base, "builder"))
    readme_doc.copy_checkout(run.checkout)
    install = [c for c in readme_doc.commands(readme_doc.readme()) if c.section == "Install"]
    build = [c for c in install if c.argv[:3] == ["ansible-galaxy", "collection", "build"]]
    assert build, "the Install section builds no tarball"
    for cmd in install[:install.index(build[0]) + 1]:
        rc, out = run.run(cmd.argv)
        assert rc == 0, "%r: %s" % (cmd, out[-1500:])
    built = glob.glob(os.path.join(run.checkout, "obtools-oms-*.tar.gz"))
    assert len(built) == 1, built
    return built[0]


def vault_block(output):
    """The `name: !vault |` block ansible-vault printed, without what it wrote on stderr around it."""
    lines = output.split("\n")
    start = lines.index("oms_console_password: !vault |")
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not re.match(r"^\s+[$A-Za-z0-9_;.]+$", line):
            break
        block.append(line)
    assert len(block) > 2, output
    return "\n".join(block) + "\n"


def edited_inventory(description, host, vaulted, rehearsal_vars):
    """inventory.yml as the user leaves it: the example's group `oms`, its first host named as the
    README's commands name it, the test bed's facts, the password block ansible-vault gave."""
    facts = inventory_vars(description)
    facts.pop("oms_console_password")
    facts.update(rehearsal_vars)
    facts.update({"ansible_connection": "local", "ansible_python_interpreter": sys.executable})
    text = yaml.safe_dump({"oms": {"hosts": {host: facts}}}, sort_keys=False)
    block = vaulted.strip("\n").split("\n")
    assert block[0] == "oms_console_password: !vault |", vaulted
    indent = " " * 6
    return text + "".join(indent + line.strip() + "\n" if i == 0 else indent + "  " + line.strip() + "\n"
                          for i, line in enumerate(block))


def test_the_quick_start_runs_as_written_from_the_tarball(instance, tmp_path):
    d = instance
    engine = docker.from_env()
    text = readme_doc.readme()
    cmds = quick_start_commands(text)
    kinds = [readme_doc.kind(c) for c in cmds]
    assert kinds[:4] == ["ansible-galaxy", "export", "cp", "ansible-vault"], kinds

    tarball = build_tarball(str(tmp_path))
    run = readme_doc.Run(str(tmp_path / "user"))
    shutil.copy2(tarball, run.cwd)
    assert sorted(os.listdir(run.cwd)) == [os.path.basename(tarball)]

    # 1, 2: install with -p into an empty directory, export the path, copy the example out
    collections = run.expand(readme_doc.install_path(cmds[0]))
    assert not os.path.exists(collections)
    for cmd in cmds[:3]:
        rc, out = run.run(cmd.argv)
        assert rc == 0, "%r: %s" % (cmd, out[-1500:])
    assert os.path.isfile(os.path.join(run.cwd, "inventory.yml"))

    # 3: the console password vaulted as the README says, typed on stdin
    rc, vaulted = run.run(cmds[3].argv, stdin=d["console_password"])
    assert rc == 0, vaulted[-1500:]
    vaulted = vault_block(vaulted)
    assert d["console_password"] not in vaulted

    # The user edits the inventory: the README's commands name the example's first host.
    playbooks = [c for c in cmds if readme_doc.kind(c) == "ansible-playbook"]
    limits = {c.argv[c.argv.index("-l") + 1] for c in playbooks if "-l" in c.argv}
    assert len(limits) == 1, limits
    host = limits.pop()
    # The test bed's host has not the rehearsal's default 4g to spare, and its MetaDB's admin login
    # lets the rehearsal give the rehearsing OMS a user of its own (as test_rehearse_playbook.py does).
    rehearsal_vars = {"oms_upgrade_rehearsal_memory": "1g",
                      "oms_rehearsal_admin_user": d["metadb_root"]["user"],
                      "oms_rehearsal_admin_password": d["metadb_root"]["password"]}
    with open(os.path.join(run.cwd, "inventory.yml"), "w") as f:
        f.write(edited_inventory(d, host, vaulted, rehearsal_vars))
    os.chmod(os.path.join(run.cwd, "inventory.yml"), 0o600)

    # 4-7: the plan, the rehearsal, the upgrade, the rollback, each as written
    outcomes = []
    for cmd in playbooks:
        rc, out = run.run(cmd.argv)
        outcomes.append((cmd, rc, out))
        assert d["console_password"] not in out
    by_playbook = {}
    for cmd, rc, out in outcomes:
        name = [a for a in cmd.argv if a.startswith("obtools.oms.")][0]
        by_playbook.setdefault(name, []).append((cmd, rc, out))
    plan, upgrade = by_playbook["obtools.oms.upgrade"]
    assert "--check" in plan[0].argv and "--check" not in upgrade[0].argv
    (rehearsal,) = by_playbook["obtools.oms.rehearse"]
    (rollback,) = by_playbook["obtools.oms.rollback"]
    for cmd, rc, out in (plan, rehearsal, upgrade):
        assert rc == 0, "%r:\n%s" % (cmd, out[-3000:])
    assert "migration rehearsed on a copy: passed" in rehearsal[2], rehearsal[2][-3000:]
    assert os.path.isfile(os.path.join(d["backup_dir"], "oms_upgrade_report.md"))
    assert engine.containers.get(d["new_container"]).status == "running"
    # The upgrade completed: the Quick start's rollback refuses, as it says, and changes nothing.
    assert rollback[1] != 0 and "is committed" in rollback[2], rollback[2][-3000:]
    assert "Nothing was changed" in rollback[2]
    assert engine.containers.get(d["new_container"]).status == "running"
    assert engine.containers.get(d["old_container"]).status == "exited"

    # The README's command for rolling back a completed upgrade, as written.
    accept = [c for c in readme_doc.commands(text)
              if any(a == "oms_rollback_accept_data_loss=true" for a in c.argv)]
    assert len(accept) == 1, accept
    assert accept[0].argv[accept[0].argv.index("-l") + 1] == host
    rc, out = run.run(accept[0].argv)
    assert rc == 0, out[-3000:]
    assert os.path.isfile(os.path.join(d["backup_dir"], "oms_rollback_report.md"))
    assert engine.containers.get(d["old_container"]).status == "running"
    assert engine.containers.get(d["new_container"]).status != "running"
