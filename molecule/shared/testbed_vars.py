"""Write the obtools.oms inventory variables of a test-bed instance to a 0600 YAML file.

Usage: testbed_vars.py INSTANCE OUTFILE

The secrets (console password) come from `tests/testbed/testbed describe INSTANCE` and go only into
OUTFILE (mode 0600), never onto a command line. The MetaDB settings are left to the config.yaml
the old container mounts, as on a real host.
"""
import os
import sys

import yaml

ROOT = os.environ.get("OMS_REPO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "testbed"))
from obtestbed.access import describe  # noqa: E402  pylint: disable=wrong-import-position


def inventory_vars(d):
    data = {
        "oms_testbed_instance": d["instance"],
        "oms_testbed_source_image": d["source_image"],
        "oms_old_container": d["old_container"],
        "oms_new_container": d["new_container"],
        "oms_target_image": d["target_image"],
        "oms_image_archive": d["image_archive"],
        "oms_backup_dir": d["backup_dir"],
        "oms_mounts": d["mounts"],
        "oms_console_url": d["console_url"],
        "oms_console_user": d["console_user"],
        "oms_console_password": d["console_password"],
        "oms_console_validate_certs": False,
        "oms_upgrade_progress_interval": 2,
        "oms_rollback_progress_interval": 2,
    }
    if (d.get("profile") or {}).get("name") == "realistic" or \
            os.environ.get("OMS_TESTBED_PROFILE") == "realistic":
        return data  # the collection's own waits, as for a real OMS
    # The short profile boots in seconds: short waits keep failing scenarios short.
    data.update({"oms_upgrade_health_timeout": 180, "oms_rollback_health_timeout": 180,
                 "oms_upgrade_init_retry_interval": 2})
    return data


def main():
    instance, out = sys.argv[1], sys.argv[2]
    data = inventory_vars(describe(instance))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("---\n")
        yaml.safe_dump(data, handle, sort_keys=False)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
