"""Injected faults, for tests: env OMS_SIM_FAULTS and the file /home/ds/run/oms_sim_faults.

Tokens (space, comma or newline separated), each the unfavourable side of a behaviour
(FIDELITY.md says which are guesses):
  init_fail_halfway      docker_init.sh migrates rm, then exits 1
  init_no_success_line   docker_init.sh exits 0 without its documented success line
  never_online           the server never comes Online (host OFFLINE, no heartbeat)
  openapi_refuse         the OpenAPI answers HTTP 503
  slow_start=N           the server does nothing for N s after its boot phase
  no_health_endpoint     GET /oms/health answers 404 with nginx's HTML page (no OMS doc has it)
  ha_config_cached       ha.config is read once at server start, not re-read while running
  envelope_strings       OpenAPI envelope booleans and numbers as strings, as in the docs' examples
  describe_list          DescribeProject's data is a one-element list, as in the doc's example
  reach_out=H:P/H:P      docker_init.sh first tries to connect to each address (a running
                         project's source or target, a console peer) and prints what happened
  reach_out_dbs=D1/D2    ... and to log in to each database (the production ones) over the MetaDB
                         address and user of its config.yaml
  sync_delay=ID:S/ID:S     project ID's forward incremental synchronization is S seconds behind
                         (DescribeProjectProgress, DescribeProjectSteps); default 2 s [guess]
  switchover_pending=ID/ID  project ID's forward switchover (TRANSFER_APP_SWITCH) is not done
The file is re-read on every call, so faults can be switched live.
"""

import os
import re

FAULT_FILE = "/home/ds/run/oms_sim_faults"
KNOWN = ("init_fail_halfway", "init_no_success_line", "never_online", "openapi_refuse",
         "slow_start", "no_health_endpoint", "ha_config_cached", "envelope_strings",
         "describe_list", "reach_out", "reach_out_dbs", "sync_delay", "switchover_pending")


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


def project_delays(faults):
    """{project id: seconds} from sync_delay=ID:S/ID:S."""
    delays = {}
    for item in str(faults.get("sync_delay") or "").split("/"):
        pid, dummy, seconds = item.rpartition(":")
        if pid and seconds.isdigit():
            delays[pid] = int(seconds)
    return delays


def switchovers_pending(faults):
    return set(p for p in str(faults.get("switchover_pending") or "").split("/") if p)


def slow_start_seconds(faults):
    try:
        return max(0, int(faults.get("slow_start") or 0))
    except (TypeError, ValueError):
        return 0
