"""The logical connection without a network: replay exactness across many lost links,
silence detection, and the ``Fail`` reconnect strategy (§5.1, §5.3-5.4).

Links are in-memory stream pairs. Two :class:`Connection` objects are linked directly
(``attach`` on both ends at once, as a client and a server do after a reconnection), or a real
:class:`Server` serves a real client through :class:`MemoryListener`, a listener whose
``dial`` makes a fresh in-memory pair.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest

from distant_auth import SecretKey, StaticKeyHandler, Verifier
from distant_codec import MSG_REQUEST, MSG_RESPONSE, CodecError, Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import (
    Client,
    Connection,
    ConnectionClosed,
    ExponentialBackoff,
    Fail,
    FramedTransport,
    ReconnectFailed,
    ReconnectStrategy,
    Server,
    ServerSettings,
    SyncHandlerAdapter,
    memory_stream_pair,
    open_connection,
)

from .harness import Echo

pytestmark = pytest.mark.anyio

KEY = SecretKey.generate()
LINK_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
    CodecError,
)


# -- two connections linked by hand ---------------------------------------------------------


class CutAfter(anyio.abc.ByteStream):
    """A byte stream that breaks (closing the underlying one) once ``budget`` bytes have
    been sent through it, possibly in the middle of a frame."""

    def __init__(self, stream: anyio.abc.ByteStream, budget: int | None) -> None:
        self.stream = stream
        self.budget = budget

    async def send(self, item: bytes) -> None:
        if self.budget is not None and len(item) >= self.budget:
            if self.budget:
                await self.stream.send(item[: self.budget])
            self.budget = 0
            await self.stream.aclose()
            raise anyio.BrokenResourceError("cut")
        if self.budget is not None:
            self.budget -= len(item)
        await self.stream.send(item)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self.stream.receive(max_bytes)

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def aclose(self) -> None:
        await self.stream.aclose()


async def _attach(conn: Connection, transport: FramedTransport, sync: bool) -> None:
    try:
        await conn.attach(transport, synchronize_first=sync)
    except LINK_ERRORS:
        await transport.aclose()


async def relink(
    a: Connection, b: Connection, *, sync: bool = True, budget: int | None = None
) -> bool:
    """Give ``a`` and ``b`` a new link (synchronizing first); True once both are attached.
    With a ``budget``, ``a``'s side of the link breaks after that many bytes."""
    for side in (a, b):
        if side.attached:
            side.lose_link("test: relink")
    x, y = memory_stream_pair()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_attach, a, FramedTransport(CutAfter(x, budget)), sync)
        tg.start_soon(_attach, b, FramedTransport(y), sync)
    if a.attached and b.attached:
        return True
    for side in (a, b):  # one side may have finished before the link broke
        if side.attached:
            await side.wait_lost()
    return False


def _item(seq: int, rng: random.Random) -> bytes:
    return seq.to_bytes(8, "big") + rng.randbytes(rng.randrange(0, 20000))


async def _stream(sender: Connection, receiver: Connection, count: int, seed: int) -> None:
    """``count`` items from ``sender`` to ``receiver``; each must arrive once, in order."""
    expected_rng = random.Random(seed)

    async def send() -> None:
        rng = random.Random(seed)
        for seq in range(count):
            await sender.send(_item(seq, rng))

    async def receive() -> None:
        for seq in range(count):
            item = await receiver.receive()
            got = int.from_bytes(item[:8], "big")
            assert got == seq, f"{receiver.name}: expected item {seq}, got {got}"
            assert item == _item(seq, expected_rng), f"{receiver.name}: item {seq} differs"

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        tg.start_soon(receive)


async def test_replay_is_exact_across_many_lost_links() -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"seed: {seed}")
    rng = random.Random(seed)
    count = 2000  # about 20 MB each way
    links = 0
    a = Connection(7, name="a", heartbeat=0.05, incoming_buffer=4)
    b = Connection(7, name="b", incoming_buffer=64)
    with anyio.fail_after(60):
        async with a, b:
            assert await relink(a, b, sync=False)

            async def chaos() -> None:
                nonlocal links
                while True:
                    await anyio.sleep(rng.uniform(0, 0.02))
                    if rng.random() < 0.5:
                        rng.choice((a, b)).lose_link("test: chaos")
                    else:  # a cut in the middle of a frame, maybe of a synchronize
                        budget = rng.choice((rng.randrange(0, 200), rng.randrange(0, 500_000)))
                        while not await relink(a, b, budget=budget):
                            budget = rng.randrange(0, 500_000)
                        links += 1
                        continue
                    for side in (a, b):
                        await side.wait_lost()
                    while not await relink(a, b):
                        pass
                    links += 1

            async with anyio.create_task_group() as tg:
                tg.start_soon(chaos)
                async with anyio.create_task_group() as streams:
                    streams.start_soon(_stream, a, b, count, rng.randrange(2**32))
                    streams.start_soon(_stream, b, a, count, rng.randrange(2**32))
                tg.cancel_scope.cancel()
    print(f"{links} links")
    assert links >= 20
    # Both ends agree on every count, and the backups hold nothing the peer has.
    assert a.replay.sent == b.replay.received
    assert b.replay.sent == a.replay.received


