# -*- coding: utf-8 -*-
# Copyright: obtools developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OMS's ha.config: parse, merge, validate (pure) and read/write it in the rm database.

OMS keeps system parameters in `<rm>.oms_normal_config` (cfg_name, cfg_value); ha.config's value
is a JSON object. No public OMS API changes it, so we write the row, in one transaction, and read
it back. A merge keeps every other field, their order and their types, so OMS reads what it wrote.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math
from collections import OrderedDict

from ansible_collections.obtools.oms.plugins.module_utils.errors import OmsError
from ansible_collections.obtools.oms.plugins.module_utils import metadb

TABLE = "oms_normal_config"
CFG_NAME = "ha.config"
REFETCH = "refetchStoreIntervalMin"

# The documented default (OMS docs, system-parameters/modify-ha-configurations): field -> type
DOCUMENTED_FIELDS = OrderedDict([
    ("enable", bool), ("enableHost", bool), ("enableStore", bool),
    ("perceiveStoreClientCheckpoint", bool), ("enableConnector", bool),
    ("enableJdbcWriter", bool), ("subtopicStoreNumberThreshold", int),
    ("checkRequestIntervalSec", int), ("checkJdbcWriterIntervalSec", int),
    ("checkHostDownIntervalSec", int), ("checkModuleExceptionIntervalSec", int),
    ("clearAbnormalResourceHours", int), ("refetchStoreIntervalMin", int),
])

TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
              dict: "an object", type(None): "null"}


def _type_name(t):
    return TYPE_NAMES.get(t, "a " + t.__name__)


def parse_ha_config(raw, what="ha.config"):
    """The JSON object in `raw` as an OrderedDict (field order kept), or OmsError."""
    if raw is None:
        raise OmsError("%s has no value" % what, "Give a JSON object")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        value = json.loads(raw, object_pairs_hook=OrderedDict)
    except ValueError as e:
        raise OmsError("%s is not valid JSON: %s" % (what, e),
                       "Give a JSON object such as OMS's default "
                       '{"enable":false,"perceiveStoreClientCheckpoint":false,...}')
    if not isinstance(value, dict):
        raise OmsError("%s is JSON but not an object (got %s)" % (what, _type_name(type(value))),
                       "Give a JSON object of ha.config fields")
    return value


def dump_ha_config(value):
    """Compact JSON as OMS writes it, fields in their order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _accepts(expected, value):
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    return isinstance(value, expected)


def expected_type(field, current):
    """The type a field must keep: its current value's type, else the documented one, else None."""
    if field in current and current[field] is not None:
        value = current[field]
        for t in (bool, int, float, str, list, dict):
            if _accepts(t, value) and (t is not float or isinstance(value, float)):
                return t
        return type(value)
    return DOCUMENTED_FIELDS.get(field)


def validate_fields(new, current, what="settings"):
    """Raise OmsError listing every field of `new` that is unknown or has the wrong type."""
    problems = []
    for field, value in new.items():
        t = expected_type(field, current)
        if t is None:
            problems.append("%s is not a field of ha.config (known: %s)"
                            % (field, ", ".join(list(current) or list(DOCUMENTED_FIELDS))))
        elif not _accepts(t, value):
            problems.append("%s must be %s, got %r (%s)"
                            % (field, _type_name(t), value, _type_name(type(value))))
    if problems:
        raise OmsError("ha.config %s refused, nothing was written: %s" % (what, "; ".join(problems)),
                       "Give each field with the type OMS uses (true/false for switches, whole "
                       "numbers for intervals and thresholds)")


def merge_settings(current, settings):
    """`current` with `settings` applied: other fields, their order and types unchanged."""
    validate_fields(settings, current)
    merged = OrderedDict(current)
    for field, value in settings.items():
        merged[field] = value
    return merged


def minutes_between(t1, t2):
    """(t2 - t1) in minutes as a float; both datetimes (naive means UTC) or ISO 8601 strings."""
    t1, t2 = parse_time(t1), parse_time(t2)
    return (t2 - t1).total_seconds() / 60.0


def refetch_interval_min(t1, t2, margin_min=30):
    """refetchStoreIntervalMin for a downtime from T1 to T2: minutes rounded up, plus the margin.

    The procedure (step 8.6) needs a value greater than T2 - T1 when perceiveStoreClientCheckpoint
    is false; OMS's upgrade FAQ gives 60 minutes down + 30 of margin = 90.
    """
    if margin_min is None or margin_min < 1:
        raise OmsError("refetch margin must be at least 1 minute, got %r" % margin_min,
                       "The value must be greater than T2 - T1; give oms_upgrade_refetch_margin_min or "
                       "oms_rollback_refetch_margin_min (refetch_margin_min) >= 1")
    minutes = minutes_between(t1, t2)
    if minutes < 0:
        raise OmsError("The downtime ends (%s) before it starts (%s)" % (t2, t1),
                       "Give T1 (old container stopped) before T2 (HA back on)")
    return int(math.ceil(minutes)) + int(margin_min)


