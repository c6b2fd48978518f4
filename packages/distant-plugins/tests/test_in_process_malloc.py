"""``serve_api`` keeps multi-MiB buffers on malloc's heap (glibc): making and dropping
file-chunk-sized buffers, as a transfer does, must stop costing fresh page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from distant_plugins.in_process import _glibc

SCRIPT = r"""
import resource, sys
import anyio
from distant_plugins.in_process import serve_api
from distant_server import Api

def faults_per_buffer():
    parts = [b"x" * 233017] * 9  # a 2 MiB chunk, joined from SFTP blocks
    live = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        live.append(b"".join(parts))
        if len(live) > 12:  # several chunks in flight, freed out of order
            live.pop(0)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100

async def main():
    async with serve_api(Api()):
        faults_per_buffer()  # the heap grows once
        print(faults_per_buffer())

anyio.run(main)
"""


@pytest.mark.skipif(_glibc() is None, reason="glibc's mallopt only")
def test_chunk_sized_buffers_are_reused_without_page_faults() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    faults = float(out.stdout.strip())
    # glibc's defaults fault in about half a buffer's 512 pages per buffer here.
    assert faults < 4, faults
