# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's journal: one JSON file on the OMS host that says which steps are done.

Each step records itself in it, "started" before it changes anything and "done" or "failed" when
it ends (the step modules with journal_step, the window oms_upgrade_window for steps 2.1 to 8, a
few role tasks), and the roles ask it which steps are done, so that a re-run after a crash resumes
at the first step not done, a re-run after success changes nothing, and the rollback finds T1,
names, tags, the previous ha.config and the dump manifest without asking the operator again.
"window" holds the downtime window's owner process and how it ended.

Layout (format 1):
    {"format": 1, "created_at": ..., "updated_at": ...,
     "facts": {...every step's data merged, latest wins...},
     "steps": {"<name>": {"status": "started|done|failed", "started_at": ..., "finished_at": ...,
                          "duration": 12.3, "attempts": 1, "data": {...}, "error": ...}}}
Steps keep the order in which they were first started. Times are UTC ISO 8601 with a Z,
durations seconds with one decimal. Every write is atomic (temporary file in the same directory,
fsync, rename, fsync of the directory) with mode 0600: the file may hold names of secrets' files
and the previous ha.config, and a half-written journal would make a resume guess.

The functions below are pure (they take and return dicts) except load, write and move_aside.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

# A journal as loaded from its JSON (see the layout above), and one step's data.
Journal = Dict[str, Any]
Data = Dict[str, Any]

from ansible_collections.obtools.oms.plugins.module_utils import atomic_file
from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError

FORMAT = 1
STATUSES = ("started", "done", "failed")
FILE_MODE = 0o600
DIR_MODE = 0o700


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z: 2024-05-01T10:00:00.123Z."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def parse_iso(text: Optional[str]) -> Optional[datetime.datetime]:
    """Read back what iso() wrote, or ISO 8601 with an offset; None when it is not a time."""
    if not text:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+0000"
    elif len(value) > 6 and value[-6] in "+-" and value[-3] == ":":
        value = value[:-3] + value[-2:]  # Python 3.8's %z wants +0000
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def seconds(start: Optional[datetime.datetime], end: Optional[datetime.datetime]) -> Optional[float]:
    """Duration in seconds with one decimal, or None when either end is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


def normalize(data: Any) -> Any:
    """The data as it will look after a JSON round trip (tuples become lists, keys strings)."""
    return json.loads(json.dumps(data if data is not None else {}, sort_keys=False, default=str))


def empty(now: datetime.datetime) -> Journal:
    stamp = iso(now)
    return {"format": FORMAT, "created_at": stamp, "updated_at": stamp, "facts": {}, "steps": {}}


def done_steps(journal: Journal) -> List[str]:
    return [name for name, step in (journal.get("steps") or {}).items()
            if step.get("status") == "done"]


def pending_steps(journal: Journal, order: Sequence[str]) -> List[str]:
    """The steps of `order` not done yet, in that order; the first is where a re-run resumes."""
    done = set(done_steps(journal))
    return [name for name in order if name not in done]


def summary(journal: Optional[Journal], order: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """What oms_journal and oms_journal_info both return about a journal (None: there is none):
    the journal itself, its done steps and, with the run's steps in `order`, where a re-run
    resumes."""
    journal = journal or {}
    result: Dict[str, Any] = {"journal": journal, "done_steps": done_steps(journal)}
    if order is not None:
        pending = pending_steps(journal, order)
        result.update(pending_steps=pending, next_step=pending[0] if pending else None)
    return result


def _merged(target: Optional[Data], data: Data) -> Data:
    result = dict(target or {})
    result.update(data)
    return result


def apply_step(journal: Optional[Journal], step: Optional[str], status: Optional[str], data: Optional[Data] = None,
               error: Optional[str] = None, now: Optional[datetime.datetime] = None,
               force: bool = False) -> Tuple[Journal, bool, Optional[str]]:
    """Return (new_journal, changed, note) for telling the journal that `step` is `status`.

    - started: a new attempt (attempts + 1, started_at = now, end cleared). On a step already
      done it changes nothing (note 'already done') unless force: a role that resumes must not
      lose a done step's data (T1, the dump manifest) by starting it again.
    - done: finished_at = now, duration from started_at, data merged into the step's data and the
      journal's facts. A step already done whose data already holds `data` is unchanged.
    - failed: like done but with status failed and `error`.
    """
    if status not in STATUSES:
        raise OmsError("Unknown journal status %r" % status, "Use one of %s" % ", ".join(STATUSES))
    if not step:
        raise OmsError("No step name given", "Name the step, e.g. step: stop_old_container")
    now = now or utc_now()
    data = normalize(data)
    if not isinstance(data, dict):
        raise OmsError("Journal data for step %s is not a dictionary" % step,
                       "Pass data as a dictionary of facts, e.g. data: {t1: ...}")
    base = journal if journal else empty(now)  # unchanged, it is returned as it was given
    new = copy.deepcopy(base)
    new.setdefault("facts", {})
    new.setdefault("steps", {})
    current = new["steps"].get(step)
    if current:
        record = dict(current)
    else:
        record = {"status": None, "started_at": None, "finished_at": None, "duration": None,
                  "attempts": 0, "data": {}}
    note = None

    if status == "started":
        if current and current.get("status") == "done" and not force:
            return base, False, "already done"
        record.update(status="started", started_at=iso(now), finished_at=None, duration=None,
                      attempts=int(record.get("attempts") or 0) + 1)
        record.pop("error", None)
        if data:
            record["data"] = _merged(record.get("data"), data)
            new["facts"] = _merged(new["facts"], data)
    else:
        merged_data = _merged(record.get("data"), data)
        if current and current.get("status") == status and merged_data == current.get("data") \
                and (status == "done" or error == current.get("error")):
            # Facts are not compared: a later step may have set the same key since.
            return base, False, "already %s" % status
        if current and current.get("status") == status:
            # Same status again with new data: keep the step's times, add the data.
            note = "data added"
        else:
            if not record.get("started_at"):
                # Told "done" without "started": a step that took no time worth recording.
                record["started_at"] = iso(now)
                record["attempts"] = max(int(record.get("attempts") or 0), 1)
            record["finished_at"] = iso(now)
            record["duration"] = seconds(parse_iso(record["started_at"]), now)
        record["status"] = status
        record["data"] = merged_data
        new["facts"] = _merged(new["facts"], data)
        if status == "failed":
            record["error"] = error
        else:
            record.pop("error", None)

    new["steps"][step] = record
    new["updated_at"] = iso(now)
    return new, True, note


def validate(journal: Any, path: str) -> Journal:
    if not isinstance(journal, dict) or not isinstance(journal.get("steps", {}), dict):
        raise OmsError("The journal %s is not an obtools.oms journal" % path,
                       "Move it aside (state: reset) or point oms_journal_path (path) at the run's journal")
    if journal.get("format", FORMAT) > FORMAT:
        raise OmsError("The journal %s has format %s, newer than this collection's %s"
                       % (path, journal.get("format"), FORMAT),
                       "Use the collection version that wrote it")
    return journal


def load(path: str) -> Optional[Journal]:
    """The journal at `path`, or None when there is none."""
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except IOError as exc:
        if not os.path.exists(path):
            return None
        raise OmsError("Cannot read the journal %s: %s" % (path, exc),
                       "Run as a user that may read it (it is mode 0600)")
    try:
        journal = json.loads(text)
    except ValueError as exc:
        raise OmsError("The journal %s is not valid JSON (%s)" % (path, exc),
                       "Writes are atomic, so someone edited it: fix it by hand, or move it aside "
                       "with state: reset and start the run again")
    return validate(journal, path)


def write(path: str, journal: Journal) -> None:
    """Write atomically: temporary file beside it, fsync, rename, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, DIR_MODE)
        except OSError as exc:
            raise OmsError("Cannot create the journal's directory %s: %s" % (directory, exc),
                           "Create it, or set oms_backup_dir (or oms_journal_path) to a writable place")
    try:
        atomic_file.write_json_atomic(path, journal, FILE_MODE)
    except OSError as exc:
        raise OmsError("Cannot write the journal %s: %s" % (path, exc),
                       "Run as a user that may write in %s, or set oms_backup_dir (or oms_journal_path) "
                       "elsewhere" % directory)


