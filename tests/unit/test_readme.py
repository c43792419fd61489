"""The README is the users' page, and every command it gives works as written.

- Each command in its shell code blocks is checked, none left out: `ansible-galaxy` (the install
  blocks are run, each in an empty HOME: the Install section's in a copy of this checkout, the
  Quick start's from the tarball built there, with -p into an empty directory, which its `export`
  of ANSIBLE_COLLECTIONS_PATH must name), `cp` (run: the file it copies out of the installed
  collection must be there), `ansible-builder` (`create` run with the checkout's EE definition),
  `ansible-vault` (run), `ansible-playbook` (options parsed by ansible-playbook's own parser;
  the playbook is one of the collection's; every `-e` variable is documented by the roles, with a
  value of its type; then run with `--list-hosts` against the inventory the Quick start copied,
  from the installed collection, and every play must match a host), `ansible-doc` (run), `pip`
  (installs exactly meta/ee-requirements.txt), `python3.N -m venv` (a Python the modules run on,
  the one the example inventory names), `bash scripts/...` (a script CI runs: scripts/test.sh or
  .ci/run calls it).
- The Quick start rolls back without `oms_rollback_accept_data_loss`; the override is given only
  in a section of its own, which warns what it loses.
- The two set-up commands for a fresh machine, in one code block of "Try it on the bundled test
  bed (in a checkout of the repository)".
- Outside the sections whose heading says they are for a checkout, the README names no developer
  file (tests/, molecule/, ...), and its links lead to files the installed collection holds.
- Installed with -p, the playbooks are found only with ANSIBLE_COLLECTIONS_PATH, as the README says;
  the example inventory's consoles are on https with validate_certs true, and its vault example
  decrypts with the demo vault password the README gives; the AWX project's playbooks parse.
- The Quick start is run for real, as written, by tests/integration/test_readme_quick_start.py.
- Every relative link of the repository's Markdown files resolves, anchors too.
"""

import contextlib
import glob
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
README = os.path.join(REPO, "README.md")
TRY_IT = "Try it on the bundled test bed (in a checkout of the repository)"
QUICK_START = "Quick start"
# Where the Quick start's commands stand for the user's own things.
CHECKOUT = "/path/to/oms"
# ansible-core's default collections path is ANSIBLE_HOME/collections, ANSIBLE_HOME ~/.ansible.
DEFAULT_COLLECTIONS = "~/.ansible/collections"
# Where the Quick start installs the tarball (-p), and takes the example inventory from.
QUICK_COLLECTIONS = "~/oms-collections"
INSTALLED = QUICK_COLLECTIONS + "/ansible_collections/obtools/oms/"
# The demo vault password the example inventory's vaulted value decrypts with, as the README says.
DEMO_VAULT_PASSWORD = re.compile(r"demo vault password `([^`]+)`")
# A section for a checkout of the repository (its heading says so) may name the checkout's files.
CHECKOUT_HEADING = re.compile(r"checkout", re.I)
DEVELOPER_PATHS = ("tests/", "molecule/", "benchmarks/", "scripts/", ".ci/", "docs/development", "CONTRIBUTING.md")
ROLES = ("oms_upgrade", "oms_rollback")
SHELL_BLOCKS = ("", "sh", "bash", "shell", "console")


class Command(object):
    def __init__(self, argv, section, block, text):
        self.argv, self.section, self.block, self.text = argv, section, block, text

    def __repr__(self):
        return "README %s: %s" % (self.section, self.text)


def sections(text):
    """[(heading, body)] of a Markdown text, by its headings of any level."""
    out, heading, body, fenced = [], "", [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line):
            out.append((heading, "\n".join(body)))
            heading, body = line.lstrip("#").strip(), []
        else:
            body.append(line)
    out.append((heading, "\n".join(body)))
    return out


def commands(text):
    """Every command of the shell code blocks, as argv (comments and continuations handled)."""
    found, number = [], 0
    for heading, body in sections(text):
        lines = body.split("\n")
        i = 0
        while i < len(lines):
            opening = re.match(r"(\s*)```(\w*)\s*$", lines[i])
            i += 1
            if not opening:
                continue
            indent, lang, number = len(opening.group(1)), opening.group(2), number + 1
            block = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
                i += 1
            i += 1
            if lang not in SHELL_BLOCKS:
                continue
            joined = "\n".join(block).replace("\\\n", " ")
            for line in joined.split("\n"):
                argv = shlex.split(line, comments=True)
                if argv:
                    found.append(Command(argv, heading, number, line.split(" #")[0].strip()))
    return found


def readme():
    with open(README) as f:
        return f.read()


def galaxy():
    with open(os.path.join(REPO, "galaxy.yml")) as f:
        return yaml.safe_load(f)


