"""Runs every benchmark in this folder: ``python benchmarks/run.py [name ...]``.

Each benchmark prints our figure beside an anchor measured in the same run, and the ratio.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCHMARKS = ["bench_codec", "bench_net", "bench_server", "bench_cli", "bench_ssh"]


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    chosen = argv or BENCHMARKS
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