def aside_path(path: str, now: Optional[datetime.datetime] = None) -> str:
    """`<path>.<UTC timestamp>`, with a counter if that name is taken."""
    stamp = (now or utc_now()).strftime("%Y%m%dT%H%M%SZ")
    candidate = "%s.%s" % (path, stamp)
    counter = 1
    while os.path.lexists(candidate):
        candidate = "%s.%s.%d" % (path, stamp, counter)
        counter += 1
    return candidate


def move_aside(path: str, now: Optional[datetime.datetime] = None) -> Optional[str]:
    """Rename the journal to `<path>.<timestamp>`; returns the new name (None when absent)."""
    if not os.path.exists(path):
        return None
    target = aside_path(path, now)
    os.rename(path, target)
    atomic_file.fsync_dir(os.path.dirname(os.path.abspath(path)))
    return target


def record_step(path: str, step: str, status: str, data: Optional[Data] = None, error: Optional[str] = None,
                before: Optional[Data] = None) -> Tuple[Journal, Journal]:
    """The one journal writer of a step's record: load, apply_step, write atomically when it
    changed. `before` is data that only fills keys the step and the journal's facts do not hold
    yet (what was there before a step, never replaced by a re-run's reading). Returns (the
    journal as it was, as it is now)."""
    current = load(path) or {}
    if before:
        held = dict(current.get("facts") or {})
        held.update(((current.get("steps") or {}).get(step) or {}).get("data") or {})
        data = dict(data or {})
        data.update((k, v) for k, v in before.items() if k not in held)
    new, changed, _note = apply_step(current, step, status, data=data, error=error)
    if changed:
        write(path, new)
    return current, new
