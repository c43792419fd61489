"""Batch sizing of the heartbeat prune: batches follow the time they take, within bounds."""

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
