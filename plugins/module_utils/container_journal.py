# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a container step records in the journal, by oms_container_upgrade's state (the same keys
whether the module or the window's step ran it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def journal_data(state, result):
    """What the step records in the journal (the module's notes list it)."""
    container = result.get("container") or {}
    if state == "stopped":
        return {"t1": result.get("stopped_at")}
    if state == "image_loaded":
        return {"image_id": result.get("image_id"), "image_loaded_now": result.get("loaded", False)}
    if state == "upgraded":
        return {"new_container_id": container.get("id"), "new_image": container.get("image"),
                "new_version": container.get("version"), "new_started_at": container.get("started_at"),
                "image_loaded_again": result.get("loaded", False)}
    if state == "initialized":
        return {"init_rc": result.get("rc", 0), "init_duration": result.get("duration"),
                "init_attempts": result.get("attempts"),
                "ready_wait_seconds": result.get("ready_wait_seconds"),
                "ready_at": result.get("ready_at"), "ready_probe": result.get("ready_probe")}
    if state == "absent":
        return {"removed": result.get("removed", False)}
    return {"started_at": result.get("started_at")}
