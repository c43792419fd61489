#!/usr/bin/env bash
# Simulated /root/docker_init.sh: on upgrade it applies its release's schema change (4.2.0, 4.2.1 or 4.2.2)
# to the three MetaDB databases (rm, cm, cm_hb). Logs to /home/admin/logs/docker_init.log and stdout.
exec python3 -m oms_sim init "$@"