async def test_an_item_taken_as_its_link_is_lost_is_not_duplicated() -> None:
    """The reader is blocked handing an item to a full queue; the consumer takes one and
    the link is lost in the same instant. The item the reader was handing over is now
    delivered: it must be counted, or the peer replays it a second time."""
    for _ in range(10):
        a = Connection(1, name="a", incoming_buffer=1)
        b = Connection(1, name="b")
        with anyio.fail_after(10):
            async with a, b:
                assert await relink(a, b, sync=False)
                for n in (1, 2, 3):
                    await b.send(bytes([n]))
                await anyio.wait_all_tasks_blocked()  # a's reader holds item 2, the queue item 1
                got = [await a.receive()]
                a.lose_link("test: lost while delivering")
                await b.wait_lost()
                async with anyio.create_task_group() as tg:
                    # Synchronize delivers the replayed items to the (bounded) queue, so
                    # it needs the consumer going.
                    tg.start_soon(relink, a, b)
                    got += [await a.receive(), await a.receive()]
                assert a.attached and b.attached
                assert got == [b"\x01", b"\x02", b"\x03"]
                with anyio.move_on_after(0.05):
                    extra = await a.receive()
                    pytest.fail(f"item {extra!r} was delivered twice")


# -- a real server and client over memory links -------------------------------------------


class MemoryListener(anyio.abc.Listener[anyio.abc.ByteStream]):
    """A listener for :class:`Server` whose ``dial`` makes a new in-memory pair."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[anyio.abc.ByteStream](16)

    async def dial(self) -> anyio.abc.ByteStream:
        client_end, server_end = memory_stream_pair()
        await self._send.send(server_end)
        return client_end

    async def serve(
        self,
        handler: Callable[[anyio.abc.ByteStream], Coroutine[Any, Any, Any]],
        task_group: anyio.abc.TaskGroup | None = None,
    ) -> None:
        async with anyio.create_task_group() as tg:
            group = task_group or tg
            async for stream in self._receive:
                group.start_soon(handler, stream)

    async def aclose(self) -> None:
        await self._send.aclose()


@asynccontextmanager
async def memory_client(
    *, strategy: ReconnectStrategy, silence: float | None, **server_options: Any
) -> AsyncIterator[tuple[Server[Any, Any, None], Connection, Client[Any, Any]]]:
    server: Server[Any, Any, None] = Server(
        Echo(),
        request_kind=MSG_REQUEST,
        response_kind=MSG_RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(KEY)),
        **server_options,
    )
    listener = MemoryListener()
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, listener)
        async with (
            open_connection(
                listener.dial,
                handler=SyncHandlerAdapter(StaticKeyHandler(KEY)),
                strategy=strategy,
                silence=silence,
            ) as conn,
            Client(conn, MSG_REQUEST, MSG_RESPONSE) as client,
        ):
            yield server, conn, client
        tg.cancel_scope.cancel()


async def _ping(client: Client[Any, Any]) -> None:
    reply = await client.request(Msg.single(rq.Exists("/")), timeout=5)
    assert reply.payload == Msg.single(rs.Exists(True))


BACKOFF = ExponentialBackoff(base=0.01, factor=2, max_duration=0.2)


async def test_silence_without_heartbeats_makes_the_client_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="distant_net")
    with anyio.fail_after(20):
        async with memory_client(strategy=BACKOFF, silence=0.3, heartbeat=None) as (
            _server,
            conn,
            client,
        ):
            await _ping(client)
            await anyio.sleep(1.0)
            await _ping(client)
    messages = [r.getMessage() for r in caplog.records]
    silent = [m for m in messages if "no frame for 0.3 s" in m]
    resumed = [m for m in messages if f"connection {conn.id} resumed" in m]
    assert len(silent) >= 2, messages
    assert len(resumed) >= 2, messages


async def test_heartbeats_keep_a_quiet_link_alive(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="distant_net")
    with anyio.fail_after(20):
        async with memory_client(strategy=BACKOFF, silence=0.3, heartbeat=0.1) as (
            _server,
            _conn,
            client,
        ):
            await _ping(client)
            await anyio.sleep(1.2)
            await _ping(client)
            messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "lost" in m or "resumed" in m], messages


async def test_strategy_fail_closes_the_connection_with_reconnect_failed() -> None:
    with anyio.fail_after(20):
        async with memory_client(strategy=Fail(), silence=None, grace=0.2) as (
            server,
            conn,
            client,
        ):
            await _ping(client)
            assert len(server.connections) == 1
            conn.lose_link("test: cut")
            await conn.wait_closed()
            assert conn.close_reason == "reconnect failed after 0 attempt(s)"
            with pytest.raises(ReconnectFailed):
                await conn.receive()
            with pytest.raises(ReconnectFailed):
                await conn.send(b"late")
            with pytest.raises(ConnectionClosed):
                await client.request(Msg.single(rq.Exists("/")), timeout=5)
            # The server gives the vanished client its grace period, then lets go.
            with anyio.fail_after(5):
                while server.connections:
                    await anyio.sleep(0.02)
