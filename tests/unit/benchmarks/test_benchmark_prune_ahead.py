"""benchmarks/obbench/prune_ahead.render: the engines side by side and OceanBase's ratio to MariaDB."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))

from obbench import prune_ahead  # noqa: E402  pylint: disable=wrong-import-position
from obbench.measure import stats  # noqa: E402  pylint: disable=wrong-import-position


def measured(ahead_seconds, longest, timeout_us=None):
    rounds = [{"ahead": {"seconds": s, "batches": 40 + i, "longest_batch_seconds": longest},
               "in_window": {"seconds": 0.01}} for i, s in enumerate(ahead_seconds)]
    out = {"rounds": rounds, "ahead_seconds": stats(ahead_seconds),
           "ahead_longest_batch_seconds": longest, "in_window_seconds": stats([0.01] * len(rounds))}
    if timeout_us:
        out["ob_query_timeout_global_us"] = timeout_us
    return out


def test_the_ratio_is_of_the_medians_and_every_round_s_batches_are_shown():
    results = {"rows": 5000000, "engines": {
        "mariadb": {"prune": measured([6.0, 5.0, 9.0], 0.25)},
        "oceanbase": {"prune": measured([15.0, 30.0, 12.0], 0.4, timeout_us=10000000)}}}
    text = prune_ahead.render(results)
    assert results["oceanbase_over_mariadb"] == 2.5  # 15 / 6
    assert "| oceanbase | 15.00 s (12.00-30.00) | 40/41/42 | 0.400 s | 0.010 s median | 10 s |" in text
    assert "| mariadb | 6.00 s (5.00-9.00) |" in text
    assert "5,000,000 heartbeat rows" in text


def test_an_engine_that_failed_is_said_and_gives_no_ratio():
    results = {"rows": 100, "engines": {
        "mariadb": {"prune": measured([1.0], 0.1)},
        "oceanbase": {"failures": ["the prune failed: Error 4012"]}}}
    text = prune_ahead.render(results)
    assert "| oceanbase | failed: the prune failed: Error 4012 |" in text
    assert "oceanbase_over_mariadb" not in results
