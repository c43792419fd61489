"""Injected faults, for tests: env OMS_SIM_FAULTS and the file /home/ds/run/oms_sim_faults.

Tokens (space, comma or newline separated): init_fail_halfway, never_online, openapi_refuse,
slow_start=N (seconds). The file is re-read on every call, so faults can be switched live.
"""

import os
import re

FAULT_FILE = "/home/ds/run/oms_sim_faults"
KNOWN = ("init_fail_halfway", "never_online", "openapi_refuse", "slow_start")


def parse(text):
    faults = {}
    for token in re.split(r"[\s,]+", text or ""):
        if not token:
            continue
        name, dummy, value = token.partition("=")
        if name not in KNOWN:
            continue
        faults[name] = value or True
    return faults


def active(path=FAULT_FILE, env=None):
    env = os.environ if env is None else env
    faults = parse(env.get("OMS_SIM_FAULTS", ""))
    try:
        with open(path) as f:
            faults.update(parse(f.read()))
    except OSError:
        pass
    return faults


def slow_start_seconds(faults):
    try:
        return max(0, int(faults.get("slow_start") or 0))
    except (TypeError, ValueError):
        return 0
