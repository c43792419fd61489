"""Ranges of a key tuple (issue 30): which key a table is read in ranges of, the literals of its
bounds, the --where of a piece, and the pieces a table is cut into (pure logic; the statements run
on both engines in tests/integration/test_oms_metadb_keyset_dump.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools

import pytest

from ansible_collections.obtools.oms.plugins.module_utils import dump_keys, dump_pieces


def cols(*spec):
    """columns as information_schema gives them: (name, type, IS_NULLABLE, charset)."""
    return list(spec)


def index(name, columns, unique=True, sub_part=None, collation="A"):
    return [(name, 0 if unique else 1, i + 1, c, sub_part, collation) for i, c in enumerate(columns)]


# -- the key ---------------------------------------------------------------------------------------

def test_a_composite_primary_key_is_the_key_in_its_order():
    c = cols(("b", "int", "NO", None), ("a", "varchar", "NO", "utf8mb4"), ("pad", "text", "YES", "utf8mb4"))
    assert dump_keys.choose_key(c, index("PRIMARY", ["a", "b"])) == [("a", "string", "utf8mb4"), ("b", "int", None)]


def test_without_a_primary_key_a_unique_not_null_key_serves_and_a_nullable_one_does_not():
    c = cols(("x", "int", "YES", None), ("y", "datetime", "NO", None), ("z", "decimal", "NO", None))
    # a NULL is in no range: the rows with one would be lost
    assert dump_keys.choose_key(c, index("ux", ["x", "y"])) is None
    assert dump_keys.choose_key(c, index("ux", ["x", "y"]) + index("uyz", ["y", "z"])) == [
        ("y", "temporal", None), ("z", "decimal", None)]
    assert dump_keys.choose_key(c, index("k", ["y", "z"], unique=False)) is None


@pytest.mark.parametrize("data_type", ["float", "double", "enum", "set", "bit", "text", "blob", "json"])
def test_columns_without_a_faithful_literal_are_no_key(data_type):
    c = cols(("a", "int", "NO", None), ("f", data_type, "NO", "utf8mb4"))
    assert dump_keys.choose_key(c, index("PRIMARY", ["a", "f"])) is None


def test_prefix_and_descending_indexes_are_no_key():
    c = cols(("a", "varchar", "NO", "utf8mb4"), ("b", "int", "NO", None))
    assert dump_keys.choose_key(c, index("u", ["a"], sub_part=10)) is None
    assert dump_keys.choose_key(c, index("u", ["a", "b"], collation="D")) is None


def test_a_table_without_any_key_has_none():
    assert dump_keys.choose_key(cols(("a", "int", "NO", None)), []) is None


# -- literals and the where ------------------------------------------------------------------------

@pytest.mark.parametrize("column,value,sql", [
    (("a", "int", None), "-42", "-42"),
    (("a", "decimal", None), "-6.25", "-6.25"),
    (("a", "string", "utf8mb4"), "4B31372020", "_utf8mb4 X'4B31372020'"),
    (("a", "string", "latin1"), b"", "_latin1 X''"),
    (("a", "binary", None), "00FF", "X'00FF'"),
    (("a", "temporal", None), "2024-02-29 23:59:59.001000", "'2024-02-29 23:59:59.001000'"),
])
def test_literals_are_made_from_what_the_server_answered(column, value, sql):
    assert dump_keys.literal(column, value) == sql


@pytest.mark.parametrize("column,value", [
    (("a", "int", None), "1; DROP TABLE t"), (("a", "temporal", None), "2024' OR '1"),
    (("a", "string", "utf8mb4"), "zz"), (("a", "decimal", None), "1e5")])
def test_anything_else_is_refused_not_quoted(column, value):
    with pytest.raises(ValueError):
        dump_keys.literal(column, value)


def test_the_where_of_a_piece_is_the_expanded_tuple_comparison():
    assert dump_keys.where(["a"], ["1"], ["9"]) == "(`a` >= 1) AND (`a` < 9)"
    assert dump_keys.where(["a", "b"], ["1", "2"], None) == "(`a` > 1 OR (`a` = 1 AND `b` >= 2))"
    assert dump_keys.where(["a", "b", "c"], None, ["1", "2", "3"]) == \
        "(`a` < 1 OR (`a` = 1 AND (`b` < 2 OR (`b` = 2 AND `c` < 3))))"
    assert dump_keys.where(["a", "b"], None, None) == "1=1"


def evaluate(where_of, names, row):
    """A tuple comparison evaluated in Python the way the server reads the SQL (for ints only)."""
    expr = where_of.replace("`", "").replace(" = ", " == ").replace(" OR ", " or ").replace(" AND ", " and ")
    return eval(expr, {}, dict(zip(names, row)))  # pylint: disable=eval-used


def test_pieces_split_every_row_once_whatever_the_bounds():
    names = ["a", "b", "c"]
    rows = list(itertools.product(range(4), range(3), range(3)))
    bounds = [None, ["1", "0", "2"], ["1", "2", "0"], ["3", "0", "0"], None]
    for row in rows:
        hits = [i for i, (low, high) in enumerate(zip(bounds, bounds[1:]))
                if evaluate(dump_keys.where(names, low, high), names, row)]
        assert len(hits) == 1, (row, hits)


def test_the_seek_reads_width_entries_from_the_start_in_index_order():
    key = [("a", "string", "utf8mb4"), ("b", "int", None)]
    assert dump_keys.seek_sql("cm", "t", key, None, 500) == \
        "SELECT HEX(`a`), CAST(`b` AS CHAR) FROM `cm`.`t` ORDER BY `a`, `b` LIMIT 500, 1"
    assert dump_keys.seek_sql("cm", "t", key, ["_utf8mb4 X'6B'", "7"], 500) == (
        "SELECT HEX(`a`), CAST(`b` AS CHAR) FROM `cm`.`t` WHERE `a` > _utf8mb4 X'6B' OR "
        "(`a` = _utf8mb4 X'6B' AND `b` >= 7) ORDER BY `a`, `b` LIMIT 500, 1")


# -- the pieces ------------------------------------------------------------------------------------

def test_pieces_chain_from_open_start_to_open_end_and_wait_for_their_seek():
    key = [("a", "int", None), ("b", "int", None)]
    ranges = dump_keys.KeysetRanges("t", key, 100, 0.25, dump_pieces.next_width)
    first = ranges.take()
    assert first["from"] is None and first["keyset"] == ["a", "b"] and first["width"] == 100
    assert ranges.take() is None and not ranges.done  # the next one starts where this one ends
    ranges.ended(first, ("3", "17"))
    assert first["to"] == ["3", "17"]
    ranges.measured(100, 0.05)  # 5 times faster than the target: the width may double
    second = ranges.take()
    assert second["from"] == ["3", "17"] and second["width"] == 200
    ranges.ended(second, None)  # the seek found no row: the table ends in this piece
    assert second["to"] is None and ranges.done and ranges.take() is None


def test_a_table_with_a_key_tuple_is_ranged_unless_the_sample_saw_it_small():
    key = [("a", "string", "utf8mb4"), ("b", "int", None)]
    tables = [{"table": "big", "keyset": key, "rows": None, "row_bytes": 400},
              {"table": "small", "keyset": key, "rows": 12, "row_bytes": 400},
              {"table": "z_int", "key": "id", "low": 1, "high": 3, "row_bytes": 40, "rows": 3}]
    units = dump_pieces.plan_units(tables, 0.25)
    assert [kind for kind, _what in units] == ["keyset", "group"]
    assert units[0][1].table == "big" and units[1][1] == ["small", "z_int"]


def test_a_recorded_keyset_piece_replays_as_its_where():
    piece = {"table": "t", "keyset": ["a", "b"], "from": ["1", "2"], "to": None}
    assert dump_pieces.piece_args(piece) == (["--where=(`a` > 1 OR (`a` = 1 AND `b` >= 2))"], ["t"])
