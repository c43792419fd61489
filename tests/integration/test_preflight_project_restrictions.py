"""The preflight refuses, before anything changes, while a project breaks OMS's documented upgrade
restrictions (1300.upgrade-guide/100.overview-1.md): it names the project and what to do, and the
DBA's variables (the allowed delay, going on anyway) are taken. One `ansible-playbook
playbooks/upgrade.yml -e oms_upgrade_preflight_only=true` per case, as in test_preflight_bad_inputs."""

import pytest

from conftest import INSTANCE
from preflight_state import Snapshot
from test_preflight_bad_inputs import Case, Ctx, inventory_for, run_preflight

LAGGING = "np_4xtbsim0001"  # mysql_orders_to_ob, a RUNNING migration


@pytest.fixture
def deployment(testbed):
    testbed.reset(INSTANCE)
    yield testbed.describe(INSTANCE)
    testbed.set_faults(INSTANCE, [])


def preflight(testbed, deployment, tmp_path, faults, **extra):
    testbed.set_faults(INSTANCE, faults)
    tmp_path.mkdir(exist_ok=True)
    ctx = Ctx(deployment, tmp_path)
    ctx.extra.update(extra)
    before = Snapshot(deployment, ctx.paths)
    proc, took = run_preflight(ctx, Case("project_restrictions", "", ""), inventory_for(deployment))
    print("preflight rc=%s in %.1f s" % (proc.returncode, took))
    return proc, before.differences()


def test_a_lagging_project_is_refused_by_name_before_anything_changes(testbed, deployment,
                                                                      tmp_path):
    proc, changed = preflight(testbed, deployment, tmp_path, ["sync_delay=%s:900" % LAGGING])
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert not changed, "\n".join(changed)
    assert "OMS's documented upgrade restrictions are not met" in proc.stdout
    assert "mysql_orders_to_ob (np_4xtbsim0001): incremental synchronization" in proc.stdout
    assert "over the allowed 300 s" in proc.stdout
    assert "set oms_upgrade_ignore_project_restrictions: true" in proc.stdout
    assert deployment["console_password"] not in proc.stdout


def test_a_pending_forward_switchover_is_refused(testbed, deployment, tmp_path):
    proc, changed = preflight(testbed, deployment, tmp_path, ["switchover_pending=%s" % LAGGING])
    assert proc.returncode != 0 and not changed, proc.stdout[-3000:]
    assert "mysql_orders_to_ob (np_4xtbsim0001): forward switchover not completed" in proc.stdout


def test_the_dbas_delay_and_override_are_taken_from_the_command_line(
        testbed, deployment, tmp_path):
    # A preflight that passes records itself in the journal: only the outcome is compared here.
    lag = ["sync_delay=%s:900" % LAGGING]
    proc, dummy = preflight(testbed, deployment, tmp_path, lag, oms_upgrade_max_sync_delay="1200")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Going on, as asked" not in proc.stdout
    testbed.reset(INSTANCE)
    proc, dummy = preflight(testbed, testbed.describe(INSTANCE), tmp_path / "override", lag,
                            oms_upgrade_ignore_project_restrictions="true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Going on, as asked, although: mysql_orders_to_ob (np_4xtbsim0001)" in proc.stdout
