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
  acknowledging. Target: at least 50% of the anchor's throughput. Our client keeps what it
  sends for replay (up to 256 MiB per connection, §5.3), so this includes filling that backup.

All connections stay open for the whole run and the contenders take turns (blocks of round
trips, then bulk repeats), so that a noisy moment on the VM hits each of them alike.

``BENCH_NET_PROFILE=<dir>`` runs both processes under cProfile and writes ``client-*.prof``
and ``server-*.prof`` there (the figures are then not representative).
"""

from __future__ import annotations

import contextlib
import os
import select
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
BLOCKS = 10  # the contenders take turns, ROUND_TRIPS // BLOCKS round trips at a time
CHUNK = 64 * 1024
BULK_BYTES = 64 * 1024 * 1024  # per repeat
BULK_REPEATS = 3  # the contenders take turns; the median repeat is reported
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
        """Close its stdin (a clean stop, so a profile gets written); SIGTERM, then SIGKILL,
        if it lingers. Only this process, by its PID, is signalled."""
        proc = self.proc
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        for signal_it in (None, proc.terminate, proc.kill):
            if signal_it is not None and proc.poll() is None:
                signal_it()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
                return


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


class BarePingPong:
    """A trio client of the bare ping-pong server."""

    def __init__(self, stream: Any, size: int) -> None:
        self.stream = stream
        self.size = size
        self.message = os.urandom(size)

    @classmethod
    async def open(cls, port: int, size: int) -> BarePingPong:
        import trio

        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(PING + _U32.pack(size))
        return cls(stream, size)

    async def round_trips(self, n: int) -> list[float]:
        """Seconds per round trip, one sample each."""
        stream, message, size = self.stream, self.message, self.size
        samples = []
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            await stream.send_all(message)
            got = 0
            while got < size:
                got += len(await stream.receive_some(65536))
            samples.append(clock() - t0)
        return samples


async def bare_stream(port: int, nbytes: int) -> float:
    """Seconds to stream ``nbytes`` one-way in 64 KiB writes, until the receiver acknowledges."""
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


# -- ours: distant-net -------------------------------------------------------------------------


class Ours:
    """A distant-net client connected to the ``distant`` peer with one cipher."""

    def __init__(self, client: Any) -> None:
        from distant_codec import Msg
        from distant_codec import requests as rq

        self.client = client
        self.request: Any = Msg.single(rq.Exists("/tmp"))
        self.write: Any = Msg.single(rq.FileWrite("/bench/bulk", os.urandom(CHUNK)))

    @classmethod
    async def open(
        cls, stack: contextlib.AsyncExitStack, port: int, key_hex: str, encryption: str | None
    ) -> Ours:
        from distant_auth import SecretKey, StaticKeyHandler
        from distant_codec import MSG_REQUEST, MSG_RESPONSE
        from distant_net.auth_handler import SyncHandlerAdapter
        from distant_net.client import Client
        from distant_net.client_connection import open_connection
        from distant_net.handshake import ClientSettings
        from distant_net.transport import connect_tcp

        settings = ClientSettings() if encryption is None else ClientSettings(encryption=encryption)
        handler = SyncHandlerAdapter(StaticKeyHandler(SecretKey.from_hex(key_hex)))

        async def dial() -> Any:
            return await connect_tcp("127.0.0.1", port)

        conn = await stack.enter_async_context(
            open_connection(dial, handler=handler, settings=settings)
        )
        chosen = type(conn._link.transport.codec).__name__
        expected = "CounterNonceCodec" if encryption is None else "XChaCha20Poly1305Codec"
        assert chosen == expected, (chosen, expected)
        client = await stack.enter_async_context(Client(conn, MSG_REQUEST, MSG_RESPONSE))
        return cls(client)

    async def round_trips(self, n: int) -> list[float]:
        from distant_codec import Msg
        from distant_codec import responses as rs

        client, request = self.client, self.request
        samples = []
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            response = await client.request(request)
            samples.append(clock() - t0)
        assert response.payload == Msg.single(rs.Exists(True)), response.payload
        return samples

    async def stream(self, nbytes: int) -> float:
        """Seconds to send ``nbytes`` of 64 KiB ``file_write`` payloads, until the server
        has received and decoded them all."""
        from distant_codec import Msg
        from distant_codec import requests as rq

        client, write = self.client, self.write
        done: Any = Msg.single(rq.Exists(f"{DONE_PREFIX}{nbytes}"))
        t0 = time.perf_counter()
        for _ in range(nbytes // CHUNK):
            await client.fire(write)
        await client.request(done)
        return time.perf_counter() - t0


# -- the measurement, interleaved so that a noisy moment hits every contender alike -----------


async def measure(
    bare_port: int, distant_port: int, key_hex: str, size: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(round-trip samples, bulk samples) per contender: ``"bare"`` and each cipher label."""
    async with contextlib.AsyncExitStack() as stack:
        bare = await BarePingPong.open(bare_port, size)
        stack.push_async_callback(bare.stream.aclose)
        contenders: dict[str, Any] = {"bare": bare}
        for label, encryption in CIPHERS:
            contenders[label] = await Ours.open(stack, distant_port, key_hex, encryption)
        rtt: dict[str, list[float]] = {name: [] for name in contenders}
        for c in contenders.values():
            await c.round_trips(WARMUP_ROUND_TRIPS)
        for _ in range(BLOCKS):
            for name, c in contenders.items():
                rtt[name] += await c.round_trips(ROUND_TRIPS // BLOCKS)

        bulk: dict[str, list[float]] = {name: [] for name in contenders}
        await bare_stream(bare_port, BULK_WARMUP_BYTES)
        for label, _ in CIPHERS:
            await contenders[label].stream(BULK_WARMUP_BYTES)
        for _ in range(BULK_REPEATS):
            bulk["bare"].append(await bare_stream(bare_port, BULK_BYTES))
            for label, _ in CIPHERS:
                bulk[label].append(await contenders[label].stream(BULK_BYTES))
    return rtt, bulk


def request_frame_size() -> int:
    """Bytes on the wire of our round-trip request (the bare anchor sends as many)."""
    from distant_codec import MSG_REQUEST, Msg, Request
    from distant_codec import requests as rq

    typical_id = "1" * 19  # ids are random u64s in decimal: 19 or 20 digits, mostly
    item = Request(Msg.single(rq.Exists("/tmp")), id=typical_id).to_bytes(MSG_REQUEST)
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
    with peer("bare") as bare, peer("distant", key_hex) as server, profiled("net"):
        rtt, bulk = run_trio(measure, bare.port, server.port, key_hex, size)

    results = []
    bare_rtt = statistics.median(rtt["bare"])
    print(header(f"net: request/reply round trip, TCP loopback, separate processes, median of "
                 f"{ROUND_TRIPS}", "distant-net", f"bare trio {size} B"))  # fmt: skip
    for label, _ in CIPHERS:
        ours_rtt = statistics.median(rtt[label])
        ratio = ours_rtt / bare_rtt
        print(row(f"round trip, {label}", _us(ours_rtt), _us(bare_rtt), ratio,
                  target=f"<= {TARGET_RTT:g}x", ok=ratio <= TARGET_RTT))  # fmt: skip
        results.append((f"rtt {label}", ours_rtt, bare_rtt))
    bare_bulk = statistics.median(bulk["bare"])
    print(header(f"net: one-way bulk of {CHUNK // 1024} KiB payloads, {BULK_BYTES >> 20} MiB, "
                 f"median of {BULK_REPEATS}", "distant-net", "bare trio"))  # fmt: skip
    for label, _ in CIPHERS:
        seconds = statistics.median(bulk[label])
        ratio = bare_bulk / seconds
        print(row(f"bulk, {label}", f"{_mbps(seconds):.1f} MB/s", f"{_mbps(bare_bulk):.1f} MB/s",
                  ratio, target=f">= {TARGET_BULK:g}x", ok=ratio >= TARGET_BULK))  # fmt: skip
        results.append((f"bulk {label}", seconds, bare_bulk))
    return results


if __name__ == "__main__":
    main()
