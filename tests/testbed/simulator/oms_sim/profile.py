"""How long the simulated container takes: its boot phase and docker_init.sh.

Read from /home/ds/run/oms_sim_profile (JSON {"boot_seconds": N, "init_seconds": N}; the run
mount, so the 4.2.0 container of an upgrade finds the 4.1.1 container's profile), then from the
environment (OMS_SIM_BOOT_SECONDS, OMS_SIM_INIT_SECONDS). Without either the durations are OMS's:
[obd] plugins/oms/1.0.0/start.py sleeps 60 s after `docker run` before it looks at the container;
[doc] zh-CN/400.deployment-guide/800.scale-out-oms.md: docker_init.sh "需要耗时 2~4 分钟" (2-4
minutes; 1200.reference-guide/200.oms-error-code.md says 3-5). Tests shrink them, never to zero.
"""

import json
import os

PROFILE_FILE = "/home/ds/run/oms_sim_profile"
REALISTIC = {"boot_seconds": 60.0, "init_seconds": 120.0}
MINIMUM = 0.5  # every phase exists, however short


def load(path=PROFILE_FILE, env=None):
    env = os.environ if env is None else env
    values = dict(REALISTIC)
    for key in values:
        raw = env.get("OMS_SIM_" + key.upper())
        if raw:
            values[key] = _number(raw, values[key])
    try:
        with open(path) as f:
            data = json.load(f)
        for key in values:
            if key in data:
                values[key] = _number(data[key], values[key])
    except (OSError, ValueError, AttributeError):
        pass
    return {k: max(MINIMUM, v) for k, v in values.items()}


def _number(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
