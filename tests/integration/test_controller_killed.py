"""The controller is killed (SIGKILL of ansible-playbook's whole process group, as a lost machine
would be) at random points of one upgrade, again and again: every re-run resumes, the last one
completes, and a rollback then gives back the data as it was before the upgrade (the tests' own
row-for-row comparison, tests/integration/rows.py).

The points are seeded (the seed is printed; OMS_KILL_SEED repeats a run) and OMS_KILL_RUNS (default
5) kills happen in one upgrade: each kill waits until the journal shows the chosen step (started
or later), then a random 0-3 s more, so kills land inside steps, including the background dump and
docker_init.sh, which outlive the controller (the re-run must wait for them, never start a second
one), and between a step's work and its journal write. Each re-run also finds the dead run's lock
and takes it over.
"""
import json
import os
import random
import signal
import subprocess
import time

from conftest import INSTANCE, ansible_env
from playbooks import journal, kill_controller, playbook_command, run_playbook, tail, write_inventory
from rows import differences, table_rows

STEPS = ["image_load", "ha_off", "stop_old", "heartbeat_prune", "backup", "run_new", "init", "health",
         "ha_on", "report"]


def kill_at(cmd, journal_path, step, delay, timeout=1500):
    """Run cmd; SIGKILL the controller (kill_controller) `delay` s after the journal shows `step`.
    Returns (killed, rc, output)."""
    out_path = journal_path + ".killtest.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, env=ansible_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        seen_at = None
        deadline = time.time() + timeout
        while proc.poll() is None and time.time() < deadline:
            if seen_at is None:
                try:
                    with open(journal_path) as handle:
                        if step in json.load(handle).get("steps", {}):
                            seen_at = time.time()
                except (OSError, ValueError):
                    pass
            elif time.time() - seen_at >= delay:
                kill_controller(proc, cmd[cmd.index("-i") + 1])
                break
            time.sleep(0.05)
        killed = proc.returncode == -signal.SIGKILL
        if proc.poll() is None:
            kill_controller(proc, cmd[cmd.index("-i") + 1])
    with open(out_path) as handle:
        output = handle.read()
    os.unlink(out_path)
    return killed, proc.returncode, output


def test_kills_then_resume_then_rollback_gives_identical_data(instance):
    d = instance
    runs = int(os.environ.get("OMS_KILL_RUNS", "5"))
    seed = int(os.environ.get("OMS_KILL_SEED") or random.SystemRandom().randrange(1 << 16))
    rng = random.Random(seed)
    points = sorted(rng.sample(range(len(STEPS)), min(runs, len(STEPS))))
    plan = [(STEPS[i], round(rng.uniform(0, 3), 1)) for i in points]
    print("kill plan (OMS_KILL_SEED=%d): %s" % (seed, plan))

    inventory = write_inventory(d)
    before = table_rows(d)
    journal_path = os.path.join(d["backup_dir"], "oms_upgrade_journal.json")
    kills = []
    for step, delay in plan:
        killed, rc, output = kill_at(playbook_command(inventory, "upgrade"), journal_path, step, delay)
        if killed:
            kills.append((step, delay))
            continue
        # The run got past the point, or failed: a failure is a finding, not a void kill.
        assert rc == 0, "run meant to be killed at %s failed by itself:\n%s" % (step, output[-4000:])
        break
    print("killed at: %s" % kills)
    assert len(kills) >= min(runs, len(STEPS)) - 1, "too few kills landed: %s of %s" % (kills, plan)

    last = run_playbook(inventory, "upgrade")
    assert last.rc == 0, tail(last)
    steps = journal(d)["steps"]
    assert [s for s in STEPS if steps.get(s, {}).get("status") != "done"] == []

    back = run_playbook(inventory, "rollback", {"oms_rollback_accept_data_loss": "true"}, limit=INSTANCE)
    assert back.rc == 0, tail(back)
    assert differences(before, table_rows(d)) == []
