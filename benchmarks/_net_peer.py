"""The server side of ``bench_net``, in its own process: ``python -m benchmarks._net_peer MODE``.

Modes:

``distant``
    A distant-net :class:`~distant_net.server.Server` on the trio backend, as the product runs
    it, authenticating with a static key. The key arrives as one hex line on stdin (keys never
    travel through argv). Requests: ``exists`` is answered with ``exists(true)`` (the round
    trip); ``file_write`` is counted and not answered (the bulk stream); ``exists`` of
    ``"bulk-done:N"`` is answered once N payload bytes have been received and decoded.
``bare``
    The anchors: a plain trio TCP server. A connection opens with one byte: ``P`` (ping-pong:
    read a message of the announced size, send it back, forever) or ``B`` (bulk: read until
    EOF, then send the number of bytes read as a u64).

The process binds 127.0.0.1 on a port the OS picks and prints ``READY <port>`` once it
accepts connections. It runs until its stdin closes (so it never outlives the benchmark, even
one that was killed). With ``BENCH_NET_PROFILE=<dir>`` set it runs
under cProfile and writes ``<dir>/server-<mode>.prof`` on exit.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import Any

PING = b"P"
BULK = b"B"
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
DONE_PREFIX = "bulk-done:"


def _ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def _read_to_eof() -> None:
    """Blocks until stdin closes: the benchmark is done with us, or was killed."""
    sys.stdin.read()


# -- the anchors: bare trio sockets ------------------------------------------------------------


async def _receive_exactly(stream: Any, n: int, buf: bytearray) -> bool:
    while len(buf) < n:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return False
        buf += chunk
    return True


async def _bare_connection(stream: Any) -> None:
    buf = bytearray()
    if not await _receive_exactly(stream, 1 + _U32.size, buf):
        return
    mode = bytes(buf[:1])
    if mode == PING:
        (size,) = _U32.unpack_from(buf, 1)
        del buf[: 1 + _U32.size]
        while await _receive_exactly(stream, size, buf):
            message = bytes(buf[:size])
            del buf[:size]
            await stream.send_all(message)
    elif mode == BULK:
        total = len(buf) - 1 - _U32.size
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            total += len(chunk)
        await stream.send_all(_U64.pack(total))
    await stream.aclose()


async def _bare_main() -> None:
    import trio

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _bare_connection, listeners)
        _ready(port)
        await trio.to_thread.run_sync(_read_to_eof, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()


# -- ours: a distant-net server -----------------------------------------------------------------


class _State:
    """Bulk accounting of one connection: payload bytes received, and the total awaited."""

    __slots__ = ("all_in", "expected", "received")

    def __init__(self) -> None:
        import anyio

        self.received = 0
        self.expected: int | None = None
        self.all_in = anyio.Event()

    def add(self, n: int) -> None:
        self.received += n
        if self.expected is not None and self.received >= self.expected:
            self.all_in.set()

    async def wait_for(self, expected: int) -> None:
        import anyio

        self.expected = expected
        if self.received < expected:
            await self.all_in.wait()
        self.received, self.expected, self.all_in = 0, None, anyio.Event()


class _BenchHandler:
    async def on_connect(self, info: Any) -> _State:
        return _State()

    async def on_request(self, ctx: Any) -> None:
        from distant_codec import Msg
        from distant_codec import requests as rq
        from distant_codec import responses as rs

        payload = ctx.request.payload.value
        if type(payload) is rq.FileWrite:
            ctx.state.add(len(payload.data))
            return
        if type(payload) is rq.Exists:
            if payload.path.startswith(DONE_PREFIX):
                # Every earlier request was decoded before this one was; their handler tasks
                # may still be queued behind this one.
                await ctx.state.wait_for(int(payload.path[len(DONE_PREFIX) :]))
            await ctx.reply(Msg.single(rs.Exists(True)))

    async def on_disconnect(self, state: _State) -> None:
        pass


async def _distant_main(key_hex: str) -> None:
    import anyio

    from distant_auth import SecretKey, Verifier
    from distant_codec import MSG_REQUEST, MSG_RESPONSE
    from distant_net.handshake import ServerSettings
    from distant_net.server import Server
    from distant_net.transport import listen_tcp

    key = SecretKey.from_hex(key_hex)
    server: Server[Any, Any, Any] = Server(
        _BenchHandler(),
        request_kind=MSG_REQUEST,
        response_kind=MSG_RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(key)),
    )
    listener = await listen_tcp("127.0.0.1", 0)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, listener)
        _ready(listener.port)
        await anyio.to_thread.run_sync(_read_to_eof, abandon_on_cancel=True)
        tg.cancel_scope.cancel()


def main(argv: list[str]) -> None:
    mode = argv[0] if argv else ""
    if mode == "distant":
        key_hex = sys.stdin.readline().strip()
        import anyio

        def run() -> None:
            anyio.run(_distant_main, key_hex, backend="trio")
    elif mode == "bare":
        import trio

        def run() -> None:
            trio.run(_bare_main)
    else:
        raise SystemExit(f"usage: python -m benchmarks._net_peer distant|bare (got {mode!r})")

    profile_dir = os.environ.get("BENCH_NET_PROFILE")
    try:
        if profile_dir:
            import cProfile

            profiler = cProfile.Profile()
            try:
                profiler.runcall(run)
            finally:
                profiler.dump_stats(os.path.join(profile_dir, f"server-{mode}.prof"))
        else:
            run()
    except* KeyboardInterrupt:  # Ctrl-C: a clean stop too
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
