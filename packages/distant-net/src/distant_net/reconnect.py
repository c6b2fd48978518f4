"""Reconnect strategies (§5.4): fail, exponential backoff, fibonacci backoff, fixed interval.

A strategy yields the sleep before each attempt; ``timeout`` bounds each attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "ReconnectStrategy",
    "Fail",
    "ExponentialBackoff",
    "FibonacciBackoff",
    "FixedInterval",
]


@dataclass(frozen=True, slots=True)
class Fail:
    """Never reconnect: a lost link closes the connection."""

    timeout: float | None = None

    def delays(self) -> Iterator[float]:
        return iter(())


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Sleep ``base``, ``base*factor``, ``base*factor**2``... capped at ``max_duration``."""

    base: float = 1.0
    factor: float = 2.0
    max_duration: float | None = 10.0
    max_retries: int | None = None
    timeout: float | None = None

    def delays(self) -> Iterator[float]:
        delay, n = self.base, 0
        while self.max_retries is None or n < self.max_retries:
            yield delay if self.max_duration is None else min(delay, self.max_duration)
            delay *= self.factor
            n += 1


@dataclass(frozen=True, slots=True)
class FibonacciBackoff:
    """Sleep ``base``, ``base``, ``2*base``, ``3*base``, ``5*base``... capped."""

    base: float = 1.0
    max_duration: float | None = 10.0
    max_retries: int | None = None
    timeout: float | None = None

    def delays(self) -> Iterator[float]:
        a, b, n = 1, 1, 0
        while self.max_retries is None or n < self.max_retries:
            delay = a * self.base
            yield delay if self.max_duration is None else min(delay, self.max_duration)
            a, b = b, a + b
            n += 1


@dataclass(frozen=True, slots=True)
class FixedInterval:
    """Sleep ``interval`` before every attempt."""

    interval: float = 1.0
    max_retries: int | None = None
    timeout: float | None = None

    def delays(self) -> Iterator[float]:
        n = 0
        while self.max_retries is None or n < self.max_retries:
            yield self.interval
            n += 1


ReconnectStrategy = Fail | ExponentialBackoff | FibonacciBackoff | FixedInterval
