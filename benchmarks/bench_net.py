"""Network benchmark (issue: distant-net).

Client and server run in separate processes over TCP on loopback, both on the trio backend
as the product does; the server is ``python -m benchmarks._net_peer`` (the static key goes to
it on stdin, never argv), this process is the client.

* **Round trip**: ``client.request(exists)`` answered by ``exists(true)``, encrypted, through
  the whole stack (envelope, msgpack, AEAD, framing, connection, client routing, server
  dispatch). Median over many round trips after a warm-up, for the cipher the default
  negotiation picks (counter nonces) and for the standard XChaCha20Poly1305.
  Anchor: a bare trio socket ping-pong of a message the size of our request frame, between a
  trio client and a trio server in separate processes. Target: at most 2x the anchor.
* **Bulk**: 64 KiB ``file_write`` payloads sent one-way, timed until the server has received
  and decoded all of them (a final request is answered once the server counted every byte).
  Anchor: a bare trio socket stream of 64 KiB writes, the receiver reading until EOF and then
  acknowledging. Target: at least 50% of the anchor's throughput.

``BENCH_NET_PROFILE=<dir>`` runs both processes under cProfile and writes ``client-*.prof``
and ``server-*.prof`` there (the figures are then not representative).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from ._net_peer import BULK, DONE_PREFIX, PING
from ._report import header, row

ROOT = Path(__file__).resolve().parent.parent

ROUND_TRIPS = 5000
WARMUP_ROUND_TRIPS = 500
CHUNK = 64 * 1024
BULK_BYTES = 64 * 1024 * 1024  # per repeat
BULK_REPEATS = 3  # the median repeat is reported
BULK_WARMUP_BYTES = 8 * 1024 * 1024
TARGET_RTT = 2.0  # ours / bare trio round trip, at most
TARGET_BULK = 0.5  # ours / bare trio stream, at least
READY_TIMEOUT = 30.0
CIPHERS = [
    ("counter-nonce (default)", None),
    ("XChaCha20Poly1305", "XChaCha20Poly1305"),
]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")

_PROFILE_DIR = os.environ.get("BENCH_NET_PROFILE") or None


# -- the server process ----------------------------------------------------------------------


class Peer:
    """A ``benchmarks._net_peer`` process: started, awaited until ready, then stopped by PID."""

    def __init__(self, mode: str, stdin_line: str | None = None) -> None:
        self.mode = mode
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._net_peer", mode],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert self.proc.stdin is not None
            if stdin_line is not None:
                self.proc.stdin.write(stdin_line + "\n")
                self.proc.stdin.flush()
            self.port = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> int:
        stdout = self.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.mode} server not ready after {READY_TIMEOUT:g} s")
            readable, _, _ = select.select([stdout], [], [], left)
            if not readable:
                continue
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"{self.mode} server exited with {self.proc.wait()}")
            if line.startswith("READY "):
                return int(line.split()[1])

    def stop(self) -> None:
        """SIGINT (a clean stop, so a profile gets written), then SIGKILL if need be."""
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


@contextlib.contextmanager
def peer(mode: str, stdin_line: str | None = None) -> Iterator[Peer]:
    p = Peer(mode, stdin_line)
    try:
        yield p
    finally:
        p.stop()


@contextlib.contextmanager
def profiled(name: str) -> Iterator[None]:
    if _PROFILE_DIR is None:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(os.path.join(_PROFILE_DIR, f"client-{name}.prof"))


def run_trio(fn: Callable[..., Awaitable[Any]], *args: object) -> Any:
    import anyio

    return anyio.run(fn, *args, backend="trio")


# -- the anchors: bare trio sockets ----------------------------------------------------------


async def _read_exactly(stream: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        buf += chunk
    return bytes(buf)


async def bare_round_trips(port: int, size: int) -> list[float]:
    """Seconds per round trip of a ``size``-byte message, one sample per round trip."""
    import trio

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(PING + _U32.pack(size))
        message = os.urandom(size)
        samples = []
        clock = time.perf_counter
        for i in range(WARMUP_ROUND_TRIPS + ROUND_TRIPS):
            t0 = clock()
            await stream.send_all(message)
            got = 0
            while got < size:
                got += len(await stream.receive_some(65536))
            if i >= WARMUP_ROUND_TRIPS:
                samples.append(clock() - t0)
    return samples


async def _bare_stream_once(port: int, nbytes: int) -> float:
    import trio

    chunk = os.urandom(CHUNK)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(BULK + _U32.pack(0))
        t0 = time.perf_counter()
        for _ in range(nbytes // CHUNK):
            await stream.send_all(chunk)
        await stream.send_eof()
        (received,) = _U64.unpack(await _read_exactly(stream, _U64.size))
        elapsed = time.perf_counter() - t0
    assert received == nbytes, (received, nbytes)
    return elapsed


async def bare_stream(port: int) -> list[float]:
    """Seconds per ``BULK_BYTES`` one-way, one sample per repeat."""
    await _bare_stream_once(port, BULK_WARMUP_BYTES)
    return [await _bare_stream_once(port, BULK_BYTES) for _ in range(BULK_REPEATS)]


# -- ours: distant-net -------------------------------------------------------------------------


async def ours(port: int, key_hex: str, encryption: str | None) -> tuple[list[float], list[float]]:
    """(seconds per round trip, seconds per ``BULK_BYTES``) over one connection."""
    from distant_auth import SecretKey, StaticKeyHandler
    from distant_codec import MSG_REQUEST, MSG_RESPONSE, Msg
    from distant_codec import requests as rq
    from distant_codec import responses as rs
    from distant_net.auth_handler import SyncHandlerAdapter
    from distant_net.client import Client
    from distant_net.client_connection import open_connection
    from distant_net.handshake import ClientSettings
    from distant_net.transport import connect_tcp

    settings = ClientSettings() if encryption is None else ClientSettings(encryption=encryption)
    handler = SyncHandlerAdapter(StaticKeyHandler(SecretKey.from_hex(key_hex)))

    async def dial() -> Any:
        return await connect_tcp("127.0.0.1", port)

    async with (
        open_connection(dial, handler=handler, settings=settings) as conn,
        Client(conn, MSG_REQUEST, MSG_RESPONSE) as client,
    ):
        chosen = type(conn._link.transport.codec).__name__  # type: ignore[union-attr]
        expected = "CounterNonceCodec" if encryption is None else "XChaCha20Poly1305Codec"
        assert chosen == expected, (chosen, expected)

        request: Any = Msg.single(rq.Exists("/tmp"))
        rtts = []
        clock = time.perf_counter
        for i in range(WARMUP_ROUND_TRIPS + ROUND_TRIPS):
            t0 = clock()
            response = await client.request(request)
            if i >= WARMUP_ROUND_TRIPS:
                rtts.append(clock() - t0)
        assert response.payload == Msg.single(rs.Exists(True)), response.payload

        write: Any = Msg.single(rq.FileWrite("/bench/bulk", os.urandom(CHUNK)))

        async def stream_once(nbytes: int) -> float:
            done: Any = Msg.single(rq.Exists(f"{DONE_PREFIX}{nbytes}"))
            t0 = clock()
            for _ in range(nbytes // CHUNK):
                await client.fire(write)
            await client.request(done)
            return clock() - t0

        await stream_once(BULK_WARMUP_BYTES)
        bulk = [await stream_once(BULK_BYTES) for _ in range(BULK_REPEATS)]
    return rtts, bulk


def request_frame_size() -> int:
    """Bytes on the wire of our round-trip request (the bare anchor sends as many)."""
    from distant_codec import MSG_REQUEST, Msg, Request
    from distant_codec import requests as rq

    item = Request(Msg.single(rq.Exists("/tmp"))).to_bytes(MSG_REQUEST)
    return 8 + len(item) + 16  # u64 header + item + Poly1305 tag


# -- report ------------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def _mbps(seconds: float) -> float:
    return BULK_BYTES / seconds / 1e6


def main() -> list[tuple[str, float, float]]:
    from distant_auth import SecretKey

    key_hex = SecretKey.generate().to_hex()
    size = request_frame_size()
    with peer("bare") as bare, peer("distant", key_hex) as server:
        with profiled("bare"):
            bare_rtt = statistics.median(run_trio(bare_round_trips, bare.port, size))
            bare_bulk = statistics.median(run_trio(bare_stream, bare.port))
        measured = []
        for label, encryption in CIPHERS:
            with profiled("counter" if encryption is None else "xchacha"):
                rtts, bulk = run_trio(ours, server.port, key_hex, encryption)
            measured.append((label, statistics.median(rtts), statistics.median(bulk)))

    results = []
    print(header(f"net: request/reply round trip, TCP loopback, separate processes, median of "
                 f"{ROUND_TRIPS}", "distant-net", f"bare trio {size} B"))  # fmt: skip
    for label, rtt, _ in measured:
        ratio = rtt / bare_rtt
        print(row(f"round trip, {label}", _us(rtt), _us(bare_rtt), ratio,
                  target=f"<= {TARGET_RTT:g}x", ok=ratio <= TARGET_RTT))  # fmt: skip
        results.append((f"rtt {label}", rtt, bare_rtt))
    print(header(f"net: one-way bulk of {CHUNK // 1024} KiB payloads, {BULK_BYTES >> 20} MiB, "
                 f"median of {BULK_REPEATS}", "distant-net", "bare trio"))  # fmt: skip
    for label, _, seconds in measured:
        ratio = bare_bulk / seconds
        print(row(f"bulk, {label}", f"{_mbps(seconds):.1f} MB/s", f"{_mbps(bare_bulk):.1f} MB/s",
                  ratio, target=f">= {TARGET_BULK:g}x", ok=ratio >= TARGET_BULK))  # fmt: skip
        results.append((f"bulk {label}", seconds, bare_bulk))
    return results


if __name__ == "__main__":
    main()
