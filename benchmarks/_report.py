"""Shared helpers for the side-by-side benchmarks: timing and the printed table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_seconds(fn: Callable[[], object], *, min_time: float = 0.4, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean time per call, each run lasting ``min_time``."""
    n = 1
    while True:  # calibrate the loop count
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4:
            break
        n *= 2
    loops = max(1, int(n * (min_time / max(dt, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples)


def row(
    label: str, ours: str, anchor: str, ratio: float, *, target: str = "", ok: bool | None = None
) -> str:
    verdict = "" if ok is None else ("  meets target" if ok else "  MISSES target")
    return f"{label:<44} {ours:>16} {anchor:>16} {ratio:>8.2f}x {target:>10}{verdict}"


def header(title: str, ours: str = "ours", anchor: str = "anchor") -> str:
    line = f"{'':<44} {ours:>16} {anchor:>16} {'ratio':>9} {'target':>10}"
    return f"\n== {title}\n{line}"
