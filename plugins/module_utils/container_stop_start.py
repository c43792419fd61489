# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop, start or remove an OMS container, with its restart policy set first.

Used by oms_container_upgrade (state=stopped, started, absent) and by the windows' steps
(window_steps.py: stop_old, health, rollback_stop_new, rollback_start_old). Each function takes
the Docker client, the container's name and plain values; `step` is the journal step, whose
start(before) records the step as started (NoJournal records nothing).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import journal as journal_file
from ansible_collections.obtools.oms.plugins.module_utils.container_facts import (
    UPGRADED_FROM_LABEL,
    describe,
    parse_restart_policy,
    restart_policy_string,
)

# Default seconds a started container must stay up before we call it started (settle_seconds):
# a container that cannot start at all exits within a second or two. The boot is not waited for
# here: state=initialized waits for supervisorctl to answer before docker_init.sh runs.
START_SETTLE = 1


def utc_now():
    """Now, in the journal's format (UTC ISO 8601, milliseconds, Z)."""
    return journal_file.iso(journal_file.utc_now())


class NoJournal(object):
    """A step that records nothing (a module run without journal_step, the rehearsal)."""

    def start(self, before=None):
        pass


def described(client, inspect):
    """The `container` return value of inspect data (with its image's labels)."""
    image = client.inspect_image(inspect["Image"]) if inspect.get("Image") else None
    return describe(inspect, image)


def require(client, name, what="container"):
    inspect = client.inspect_container(name)
    if inspect is None:
        raise OmsError("No %s named %s exists" % (what, name),
                       "Check the name (docker ps -a lists the containers on this host)")
    return inspect


def wanted_policy(text):
    """The Docker restart policy of `text` (None for None); OmsError when it is not one."""
    if text is None:
        return None
    policy = parse_restart_policy(text)
    if policy is None:
        raise OmsError("restart_policy %r is not a Docker restart policy" % text,
                       "Use no, always, unless-stopped, on-failure or on-failure:N")
    return policy


def set_policy(client, name, inspect, restart_policy, diff, check=False):
    """Set `restart_policy` (when given and different) before the container is stopped or
    started. Returns the inspect data after, and whether it changed."""
    wanted = wanted_policy(restart_policy)
    before = restart_policy_string(inspect.get("HostConfig"))
    if wanted is None or before == restart_policy_string({"RestartPolicy": wanted}):
        return inspect, False
    diff["before"]["restart_policy"] = before
    diff["after"]["restart_policy"] = restart_policy_string({"RestartPolicy": wanted})
    if check:
        return inspect, True
    return client.update_restart_policy(name, wanted), True


def stopped(client, name, stop_timeout, restart_policy=None, step=None, check=False):
    """The container stopped, `restart_policy` set first; `step` is started with the policy it had."""
    inspect = require(client, name)
    running = bool(inspect["State"].get("Running"))
    policy_before = restart_policy_string(inspect.get("HostConfig"))
    (step or NoJournal()).start({"old_restart_policy": policy_before})
    diff = dict(before={"running": running}, after={"running": False})
    # The policy first: a daemon restart between the stop and the update would bring back a
    # container with restart=always on the data the new one is about to use.
    inspect, policy_changed = set_policy(client, name, inspect, restart_policy, diff, check)
    if not running:
        container = described(client, inspect)
        return dict(changed=policy_changed, container=container,
                    stopped_at=container["finished_at"], restart_policy_before=policy_before,
                    diff=diff)
    if check:
        return dict(changed=True, container=described(client, inspect), stopped_at=None,
                    restart_policy_before=policy_before, diff=diff)
    after = client.stop_container(name, stop_timeout)
    container = described(client, after)
    return dict(changed=True, container=container, restart_policy_before=policy_before,
                stopped_at=container["finished_at"] or utc_now(), diff=diff)


def absent(client, name, container_id=None, check=False):
    """Remove a stopped container that an earlier attempt created (container_id: its id as that
    attempt recorded it); anything else of that name is left alone."""
    inspect = client.inspect_container(name)
    if inspect is None:
        return dict(changed=False, container=None, removed=False)
    container = described(client, inspect)
    if inspect["State"].get("Running"):
        raise OmsError("%s runs: it is not removed" % name,
                       "Stop it first if it is a leftover you no longer need, or choose another name "
                       "(oms_new_container)")
    if container_id and inspect.get("Id") != container_id:
        raise OmsError("%s is not the container the earlier attempt created (%s, not %s)"
                       % (name, (inspect.get("Id") or "?")[:12], container_id[:12]),
                       "Remove it by hand if it is a leftover (docker rm %s), or choose another name "
                       "(oms_new_container)" % name)
    if not check:
        client.remove_container(name)
    return dict(changed=True, container=container, removed=True)


def started(client, name, settle_seconds, restart_policy=None, check=False):
    """The container running (for settle_seconds), `restart_policy` set first. Refused while a
    container created from it (same data directories) runs."""
    settle = max(0.0, float(settle_seconds))
    inspect = require(client, name)
    policy_before = restart_policy_string(inspect.get("HostConfig"))
    if inspect["State"].get("Running"):
        diff = dict(before={}, after={})
        inspect, policy_changed = set_policy(client, name, inspect, restart_policy, diff, check)
        container = described(client, inspect)
        return dict(changed=policy_changed, container=container, diff=diff,
                    started_at=container["started_at"], restart_policy_before=policy_before)
    # The new container copies this one's data directories: never run both at once.
    others = client.running_containers_with_label(UPGRADED_FROM_LABEL, name)
    if others:
        raise OmsError("%s runs, created from %s with the same data directories"
                       % (", ".join(others), name),
                       "Stop it first (state=stopped), then start %s" % name)
    diff = dict(before={"running": False}, after={"running": True})
    inspect, _policy_changed = set_policy(client, name, inspect, restart_policy, diff, check)
    if check:
        return dict(changed=True, container=described(client, inspect), started_at=None,
                    restart_policy_before=policy_before, diff=diff)
    client.start_container(name)
    container = described(client, client.wait_still_running(name, settle))
    return dict(changed=True, container=container, started_at=container["started_at"],
                restart_policy_before=policy_before, diff=diff)
