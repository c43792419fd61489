"""Batch sizing of the heartbeat prune: batches follow the time they take, within bounds; a wide
id span is cut into ranges that together hold every id, once."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.obtools.oms.plugins.module_utils import heartbeat


def test_batch_grows_at_most_twice_when_fast():
    assert heartbeat.next_batch_size(10000, 0.05, 0.25) == 20000      # 5x wanted, 2x allowed
    assert heartbeat.next_batch_size(10000, 0.2, 0.25) == 12500
    assert heartbeat.next_batch_size(10000, 0.0, 0.25) == 20000       # a clock too coarse to see it


def test_batch_shrinks_at_once_when_slow():
    assert heartbeat.next_batch_size(10000, 0.5, 0.25) == 5000
    assert heartbeat.next_batch_size(40000, 10.0, 0.25) == 1000       # a slow MetaDB is believed
    assert heartbeat.next_batch_size(10000, 10.0, 0.25) == heartbeat.MIN_BATCH  # not below the floor


def test_batch_stays_within_bounds():
    assert heartbeat.next_batch_size(150000, 0.01, 0.25) == heartbeat.MAX_BATCH
    assert heartbeat.next_batch_size(200, 5.0, 0.25) == heartbeat.MIN_BATCH


def test_zero_target_keeps_the_given_size():
    assert heartbeat.next_batch_size(7000, 3.0, 0) == 7000
    assert heartbeat.next_batch_size(7000, 0.001, 0.0) == 7000


def ids_in(ranges, ids):
    """Which range holds each id (exclusive bounds, None: unbounded below)."""
    return [[i for i in ids if (lo is None or i > lo) and i < hi] for lo, hi in ranges]


def test_a_wide_span_is_cut_into_ranges_that_hold_every_id_once():
    low, first, high = None, 1000, 1000 + 600000
    ranges = heartbeat.split_ranges(low, first, high, 2)
    assert len(ranges) == 2 and ranges[0][0] is None and ranges[-1][1] == high
    cut = ranges[0][1]
    ids = list(range(first, first + 5)) + [cut - 1, cut, cut + 1] + list(range(high - 3, high + 2))
    held = ids_in(ranges, ids)
    assert sorted(held[0] + held[1]) == [i for i in ids if i < high]
    assert cut - 1 in held[0] and cut in held[1]
    assert not set(held[0]) & set(held[1])


def test_a_prune_from_an_earlier_max_id_keeps_its_lower_bound():
    ranges = heartbeat.split_ranges(4999, 5000, 5000 + 800000, 3)
    assert len(ranges) == 3 and ranges[0][0] == 4999
    assert [lo + 1 for lo, _hi in ranges[1:]] == [hi for _lo, hi in ranges[:-1]]  # contiguous


def test_a_span_narrower_than_the_workers_or_one_worker_is_one_range():
    assert heartbeat.split_ranges(None, 10, 11, 2) == [(None, 11)]
    assert heartbeat.split_ranges(7, 8, 10 ** 9, 1) == [(7, 10 ** 9)]
    assert heartbeat.split_ranges(None, None, 10 ** 9, 2) == [(None, 10 ** 9)]


def test_the_ranges_stats_add_up_and_the_longest_batch_is_kept_with_its_rows():
    parts = [dict(heartbeat._new_stats(100), deleted=300, batches=3, batch_size_max=200,
                  batch_size_last=150, longest_batch_seconds=0.3, longest_batch_rows=120),
             dict(heartbeat._new_stats(100), deleted=500, batches=4, batch_size_max=400,
                  batch_size_last=90, longest_batch_seconds=0.1, longest_batch_rows=400)]
    merged = heartbeat._merge(parts, 100)
    assert merged["deleted"] == 800 and merged["batches"] == 7 and merged["batch_size_max"] == 400
    assert (merged["longest_batch_seconds"], merged["longest_batch_rows"]) == (0.3, 120)
    assert merged["batch_size_first"] == 100 and merged["batch_size_last"] == 90
