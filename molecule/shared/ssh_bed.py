"""Reach a test-bed OMS host the way users do: over SSH, as an unprivileged user with sudo, from a
controller that is not the OMS host.

Usage:
  ssh_bed.py up STATE_DIR USER [--su | --docker-group]
                                        sshd on 127.0.0.1:<free port> for USER (created, sudo)
  ssh_bed.py run STATE_DIR HOST VARS [--kill-after JOURNAL STEP] -- PLAYBOOK [ARGS...]
  ssh_bed.py down STATE_DIR             stop sshd, remove the user, its sudoers file and the keys

`up` creates USER (no password, so key authentication only) with passwordless sudo
(/etc/sudoers.d/obtools-USER), generates a fresh host key and client key in STATE_DIR (0700) and
starts `sshd -D` with a configuration of its own: loopback only, that user only, keys only.
With --su, USER may also `su` to root without a password (one line of /etc/pam.d/su, marked,
that `down` removes), so that become_method su is tested too.
With --docker-group, USER gets no sudo and no su but the group docker: `run` then connects without
become, and the modules run on a Python USER can reach (host_python: Debian's, in a venv of its own
with the collection's three libraries, as the README's "Each OMS host" makes one under /opt).
`run` runs ansible-playbook in a container of its own, as an execution environment would: its own
hostname (ctl-<random>), its own processes (a private pid namespace), its own HOME (a tmpfs), the
repository, the venv and its Python mounted read-only; it reaches 127.0.0.1:<port> as USER with
`become: true` (sudo), the inventory host HOST getting the variables of the YAML file VARS.
With --kill-after, the container is killed (SIGKILL to every process in it, as a lost execution
environment or AWX job pod) once JOURNAL, on this host, says STEP is done; exit 0 when it was.
`down` leaves nothing listening and nothing of the user behind.
"""
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time

import yaml

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE_IMAGE = "obtools-testbed/debian:bookworm"
CONTROLLER_IMAGE = "obtools-testbed/controller:bookworm"
STATE = "state.json"


def sh(argv, **kw):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, **kw)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(state_dir):
    with open(os.path.join(state_dir, STATE)) as handle:
        return json.load(handle)


def save(state_dir, state):
    path = os.path.join(state_dir, STATE)
    with open(path + ".tmp", "w") as handle:
        json.dump(state, handle)
    os.replace(path + ".tmp", path)


