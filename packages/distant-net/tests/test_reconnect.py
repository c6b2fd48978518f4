"""Reconnect strategies (§5.4)."""

from itertools import islice

from distant_net import ExponentialBackoff, Fail, FibonacciBackoff, FixedInterval


def test_fail_never_retries() -> None:
    assert list(Fail().delays()) == []


def test_exponential_is_capped() -> None:
    delays = list(islice(ExponentialBackoff(1, 2, max_duration=10).delays(), 6))
    assert delays == [1, 2, 4, 8, 10, 10]
    assert list(ExponentialBackoff(0.5, 3, max_duration=None, max_retries=3).delays()) == [
        0.5, 1.5, 4.5
    ]  # fmt: skip


def test_fibonacci() -> None:
    delays = list(islice(FibonacciBackoff(2, max_duration=20).delays(), 7))
    assert delays == [2, 2, 4, 6, 10, 16, 20]


def test_fixed_interval_counts_retries() -> None:
    assert list(FixedInterval(0.25, max_retries=3).delays()) == [0.25] * 3