def tool(name):
    found = os.path.join(BIN, name)
    return found if os.path.exists(found) else shutil.which(name)


def parse_options(cli_class, argv):
    """ansible's own parser of that tool: (options, None) or (None, its error)."""
    cli = cli_class([argv[0]] + argv[1:])
    cli.init_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return cli.parser.parse_args(argv[1:]), None
    except SystemExit:
        return None, err.getvalue().strip().split("\n")[-1]


# --- what the roles document ----------------------------------------------------------------------

def role_options():
    """{variable: its argument spec entry} of both roles, and the names their READMEs document."""
    options, named = {}, set()
    for role in ROLES:
        with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as f:
            for entry in yaml.safe_load(f)["argument_specs"].values():
                options.update(entry.get("options") or {})
        with open(os.path.join(REPO, "roles", role, "README.md")) as f:
            named.update(re.findall(r"`(oms_\w+)", f.read()))
    return options, named


def extra_var_problems(extra_vars):
    from ansible.parsing.splitter import parse_kv
    options, named = role_options()
    problems = []
    for given in extra_vars:
        if given.startswith(("@", "{")):
            problems.append("-e %s: give variables as name=value" % given)
            continue
        for name, value in parse_kv(given).items():
            spec = options.get(name)
            if spec is None and name not in named:
                problems.append("-e %s: no role documents this variable" % name)
            elif spec:
                kind = spec.get("type", "str")
                if kind == "bool" and value.lower() not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
                    problems.append("-e %s=%s: not a boolean" % (name, value))
                elif kind == "int" and not re.match(r"^-?\d+$", value):
                    problems.append("-e %s=%s: not an integer" % (name, value))
                elif spec.get("choices") and value not in [str(c) for c in spec["choices"]]:
                    problems.append("-e %s=%s: not one of %s" % (name, value, spec["choices"]))
    return problems


# --- running the README's commands ----------------------------------------------------------------