def user_exists(user):
    return subprocess.run(["id", "-u", user], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode == 0


def write_private(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


PAM_SU = "/etc/pam.d/su"


def pam_marker(user):
    return "# obtools-testbed ssh_bed %s" % user


def allow_su(user):
    """USER may su to root without a password (pam_succeed_if on the invoking user's name)."""
    with open(PAM_SU) as handle:
        lines = handle.read().splitlines(True)
    if any(pam_marker(user) in line for line in lines):
        return
    line = "auth       sufficient pam_succeed_if.so use_uid user = %s quiet %s\n" % (user, pam_marker(user))
    at = next((i + 1 for i, text in enumerate(lines) if "pam_rootok.so" in text and not text.lstrip().startswith("#")), 0)
    lines.insert(at, line)
    with open(PAM_SU + ".obtools-tmp", "w") as handle:
        handle.write("".join(lines))
    os.chmod(PAM_SU + ".obtools-tmp", 0o644)
    os.replace(PAM_SU + ".obtools-tmp", PAM_SU)


def disallow_su(user):
    try:
        with open(PAM_SU) as handle:
            lines = handle.read().splitlines(True)
    except OSError:
        return
    kept = [line for line in lines if pam_marker(user) not in line]
    if kept != lines:
        with open(PAM_SU + ".obtools-tmp", "w") as handle:
            handle.write("".join(kept))
        os.chmod(PAM_SU + ".obtools-tmp", 0o644)
        os.replace(PAM_SU + ".obtools-tmp", PAM_SU)


HOST_PYTHON = "/usr/bin/python3"


def host_python():
    """A Python any user may run, with the libraries the modules need (requirements.txt's pins of
    docker, PyMySQL, PyYAML), made once under the test bed's root: the test bed's venv is built on a
    Python under /root, which only root can reach. Returns its interpreter's path."""
    pins = []
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        for line in handle:
            name = line.split("==")[0].strip().lower()
            if name in ("docker", "pymysql", "pyyaml", "requests"):
                pins.append(line.strip())
    tag = hashlib.sha256(("\n".join(sorted(pins)) + os.path.realpath(HOST_PYTHON)).encode()).hexdigest()[:12]
    base = os.path.join(os.environ.get("OMS_TESTBED_ROOT") or "/var/tmp/obtools-testbed", "host-python")
    venv = os.path.join(base, tag)
    python = os.path.join(venv, "bin", "python")
    os.makedirs(base, mode=0o755, exist_ok=True)
    with open(os.path.join(base, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be making it
        if not os.path.exists(os.path.join(venv, ".complete")):
            shutil.rmtree(venv, ignore_errors=True)
            sh([HOST_PYTHON, "-m", "venv", venv])
            sh([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + pins)
            sh(["chmod", "-R", "a+rX", venv])
            open(os.path.join(venv, ".complete"), "w").close()
    return python


def up(state_dir, user, su=False, docker_group=False):
    for tool in ("sshd", "ssh-keygen", "sudo", "visudo", "useradd"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("%s is missing: bash scripts/bootstrap.sh installs openssh-server, "
                     "openssh-client and sudo" % tool)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    os.chmod(state_dir, 0o700)
    if os.path.exists(os.path.join(state_dir, STATE)):
        down(state_dir)
    state = {"user": user, "created_user": False, "sudoers": "/etc/sudoers.d/obtools-%s" % user}
    save(state_dir, state)
    if docker_group and user_exists(user):
        sys.exit("%s exists already: --docker-group makes a user of its own" % user)
    if not user_exists(user):
        sh(["useradd", "--create-home", "--shell", "/bin/bash"] + (["--groups", "docker"] if docker_group else [])
           + [user])
        state["created_user"] = True
        save(state_dir, state)
    # '*': no password can match, and the account is not locked ('!'), so sshd lets keys in.
    sh(["usermod", "-p", "*", user])
    if docker_group:
        state.update({"docker_group": True, "python": host_python()})
        save(state_dir, state)
    else:
        sudoers = "%s ALL=(ALL) NOPASSWD: ALL\n" % user
        write_private(state["sudoers"] + ".tmp", sudoers, 0o440)
        sh(["visudo", "-cqf", state["sudoers"] + ".tmp"])
        os.replace(state["sudoers"] + ".tmp", state["sudoers"])
    if su:
        state["su"] = True
        save(state_dir, state)
        allow_su(user)
    key = os.path.join(state_dir, "id_ed25519")
    host_key = os.path.join(state_dir, "host_ed25519")
    for path in (key, key + ".pub", host_key, host_key + ".pub"):
        if os.path.exists(path):
            os.unlink(path)
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "obtools-testbed-client", "-f", key])
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "obtools-testbed-host", "-f", host_key])
    home = os.path.expanduser("~" + user)
    ssh_dir = os.path.join(home, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    with open(key + ".pub") as handle:
        write_private(os.path.join(ssh_dir, "authorized_keys"), handle.read())
    sh(["chown", "-R", "%s:" % user, ssh_dir])
    port = free_port()
    with open(host_key + ".pub") as handle:
        write_private(os.path.join(state_dir, "known_hosts"),
                      "[127.0.0.1]:%d %s" % (port, " ".join(handle.read().split()[:2])) + "\n")
    config = os.path.join(state_dir, "sshd_config")
    write_private(config, "\n".join([
        "ListenAddress 127.0.0.1", "Port %d" % port, "HostKey %s" % host_key,
        "PidFile %s" % os.path.join(state_dir, "sshd.pid"), "AllowUsers %s" % user,
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin no", "UsePAM no", "AuthorizedKeysFile .ssh/authorized_keys",
        "X11Forwarding no", "AllowTcpForwarding no", "PrintMotd no", "LogLevel VERBOSE",
        "MaxStartups 50:30:100", "MaxSessions 50", "Subsystem sftp internal-sftp", ""]))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = open(os.path.join(state_dir, "sshd.log"), "ab")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", config, "-E", os.path.join(state_dir, "sshd.log")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    state.update({"port": port, "pid": proc.pid, "config": config, "key": key,
                  "known_hosts": os.path.join(state_dir, "known_hosts")})
    save(state_dir, state)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                sys.exit("sshd did not start:\n" + open(os.path.join(state_dir, "sshd.log")).read()[-2000:])
            time.sleep(0.1)
    # The user may log in with its key only, and become root with sudo, non-interactively; with
    # --docker-group, it may not become root but may use Docker, on its Python.
    check, expect = "id -un; sudo -n id -un", [user, "root"]
    if docker_group:
        check = ("id -un; sudo -n true 2>/dev/null && echo sudo-works || echo no-sudo; "
                 "%s -c 'import docker; print(docker.from_env().ping())'" % state["python"])
        expect = [user, "no-sudo", "True"]
    out = subprocess.run(["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
                          "-o", "UserKnownHostsFile=" + state["known_hosts"], "-o", "StrictHostKeyChecking=yes",
                          "%s@127.0.0.1" % user, check],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False)
    if out.returncode != 0 or out.stdout.split() != expect:
        sys.exit("ssh as %s and %s failed: %s" % (user, "docker" if docker_group else "sudo", out.stdout))
    print("sshd for %s on 127.0.0.1:%d (pid %d)" % (user, port, proc.pid))


def _is_our_sshd(pid, config):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return config.encode() in handle.read()
    except OSError:
        return False


def down(state_dir):
    try:
        state = load(state_dir)
    except (OSError, ValueError):
        print("nothing to take down in %s" % state_dir)
        return
    pid = state.get("pid")
    if pid and _is_our_sshd(pid, state.get("config", "")):
        os.kill(pid, 15)
        for dummy in range(100):
            if not _is_our_sshd(pid, state["config"]):
                break
            time.sleep(0.1)
    if os.path.exists(state["sudoers"]):
        os.unlink(state["sudoers"])
    disallow_su(state["user"])
    if state.get("created_user") and user_exists(state["user"]):
        for dummy in range(50):  # a session that is still closing holds the user for a moment
            if subprocess.run(["userdel", "-r", state["user"]], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False).returncode == 0:
                break
            time.sleep(0.2)
    for name in ("id_ed25519", "id_ed25519.pub", "host_ed25519", "host_ed25519.pub", "known_hosts",
                 "sshd_config", "sshd.pid", "inventory.yml", STATE):
        path = os.path.join(state_dir, name)
        if os.path.exists(path):
            os.unlink(path)
    print("sshd stopped, user %s and its keys removed" % state["user"])


def controller_image():
    if subprocess.run(["docker", "image", "inspect", CONTROLLER_IMAGE], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, check=False).returncode == 0:
        return
    # The test bed's Debian base image plus the OpenSSH client; the machine's Debian mirror.
    subprocess.run(
        ["docker", "build", "--network", "host", "-q", "-t", CONTROLLER_IMAGE, "-"], check=True,
        input=("FROM %s\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
               "--no-install-recommends openssh-client >/dev/null && rm -rf /var/lib/apt/lists/*\n"
               % BASE_IMAGE).encode(), stdout=subprocess.DEVNULL)


def venv_home(venv):
    """The directory of the Python the venv was made from (pyvenv.cfg's home)."""
    with open(os.path.join(venv, "pyvenv.cfg")) as handle:
        for line in handle:
            key, dummy, value = line.partition("=")
            if key.strip() == "home":
                return os.path.realpath(value.strip())
    return os.path.dirname(os.path.realpath(os.path.join(venv, "bin", "python")))


def step_done(journal, step):
    try:
        with open(journal) as handle:
            return json.load(handle).get("steps", {}).get(step, {}).get("status") == "done"
    except (OSError, ValueError):
        return False


def run(state_dir, host, vars_file, playbook_args, kill_after=None, stdout=None):
    state = load(state_dir)
    with open(vars_file) as handle:
        host_vars = yaml.safe_load(handle) or {}
    venv_python = os.path.join(ROOT, ".venv", "bin", "python")
    host_vars.update({
        "ansible_host": "127.0.0.1",
        "ansible_port": state["port"],
        "ansible_user": state["user"],
        "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": state["key"],
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes" % state["known_hosts"],
        "ansible_become": True,
        # the OMS host's interpreter (the test bed's venv: docker, PyMySQL, PyYAML), run by root
        "ansible_python_interpreter": venv_python,
    })
    if state.get("docker_group"):
        # no become at all: the user's own rights (the docker group) on a Python it can reach
        host_vars.update({"ansible_become": False, "ansible_python_interpreter": state["python"]})
    else:
        host_vars.setdefault("ansible_become_method", "sudo")  # VARS may say su
    inventory = os.path.join(state_dir, "inventory.yml")
    write_private(inventory, yaml.safe_dump({"all": {"children": {"oms": {"hosts": {host: host_vars}}}}}))
    controller_image()
    name = "ctl-" + secrets.token_hex(4)
    venv = os.path.realpath(os.path.join(ROOT, ".venv"))
    collections = os.environ.get("OMS_COLLECTIONS_DIR", "/var/tmp/obtools-oms/collections")
    paths = {ROOT, venv, state_dir, collections}
    # The venv's Python (pyenv's here), unless it is the system's: the image has Debian's own.
    prefix = os.path.dirname(venv_home(venv))
    if prefix not in ("/", "/usr", "/usr/local"):
        paths.add(prefix)
    mounts = []
    for path in sorted(paths):
        mounts += ["-v", "%s:%s:ro" % (path, path)]
    argv = (["docker", "run", "--rm", "--name", name, "--hostname", name, "--net", "host",
             "--tmpfs", "/home/ctl:mode=0700", "-e", "HOME=/home/ctl", "-e", "USER=ctl",
             "-e", "ANSIBLE_COLLECTIONS_PATH=" + collections, "-e", "ANSIBLE_FORCE_COLOR=0",
             "-e", "ANSIBLE_LOCALHOST_WARNING=false", "-e", "ANSIBLE_HOST_KEY_CHECKING=true",
             "-e", "PATH=%s/bin:/usr/local/bin:/usr/bin:/bin" % venv, "-w", ROOT]
            + mounts + [CONTROLLER_IMAGE, os.path.join(venv, "bin", "ansible-playbook"), "-i", inventory]
            + playbook_args)
    print("controller %s: ansible-playbook %s" % (name, " ".join(playbook_args)), flush=True)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.STDOUT if stdout else None)
    if not kill_after:
        return proc.wait()
    journal, step = kill_after
    while proc.poll() is None:
        if step_done(journal, step):
            subprocess.run(["docker", "kill", "--signal", "KILL", name], stdout=subprocess.DEVNULL, check=False)
            proc.wait()
            print("killed the controller %s (every process in it) after step %r was done" % (name, step))
            return 0
        time.sleep(0.1)
    print("the controller ended (rc=%d) before step %r was done: nothing was killed" % (proc.returncode, step))
    return 1


def main(argv):
    if len(argv) >= 4 and argv[1] == "up":
        return up(argv[2], argv[3], su="--su" in argv[4:], docker_group="--docker-group" in argv[4:])
    if len(argv) == 3 and argv[1] == "down":
        return down(argv[2])
    if len(argv) >= 6 and argv[1] == "run" and "--" in argv:
        sep = argv.index("--")
        opts, playbook_args = argv[5:sep], argv[sep + 1:]
        kill_after = (opts[1], opts[2]) if opts[:1] == ["--kill-after"] and len(opts) == 3 else None
        return run(argv[2], argv[3], argv[4], playbook_args, kill_after)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
