#!/usr/bin/env bash
# Simulated /root/docker_init.sh: on upgrade it applies the 4.2.0 schema changes to the three
# MetaDB databases (rm, cm, cm_hb). Logs to /home/admin/logs/docker_init.log and stdout.
exec python3 -m oms_sim init "$@"
