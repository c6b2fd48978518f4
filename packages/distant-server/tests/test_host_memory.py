"""Streaming a 1 GiB file through ``file_read_range`` keeps the server's memory flat.

The server runs in a process of its own (``_serve_host.py``) so its resident set is its
own. Idle RSS is taken once connected and warmed up; the peak is the kernel's high-water
mark (``VmHWM``), reset just before the transfer (``clear_refs`` 5) so that it covers the
transfer only. The client reads with 2 MiB chunks, 4 requests in flight, hashes the
stream in order and checks it against the server's ``file_checksum``.

What keeps it flat: between our peers the client acknowledges what it received, so the
server's replay backup holds only what is in flight (distant_net.acks), and the server
reads a range only once it fits in the connection's reply budget (``ReplyBudget``).

Measured here (idle about 41 MiB): 2 MiB chunks, 4 in flight, the size our copy client
uses: +22 MiB at about 470 MiB/s. With 8 MiB chunks the delta is about 90 MiB: glibc keeps
freed multi-MiB buffers mapped, so larger chunks cost resident memory, not correctness.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from distant_auth import SecretKey
from distant_codec import Msg
from distant_codec import extensions as ex

from .harness import connect, one

pytestmark = pytest.mark.anyio

GIB = 1 << 30
MIB = 1 << 20
CHUNK = 2 * MIB
IN_FLIGHT = 4
BUDGET = 64 * MIB


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # one client backend is enough; the server process is trio anyway


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def make_big_file(path: Path) -> str:
    """1 GiB, sparse, with random 1 MiB blocks at a few places so the hash means something."""
    digest = hashlib.sha256()
    marks = {0: os.urandom(MIB), 512 * MIB + 12345: os.urandom(MIB), GIB - MIB: os.urandom(MIB)}
    with open(path, "wb") as f:
        f.truncate(GIB)
        for offset, block in marks.items():
            f.seek(offset)
            f.write(block)
    with open(path, "rb") as f:
        while block := f.read(16 * MIB):
            digest.update(block)
    return digest.hexdigest()


async def stream(client: Any, path: str, size: int) -> str:
    """Read the whole file in CHUNK pieces with IN_FLIGHT requests outstanding; hash in
    order as chunks arrive."""
    offsets = list(range(0, size, CHUNK))
    results: dict[int, bytes] = {}
    arrived = {i: anyio.Event() for i in range(len(offsets))}
    slots = anyio.Semaphore(IN_FLIGHT)
    digest = hashlib.sha256()

    async def fetch(i: int) -> None:
        reply = await client.request(
            Msg.single(ex.FileReadRange(path, offsets[i], CHUNK)), timeout=60
        )
        chunk = reply.payload.value
        assert isinstance(chunk, ex.FileChunk), chunk
        assert chunk.offset == offsets[i] and len(chunk.data) == min(CHUNK, size - offsets[i])
        results[i] = chunk.data
        arrived[i].set()

    async def issue(tg: Any) -> None:
        for i in range(len(offsets)):
            await slots.acquire()  # released once chunk i is hashed
            tg.start_soon(fetch, i)

    async with anyio.create_task_group() as tg:
        tg.start_soon(issue, tg)
        for i in range(len(offsets)):
            await arrived[i].wait()
            digest.update(results.pop(i))
            slots.release()
    return digest.hexdigest()


class OverBudget(AssertionError):
    """The server's peak RSS grew by more than BUDGET during the transfer."""


@pytest.fixture
def host_server() -> Iterator[tuple[subprocess.Popen[bytes], int, SecretKey]]:
    """``_serve_host.py`` in its own process: (process, port, key); killed afterwards."""
    key = SecretKey.generate()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_serve_host.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(key.expose())  # the key goes through stdin, never argv
        proc.stdin.close()
        port = int(proc.stdout.readline())
        yield proc, port, key
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.slow
async def test_streaming_1_gib_keeps_server_rss_flat(
    tmp_path: Path, host_server: tuple[subprocess.Popen[bytes], int, SecretKey]
) -> None:
    proc, port, key = host_server
    big = tmp_path / "big"
    expected = await anyio.to_thread.run_sync(make_big_file, big)
    async with connect(port, key) as client:
        warm = await one(client, ex.FileReadRange(str(big), 0, 4096, True))
        assert isinstance(warm, ex.FileChunk)
        idle = status_kib(proc.pid, "VmRSS")
        scoped = reset_peak(proc.pid)
        start = time.perf_counter()
        got = await stream(client, str(big), GIB)
        elapsed = time.perf_counter() - start
        peak = status_kib(proc.pid, "VmHWM")
        checksum = await one(client, ex.FileChecksum(str(big)), timeout=60)
    delta = peak - idle
    print(
        f"\nserver RSS: idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB"
        f"{'' if scoped else ' (peak since start: clear_refs unavailable)'}, "
        f"delta {delta / 1024:.1f} MiB; 1 GiB in {elapsed:.2f} s = "
        f"{GIB / MIB / elapsed:.0f} MiB/s ({CHUNK // MIB} MiB chunks, {IN_FLIGHT} in flight)"
    )
    assert got == expected
    assert checksum == ex.Checksum(expected, GIB)
    if delta * 1024 >= BUDGET:
        raise OverBudget(f"peak RSS grew by {delta / 1024:.1f} MiB (budget {BUDGET // MIB})")