def parse_time(value):
    """datetime (UTC, aware) from a datetime or an ISO 8601 string ('Z' accepted)."""
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = None
        for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f%z",
                    "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                # Python 3.8's %z does not take "+00:00"; drop the colon of the offset
                candidate = text
                if "%z" in fmt and len(text) > 6 and text[-3] == ":" and text[-6] in "+-":
                    candidate = text[:-3] + text[-2:]
                dt = datetime.datetime.strptime(candidate, fmt)
                break
            except ValueError:
                continue
        if dt is None:
            raise OmsError("%r is not an ISO 8601 time" % value,
                           "Give a time such as 2024-05-01T10:00:00Z (UTC)")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


UTC = datetime.timezone.utc


def utc_now():
    return datetime.datetime.now(UTC)


# ---- the row in the rm database ----------------------------------------------------------------

def _read_row(cur, lock=False):
    cur.execute("SELECT cfg_value FROM %s WHERE cfg_name = %%s%s"
                % (metadb.quote_identifier(TABLE), " FOR UPDATE" if lock else ""), (CFG_NAME,))
    rows = cur.fetchall()
    if not rows:
        return None
    if len(rows) > 1:
        raise OmsError("%s has %d rows named %s" % (TABLE, len(rows), CFG_NAME),
                       "Leave one row (OMS keeps one) and run again")
    raw = rows[0][0]
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def _missing(settings):
    return OmsError("No %s row in %s.%s" % (CFG_NAME, settings.rm_db, TABLE),
                    "Check oms_metadb_rm_db (rm_db), or drc_rm_db in config.yaml; OMS creates the row when "
                    "its console first starts")


def read_ha_config(settings):
    """(raw, parsed) of ha.config."""
    settings.require("rm_db")
    conn = metadb.connect(settings, settings.rm_db)
    try:
        with conn.cursor() as cur:
            raw = _read_row(cur)
        conn.rollback()
    except metadb.pymysql.err.MySQLError as e:
        raise metadb.translate_error(e, settings, settings.rm_db, doing="read ha.config")
    finally:
        conn.close()
    if raw is None:
        raise _missing(settings)
    return raw, parse_ha_config(raw, "ha.config in %s.%s" % (settings.rm_db, TABLE))


def plan(current, settings=None, value=None):
    """(new parsed, new raw) from the current value and either settings (merge) or value (whole)."""
    if value is not None:
        new = parse_ha_config(value, "the value option")
        validate_fields(new, current, what="value")
        return new, value
    new = merge_settings(current, settings or {})
    return new, dump_ha_config(new)


def refetch_from_downtime(downtime_since, downtime_until=None, margin_min=30, extra=None, floor=None):
    """The `compute` for write_ha_config that sets refetchStoreIntervalMin to more than the
    downtime (T2 - T1 in minutes, T2 now when not given), never lowering a larger value already
    set, nor one below `floor` (the value before step 1, which a rollback's restore or 4.2.0's
    docker_init.sh may have replaced). `extra` (a dict) receives downtime_minutes and
    refetch_store_interval_min."""
    t1 = parse_time(downtime_since)
    t2 = parse_time(downtime_until) if downtime_until else None
    extra = extra if extra is not None else {}

    def compute(current):
        until = t2 or utc_now()
        wanted = refetch_interval_min(t1, until, margin_min)
        extra["downtime_minutes"] = round(minutes_between(t1, until), 1)
        for old in (current.get(REFETCH), floor):
            if isinstance(old, int) and not isinstance(old, bool) and old > wanted:
                wanted = old
        extra["refetch_store_interval_min"] = wanted
        return {REFETCH: wanted}
    return compute


def write_ha_config(settings, settings_fields=None, value=None, check_mode=False, compute=None):
    """Apply a merge (settings_fields) or a whole value, in one transaction, then read back.

    `compute(current) -> dict` may add fields worked out from the current value at write time
    (refetchStoreIntervalMin from the downtime). Returns a result dict with previous/config/raw.
    """
    settings.require("rm_db")
    conn = metadb.connect(settings, settings.rm_db)
    try:
        try:
            with conn.cursor() as cur:
                previous_raw = _read_row(cur, lock=not check_mode)
                if previous_raw is None:
                    raise _missing(settings)
                previous = parse_ha_config(previous_raw, "ha.config in %s.%s" % (settings.rm_db, TABLE))
                fields = OrderedDict(settings_fields or {})
                if compute is not None:
                    fields.update(compute(previous))
                new, new_raw = plan(previous, fields if value is None else None, value)
                changed = new != previous
                if not changed or check_mode:
                    conn.rollback()
                    return dict(changed=changed, previous=previous, previous_raw=previous_raw,
                                config=new, raw=new_raw if changed else previous_raw)
                cur.execute("UPDATE %s SET cfg_value = %%s WHERE cfg_name = %%s"
                            % metadb.quote_identifier(TABLE), (new_raw, CFG_NAME))
            conn.commit()
            with conn.cursor() as cur:
                stored_raw = _read_row(cur)
            conn.rollback()
        except metadb.pymysql.err.MySQLError as e:
            conn.rollback()
            raise metadb.translate_error(e, settings, settings.rm_db, doing="write ha.config")
    finally:
        conn.close()
    stored = parse_ha_config(stored_raw, "ha.config read back")
    if stored != new:
        raise OmsError("ha.config read back from %s.%s differs from what was written" % (settings.rm_db, TABLE),
                       "Something else changes ha.config at the same time (the OMS console?); "
                       "check the row and run again", written=new_raw, read_back=stored_raw)
    return dict(changed=True, previous=previous, previous_raw=previous_raw, config=stored, raw=stored_raw)