class Run(object):
    """Where the README's commands run: an empty HOME (the default collections path under it), a
    working directory, and a copy of this checkout (a git repository of its own) for /path/to/oms."""

    def __init__(self, base):
        self.base = base
        self.home = os.path.join(base, "home")
        self.cwd = os.path.join(base, "work")
        self.checkout = os.path.join(base, "oms")
        self.vault_password = os.path.join(base, "vault-password")
        self.exported = {}  # what the README's `export` commands set, for the commands after them
        for d in (self.home, self.cwd, self.checkout):
            os.makedirs(d, exist_ok=True)
        with open(self.vault_password, "w") as f:
            f.write(demo_vault_password() + "\n")

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(HOME=self.home, ANSIBLE_LOCALHOST_WARNING="false")
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        env.update(self.exported)
        return env

    def expand(self, value):
        """A shell word as bash expands it here: ~ at its start or after = (an assignment)."""
        return re.sub(r"(^|=)~/", lambda m: m.group(1) + self.home + "/", value)

    def argv(self, argv):
        """The command as run here: the placeholders for the user's things replaced."""
        out = [self.expand(arg.replace(CHECKOUT, self.checkout)) for arg in argv]
        if out and out[0].startswith("ansible-"):
            out[0] = tool(out[0])
        # no terminal here: the vault password from a file
        while "--ask-vault-pass" in out or "-J" in out:
            i = out.index("--ask-vault-pass") if "--ask-vault-pass" in out else out.index("-J")
            out[i:i + 1] = ["--vault-password-file", self.vault_password]
        return out

    def run(self, argv, stdin=None):
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, _sep, value = assignment.partition("=")
                self.exported[name] = self.expand(value)
            return 0, ""
        if argv[0] == "cd":
            if len(argv) != 2 or not os.path.isdir(self.argv(argv)[1]):
                return 1, "cd: no directory %s" % argv[1:]
            self.cwd = self.argv(argv)[1]
            return 0, ""
        done = subprocess.run(self.argv(argv), cwd=self.cwd, env=self.env(), input=stdin, check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        return done.returncode, done.stdout


def copy_checkout(target):
    """This checkout's files (committed or not, not ignored) as a git repository of its own."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    for name in files:
        if name and os.path.isfile(os.path.join(REPO, name)):
            os.makedirs(os.path.dirname(os.path.join(target, name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), os.path.join(target, name))
    git = ["git", "-c", "user.name=readme test", "-c", "user.email=readme@test.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "checkout"]):
        subprocess.run(git + args, cwd=target, check=True, stdout=subprocess.PIPE)


def demo_vault_password():
    found = DEMO_VAULT_PASSWORD.findall(readme())
    assert len(set(found)) == 1, "the README gives the example inventory's demo vault password once: %s" % found
    return found[0]


def install_path(cmd):
    """Where an `ansible-galaxy collection install` puts the collection, as written (-p, else the default)."""
    for flag in ("-p", "--collections-path"):
        if flag in cmd.argv[:-1]:
            return cmd.argv[cmd.argv.index(flag) + 1]
    return DEFAULT_COLLECTIONS


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Each block of the README that installs the collection, run as written in an empty HOME of
    its own: the Install section's blocks from a copy of this checkout, the Quick start's from the
    tarball the first one built, in a directory of the user's. {"runs": [Run], "quick": the Quick
    start's Run (its commands run there next), "problems": [...]}."""
    runs, problems, quick = [], [], None
    blocks = {}
    for cmd in commands(readme()):
        blocks.setdefault(cmd.block, []).append(cmd)
    tarball = None
    for block in sorted(blocks):
        cmds = blocks[block]
        installs = [c for c in cmds if c.argv[0] == "ansible-galaxy" and c.argv[1:3] == ["collection", "install"]]
        if not installs:
            continue
        run = Run(str(tmp_path_factory.mktemp("install")))
        copy_checkout(run.checkout)
        if cmds[0].section == QUICK_START:
            if tarball is None:
                problems.append("the Quick start installs a tarball no block of the Install section built")
                continue
            shutil.copy2(tarball, run.cwd)
        for cmd in cmds:
            rc, out = run.run(cmd.argv)
            if rc != 0:
                problems.append("%r failed (rc %s):\n%s" % (cmd, rc, out[-2000:]))
        where = install_path(installs[0])
        if not os.path.isfile(os.path.join(run.expand(where), "ansible_collections", "obtools", "oms", "MANIFEST.json")):
            problems.append("block %d (%s) installs no collection at %s" % (block, cmds[0].section, where))
        built = glob.glob(os.path.join(run.checkout, "obtools-oms-*.tar.gz"))
        if tarball is None and built:
            tarball = built[0]
        if cmds[0].section == QUICK_START:
            quick = run
            for cmd in [c for c in commands(readme()) if c.section == QUICK_START and kind(c) == "cp"]:
                rc, out = run.run(cmd.argv)  # the inventory every later Quick start command names
                if rc != 0:
                    problems.append("%r failed (rc %s):\n%s" % (cmd, rc, out[-2000:]))
            if where != QUICK_COLLECTIONS:
                problems.append("the Quick start installs into %s; this test expects %s" % (where, QUICK_COLLECTIONS))
        else:
            run.cwd = os.path.join(run.base, "work")  # the Quick start runs in a directory of the user's
        runs.append(run)
    return {"runs": runs, "quick": quick, "problems": problems}


# --- one check per kind of command ----------------------------------------------------------------

def check_bash(cmd, run):
    script = cmd.argv[1] if len(cmd.argv) > 1 else ""
    if not script.startswith("scripts/") or not os.path.isfile(os.path.join(REPO, script)):
        return ["%s: no such script in the repository" % script]
    callers = []
    for caller in ("scripts/test.sh", ".ci/run"):
        with open(os.path.join(REPO, caller)) as f:
            if re.search(r"(^|\s)bash %s(\s|$)" % re.escape(script), f.read(), re.M):
                callers.append(caller)
    if not callers:
        return ["%s: neither scripts/test.sh nor .ci/run runs it, so CI does not" % script]
    if script == "scripts/test.sh":
        with open(os.path.join(REPO, script)) as f:
            stages = set(re.findall(r"^run_(\w+)\(\)", f.read(), re.M))
        return ["scripts/test.sh has no stage %s" % a for a in cmd.argv[2:] if a not in stages]
    return []


def check_galaxy(cmd, run):
    from ansible.cli.galaxy import GalaxyCLI
    options, error = parse_options(GalaxyCLI, cmd.argv)
    if error:
        return ["ansible-galaxy refuses it: %s" % error]
    problems = []
    version = str(galaxy()["version"])
    for arg in options.args if hasattr(options, "args") else []:
        said = re.findall(r"obtools-oms-(\d+\.\d+\.\d+)\.tar\.gz", arg)
        if said and said != [version]:
            problems.append("%s: the tarball of this version is obtools-oms-%s.tar.gz" % (arg, version))
        if "://" in arg and not arg.startswith("git+file://"):
            problems.append("%s: the collection has no public home; install from the checkout" % arg)
        if arg.startswith("git+file://") and not arg.startswith("git+file://" + CHECKOUT):
            problems.append("%s: name the checkout as %s" % (arg, CHECKOUT))
    if options.action == "install" and cmd.section not in ("Install", QUICK_START):
        problems.append("installs outside the Install section and the Quick start")
    return problems  # the install blocks themselves are run by the `installed` fixture


def check_cp(cmd, run):
    if len(cmd.argv) != 3:
        return ["cp with %d arguments" % (len(cmd.argv) - 1)]
    source, target = cmd.argv[1:]
    problems = []
    if not source.startswith(INSTALLED):
        problems.append("%s: copy from the installed collection (%s...)" % (source, INSTALLED))
    rc, out = run.run(cmd.argv)
    if rc != 0:
        problems.append("%s is not in the installed collection: %s" % (source, out.strip()))
    if os.path.isabs(target) or "/" in target:
        problems.append("%s: copy into the working directory" % target)
    return problems


def check_vault(cmd, run):
    from ansible.cli.vault import VaultCLI
    options, error = parse_options(VaultCLI, cmd.argv)
    if error:
        return ["ansible-vault refuses it: %s" % error]
    if options.action != "encrypt_string":
        return ["ansible-vault %s: only encrypt_string is checked" % options.action]
    rc, out = run.run(cmd.argv, stdin="an example password")
    name = getattr(options, "encrypt_string_stdin_name", None)
    if rc != 0 or not name or ("%s: !vault |" % name) not in out:
        return ["ansible-vault gave no `%s: !vault |` (rc %s): %s" % (name, rc, out[-500:])]
    with open(os.path.join(REPO, "docs", "inventory.example.yml")) as f:
        if ("%s: !vault |" % name) not in f.read():
            return ["docs/inventory.example.yml has no vaulted %s to replace" % name]
    return []


def playbook_problems(cmd, run, inventories):
    """Static checks of an ansible-playbook command; the --list-hosts run is playbook_runs'."""
    from ansible.cli.playbook import PlaybookCLI
    options, error = parse_options(PlaybookCLI, cmd.argv)
    if error:
        return ["ansible-playbook refuses it: %s" % error], None
    problems = []
    for playbook in options.args:
        name = playbook[len("obtools.oms."):] if playbook.startswith("obtools.oms.") else None
        path = os.path.join(REPO, "playbooks", name + ".yml") if name else os.path.join(REPO, playbook)
        if not os.path.isfile(path) or not (name or playbook.startswith("playbooks/")):
            problems.append("%s: no such playbook in the collection" % playbook)
    problems += extra_var_problems(options.extra_vars or [])
    for inventory in options.inventory or []:
        if inventory not in inventories:
            problems.append("-i %s: the README copies no inventory there" % inventory)
    if options.listhosts or options.syntax:
        problems.append("--list-hosts/--syntax-check: give the command that does the job")
    return problems, options


def hosts_key(options):
    """What decides the hosts a command runs on (its other options are checked without a run)."""
    targets = tuple(e for e in options.extra_vars or [] if "oms_target_hosts" in e)
    return tuple(options.args), tuple(options.inventory or []), options.subset, targets


def playbook_runs(cmds, run):
    """Each command with --list-hosts (one run per playbook, inventory, limit and oms_target_hosts),
    side by side: {command text: problems}."""
    from ansible.cli.playbook import PlaybookCLI
    started, key_of = {}, {}
    for cmd in cmds:
        key = key_of[cmd.text] = hosts_key(parse_options(PlaybookCLI, cmd.argv)[0])
        if key not in started:
            started[key] = subprocess.Popen(run.argv(cmd.argv) + ["--list-hosts"], cwd=run.cwd, env=run.env(),
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    found = {}
    for key, proc in started.items():
        output = proc.communicate()[0]
        plays = re.findall(r"^\s*hosts \((\d+)\):", output, re.M)
        if proc.returncode != 0:
            found[key] = ["fails (rc %s): %s" % (proc.returncode, output.strip()[-1500:])]
        elif not plays or "0" in plays:
            found[key] = ["a play matches no host (hosts must be in the group oms):\n%s" % output[-1500:]]
        else:
            found[key] = []
    return {text: found[key] for text, key in key_of.items()}


def check_export(cmd, run):
    """The Quick start tells Ansible where it installed the collection (-p): the same directory."""
    problems = []
    for assignment in cmd.argv[1:]:
        name, _sep, value = assignment.partition("=")
        if name != "ANSIBLE_COLLECTIONS_PATH":
            problems.append("export %s: only ANSIBLE_COLLECTIONS_PATH is checked" % name)
        elif value != QUICK_COLLECTIONS:
            problems.append("export %s=%s: the Quick start installs into %s" % (name, value, QUICK_COLLECTIONS))
    return problems or ([] if len(cmd.argv) > 1 else ["export of nothing"])


def check_builder(cmd, run):
    """ansible-builder with the checkout's EE definition: `create` (what build does before it needs a
    registry for the base image) is run in the checkout, after the tarball it takes is built."""
    argv = cmd.argv
    if argv[1:2] not in (["build"], ["create"]):
        return ["ansible-builder %s: only build and create are checked" % argv[1:2]]
    definition = argv[argv.index("--file") + 1] if "--file" in argv[:-1] else "execution-environment.yml"
    if not os.path.isfile(os.path.join(REPO, definition)):
        return ["--file %s: no such EE definition in the checkout" % definition]
    rc, out = run.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", CHECKOUT, CHECKOUT])
    if rc != 0:
        return ["the tarball for the EE was not built: %s" % out[-500:]]
    context = os.path.join(run.base, "ee-context")
    done = subprocess.run([tool("ansible-builder"), "create", "--file", definition, "--context", context],
                          cwd=run.checkout, env=run.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if done.returncode != 0:
        return ["ansible-builder create fails: %s" % done.stdout[-800:]]
    if not glob.glob(os.path.join(context, "_build", "collections", "obtools-oms-*.tar.gz")):
        return ["the EE's build context holds no obtools-oms tarball"]
    return []


def check_doc(cmd, run):
    rc, out = run.run(cmd.argv)
    return [] if rc == 0 else ["ansible-doc fails: %s" % out[-500:]]


def ee_requirements():
    with open(os.path.join(REPO, "meta", "ee-requirements.txt")) as f:
        return sorted(re.sub(r"\s", "", line).lower() for line in f if line.strip() and not line.startswith("#"))


def venvs(text):
    return [c.argv[3] for c in commands(text) if re.match(r"python3(\.\d+)?$", c.argv[0]) and c.argv[1:3] == ["-m", "venv"]]


def check_pip(cmd, run):
    argv = cmd.argv
    if argv[0].startswith("python"):
        argv = argv[2:]
    problems = []
    if "/" in argv[0] and os.path.dirname(os.path.dirname(argv[0])) not in venvs(readme()):
        problems.append("%s: not the pip of a venv the README makes" % argv[0])
    if argv[1:2] != ["install"]:
        return problems + ["pip %s: only pip install is checked" % argv[1:2]]
    wanted = sorted(re.sub(r"\s", "", a).lower() for a in argv[2:] if not a.startswith("-"))
    if wanted != ee_requirements():
        problems.append("installs %s; the modules need meta/ee-requirements.txt's %s" % (wanted, ee_requirements()))
    return problems


def check_venv(cmd, run):
    minor = re.match(r"python3\.(\d+)$", cmd.argv[0])
    problems = []
    if not minor or int(minor.group(1)) < 9:
        problems.append("%s: the modules need Python 3.9 or later on the OMS host" % cmd.argv[0])
    interpreter = os.path.join(cmd.argv[3], "bin", "python")
    with open(os.path.join(REPO, "docs", "inventory.example.yml")) as f:
        if "ansible_python_interpreter: %s" % interpreter not in f.read():
            problems.append("docs/inventory.example.yml does not name %s as ansible_python_interpreter" % interpreter)
    return problems


def kind(cmd):
    argv = cmd.argv
    if argv[0] == "bash":
        return "bash"
    if argv[0] in ("ansible-playbook", "ansible-galaxy", "ansible-vault", "ansible-doc", "ansible-builder", "cp", "cd",
                   "export"):
        return argv[0]
    if os.path.basename(argv[0]) in ("pip", "pip3") or (argv[0].startswith("python") and argv[1:3] == ["-m", "pip"]):
        return "pip"
    if re.match(r"python3(\.\d+)?$", argv[0]) and argv[1:3] == ["-m", "venv"] and len(argv) == 4:
        return "venv"
    return None


CHECKS = {"bash": check_bash, "ansible-galaxy": check_galaxy, "ansible-vault": check_vault, "export": check_export,
          "ansible-builder": check_builder,
          "ansible-doc": check_doc, "cp": check_cp, "pip": check_pip, "venv": check_venv}


def problems_of(cmds, run):
    """{command: [problems]} of the commands, in the README's order (cp before the playbooks)."""
    inventories = {c.argv[2] for c in cmds if kind(c) == "cp" and len(c.argv) == 3}
    out, playbooks = {}, []
    for cmd in cmds:
        k = kind(cmd)
        if k is None:
            out[cmd.text] = ["no check covers this command: give it a check in tests/unit/test_readme.py"]
        elif k == "cd":
            out[cmd.text] = [] if cmd.argv == ["cd", CHECKOUT] else ["cd: only into the checkout, %s" % CHECKOUT]
        elif k == "ansible-playbook":
            found, options = playbook_problems(cmd, run, inventories)
            out[cmd.text] = found
            if options is not None and not found:
                playbooks.append(cmd)
        elif k == "ansible-galaxy" and cmd.section == "Install":
            out[cmd.text] = CHECKS[k](cmd, run)
        else:
            out[cmd.text] = CHECKS[k](cmd, run)
    for text, found in playbook_runs(playbooks, run).items():
        out[text] += found
    return out


# --- the tests ------------------------------------------------------------------------------------

def test_the_install_blocks_install_the_collection_where_the_quick_start_takes_it_from(installed):
    assert installed["runs"], "the README has no block that installs the collection"
    assert len(installed["runs"]) >= 3, ("the README installs from the tarball and from the checkout's git repository, "
                                         "and the Quick start from the tarball with -p")
    assert installed["problems"] == []
    assert installed["quick"] is not None, "the Quick start installs no collection"
    shipped = installed["quick"].argv([INSTALLED])[0]
    for name in ("docs/inventory.example.yml", "README.md", "playbooks/upgrade.yml", "playbooks/rollback.yml"):
        assert os.path.isfile(os.path.join(shipped, name)), "the installed collection lacks %s" % name


def test_every_command_of_the_readme_is_checked_and_works_as_written(installed):
    cmds = commands(readme())
    assert len(cmds) > 10
    wanted = {"ansible-playbook", "ansible-galaxy", "cp", "bash", "pip"}
    assert wanted <= {kind(c) for c in cmds}, "the README gives fewer kinds of command than expected"
    run = installed["quick"]
    found = {text: p for text, p in problems_of([c for c in cmds if kind(c) != "ansible-galaxy"], run).items() if p}
    for cmd in cmds:
        if kind(cmd) == "ansible-galaxy":
            p = check_galaxy(cmd, run)
            if p:
                found[cmd.text] = p
    assert found == {}, "\n".join("%s\n    %s" % (t, "\n    ".join(p)) for t, p in found.items())


BROKEN = [
    ("bash scripts/demo2.sh", "no such script"),
    ("bash scripts/find_python.sh", "CI does not"),
    ("bash scripts/test.sh unit nosuchstage", "no stage"),
    ("ansible-playbook obtools.oms.upgrde -i inventory.yml", "no such playbook"),
    ("ansible-playbook obtools.oms.upgrade -i inventory.yml --chek", "refuses it"),
    ("ansible-playbook obtools.oms.rollback -i inventory.yml -e oms_rollback_accept_dataloss=true", "documents"),
    ("ansible-playbook obtools.oms.upgrade -i inventory.yml -e oms_upgrade_auto_rollback=maybe", "not a boolean"),
    ("ansible-playbook obtools.oms.upgrade -i inventory.yml -e oms_upgrade_dump_compress=bzip2", "not one of"),
    ("ansible-playbook obtools.oms.upgrade -i hosts.ini", "copies no inventory"),
    ("ansible-playbook obtools.oms.rollback -i inventory.yml -l oms1", "fails"),
    ("ansible-playbook obtools.oms.upgrade -i inventory.yml -e oms_target_hosts=omsgroup", "matches no host"),
    ("ansible-galaxy collection install obtools-oms-9.9.9.tar.gz", "the tarball of this version"),
    ("ansible-galaxy collection install git+https://github.com/obtools/oms.git", "no public home"),
    ("cp ~/oms-collections/ansible_collections/obtools/oms/tests/unit/test_readme.py inventory.yml", "not in the installed"),
    ("cp ~/.ansible/collections/ansible_collections/obtools/oms/docs/inventory.example.yml inventory.yml",
     "copy from the installed collection"),
    ("export ANSIBLE_COLLECTIONS_PATH=~/elsewhere", "installs into"),
    ("export ANSIBLE_COLLECTION_PATH=~/oms-collections", "only ANSIBLE_COLLECTIONS_PATH"),
    ("ansible-builder build --file ee.yml -t obtools-oms-ee", "no such EE definition"),
    ("/opt/obtools-oms/bin/pip install docker PyMySQL PyYAML", "ee-requirements"),
    ("python3.6 -m venv /opt/obtools-oms", "3.9 or later"),
    ("ansible-vault encrypt_string --ask-vault-pass --stdin-name oms_console_pasword", "no vaulted"),
    ("docker ps", "no check covers"),
]


@pytest.mark.parametrize("line,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_command_is_caught(installed, line, expected):
    text = "## %s\n\n```sh\ncp %sdocs/inventory.example.yml inventory.yml\n```\n\n```sh\n%s\n```\n" % (
        QUICK_START, INSTALLED, line)
    cmds = commands(text)
    assert cmds[-1].text == line
    if kind(cmds[-1]) == "ansible-galaxy":
        found = check_galaxy(cmds[-1], installed["quick"])
    else:
        found = problems_of(cmds, installed["quick"])[line]
    assert any(expected in p for p in found), "%s: %s" % (line, found)


def test_the_quick_start_rolls_back_without_the_data_loss_override():
    cmds = commands(readme())
    quick = [c for c in cmds if c.section == QUICK_START]
    rollbacks = [c for c in quick if "obtools.oms.rollback" in c.argv]
    assert rollbacks, "the Quick start shows no rollback"
    assert [c for c in quick if any("oms_rollback_accept_data_loss" in a for a in c.argv)] == []
    bodies = dict(sections(readme()))
    overriding = [c for c in cmds if any("oms_rollback_accept_data_loss=true" in a for a in c.argv)]
    assert overriding, "the override is explained nowhere with its command"
    for cmd in overriding:
        body = bodies[cmd.section]
        assert cmd.section != QUICK_START and "obtools.oms.rollback" in cmd.argv
        assert "Warning" in body and "lost" in body, "%r: its section must warn what it loses" % cmd


def test_two_commands_set_up_a_fresh_machine_in_one_block():
    blocks = {}
    for cmd in commands(readme()):
        blocks.setdefault(cmd.block, []).append(cmd)
    wanted = [["bash", "scripts/demo.sh"], ["bash", "scripts/test.sh"]]
    matching = [b for b in blocks.values() if [c.argv for c in b] == wanted]
    assert len(matching) == 1, "one block with exactly: bash scripts/demo.sh, bash scripts/test.sh"
    assert matching[0][0].section == TRY_IT


def slug(heading):
    """GitHub's anchor of a heading."""
    return re.sub(r" ", "-", re.sub(r"[^\w\- ]", "", heading.strip().lower()))


def links(text):
    """The relative links of a Markdown text, outside code."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


def test_outside_try_it_the_readme_names_no_developer_file_and_links_only_what_ships(installed):
    shipped = installed["quick"].argv([INSTALLED])[0]
    problems = []
    for heading, body in sections(readme()):
        if CHECKOUT_HEADING.search(heading):
            continue
        for path in DEVELOPER_PATHS:
            for m in re.finditer(r"(?<![\w/.-])%s" % re.escape(path), body):
                problems.append("%s: names %s (%s)" % (heading, path, body[max(0, m.start() - 40):m.end() + 20].replace("\n", " ")))
        for target in links(body):
            path = target.split("#")[0]
            if path and not os.path.exists(os.path.join(shipped, path)):
                problems.append("%s: links %s, which the installed collection lacks" % (heading, target))
    assert problems == []


def markdown_files():
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.md"], cwd=REPO, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
    return [os.path.join(REPO, n) for n in names if n and os.path.isfile(os.path.join(REPO, n))]


def test_every_relative_link_of_the_markdown_files_resolves():
    files = markdown_files()
    assert os.path.join(REPO, "README.md") in files and os.path.join(REPO, "CONTRIBUTING.md") in files
    broken = []
    for path in files:
        with open(path) as f:
            text = f.read()
        for target in links(text):
            file_part, anchor = (target.split("#", 1) + [""])[:2]
            where = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(where):
                broken.append("%s: %s (no such file)" % (os.path.relpath(path, REPO), target))
            elif anchor and where.endswith(".md"):
                with open(where) as f:
                    anchors = {slug(heading) for heading, _body in sections(f.read()) if heading}
                if anchor not in anchors:
                    broken.append("%s: %s (no such heading)" % (os.path.relpath(path, REPO), target))
    assert broken == []


def test_the_developer_documents_hold_what_left_the_readme():
    """The developers' material moved, not lost: each subject has its home."""
    homes = {"CONTRIBUTING.md": ["OMS_EXHAUSTIVE=1", "OMS_FAULT_POINTS", "scripts/matrix.sh", "FIDELITY.md",
                                 "molecule/README.md", "bash scripts/demo.sh", "bash scripts/test.sh", "lanes"],
             "docs/development/what-the-tests-prove.md": ["test_controller_killed.py", "test_preflight_bad_inputs.py",
                                                          "test_secrets.py", "test_rehearse_playbook.py"],
             "docs/development/benchmarks.md": ["benchmarks/run.py", "mydumper", "The dump in pieces"],
             "docs/development/design.md": ["network_mode: none", "Predicted against measured", "The dump in pieces",
                                            "oms_journal_info", "What makes it safe", "`<journal>.stop`"],
             "docs/modules.md": ["group/obtools.oms.metadb", "oms_rollback_window", "journal_step"],
             "docs/troubleshooting.md": ["Inputs the preflight refuses", "error 1044", "Failures, kills and the commit point"]}
    for name, wanted in homes.items():
        with open(os.path.join(REPO, name)) as f:
            text = f.read()
        assert [w for w in wanted if w not in text] == [], name
    assert glob.glob(os.path.join(REPO, "docs", "development", "*.md"))


# --- what the README says of the collections path, the example inventory and AWX -------------------

def test_installed_with_p_the_playbooks_are_found_only_through_the_collections_path(installed):
    """The README's row: without ANSIBLE_COLLECTIONS_PATH, "could not be found"; with the Quick
    start's export, found."""
    run = installed["quick"]
    argv = run.argv(["ansible-playbook", "obtools.oms.upgrade", "-i", "inventory.yml", "--list-hosts"])
    for exported, expected in ((False, "could not be found"), (True, "hosts (")):
        env = run.env()
        if not exported:
            env.pop("ANSIBLE_COLLECTIONS_PATH")
        done = subprocess.run(argv, cwd=run.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        assert expected in done.stdout, "ANSIBLE_COLLECTIONS_PATH %s: %s" % (exported, done.stdout[-1000:])
        assert expected in readme() or exported, "the README does not quote %r" % expected
    # or the README's ansible.cfg, in the directory the playbooks run from, instead of the export
    configs = re.findall(r"```ini\n(.*?)```", readme(), flags=re.S)
    assert [c for c in configs if "collections_path" in c], "the README shows no ansible.cfg collections_path"
    config_dir = os.path.join(run.base, "with-ansible-cfg")
    os.makedirs(config_dir, exist_ok=True)
    shutil.copy2(os.path.join(run.cwd, "inventory.yml"), config_dir)
    with open(os.path.join(config_dir, "ansible.cfg"), "w") as f:
        f.write([c for c in configs if "collections_path" in c][0])  # as written: Ansible expands ~ itself
    env = run.env()
    env.pop("ANSIBLE_COLLECTIONS_PATH")
    done = subprocess.run(argv, cwd=config_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert done.returncode == 0 and "hosts (" in done.stdout, done.stdout[-1000:]


def test_the_example_inventory_uses_https_and_a_vault_example_the_readme_explains(installed):
    """Its hosts' consoles on https with the certificate checked; its vaulted console password
    decrypts with the demo vault password the README gives, to the placeholder the README names,
    and with any other password fails as the README says."""
    run = installed["quick"]
    playbook = os.path.join(run.base, "show-inventory.yml")
    with open(playbook, "w") as f:
        f.write("- hosts: oms\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n"
                "        msg: \"EXAMPLE {{ [inventory_hostname, oms_console_url, oms_console_validate_certs,"
                " oms_console_password] | to_json }}\"\n"
                "      delegate_to: localhost\n")
    vault_file = os.path.join(run.base, "vault-try")
    outputs = {}
    for password in (demo_vault_password(), "not the demo password"):
        with open(vault_file, "w") as f:
            f.write(password + "\n")
        outputs[password] = subprocess.run(
            [tool("ansible-playbook"), "-i", "inventory.yml", playbook, "--vault-password-file", vault_file],
            cwd=run.cwd, env=run.env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, check=False).stdout
    shown = [json.loads(json.loads('"%s"' % m)) for m in re.findall(r'"msg": "EXAMPLE (.*)"', outputs[demo_vault_password()])]
    assert len(shown) >= 2, outputs[demo_vault_password()][-1500:]
    for host, url, validate_certs, password in shown:
        assert url.startswith("https://") and validate_certs is True, (host, url, validate_certs)
        assert password in readme(), "the README does not name the example's placeholder %r" % password
    wrong = outputs["not the demo password"]
    assert "Decryption failed (no vault secrets were found that could decrypt)" in wrong, wrong[-1500:]
    assert "Decryption failed (no vault secrets were found that could decrypt)" in readme()


def yaml_blocks(text):
    """The YAML code blocks of a Markdown text, without the indentation of their fence."""
    return ["\n".join(line[len(indent):] for line in body.split("\n"))
            for indent, body in re.findall(r"^( *)```yaml\n(.*?)^ *```", text, flags=re.M | re.S)]


def test_the_awx_project_playbooks_import_the_collection_s(installed):
    run = installed["quick"]
    bodies = dict(sections(readme()))
    awx = [h for h in bodies if h.startswith("AWX")]
    assert awx, "the README has no AWX section"
    blocks = [b for b in yaml_blocks(bodies[awx[0]]) if "import_playbook" in b]
    assert blocks, "the AWX section shows no project playbook"
    for number, block in enumerate(blocks):
        path = os.path.join(run.cwd, "awx-project-%d.yml" % number)
        with open(path, "w") as f:
            f.write(block)
        done = subprocess.run([tool("ansible-playbook"), "-i", "inventory.yml", path, "--syntax-check"],
                              cwd=run.cwd, env=run.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        assert done.returncode == 0, done.stdout[-1500:]
    for playbook in re.findall(r"`(obtools\.oms\.\w+)`\)", bodies[awx[0]]):
        assert os.path.isfile(os.path.join(REPO, "playbooks", playbook.split(".")[-1] + ".yml")), playbook
