"""TCP tunnels of the host Api, through the real dispatcher over a loopback connection.

The server-side tunnels run against local echo servers in both directions: forward, the
echo server is the tunnel's target; reverse, the test itself echoes what a local client
sends into the listener back through ``tunnel_write``.
"""

from __future__ import annotations

import random
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest

from distant_codec import Error, ErrorKind, Msg, TunnelDirection, TunnelInfo
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import ConnectionClosed
from distant_server.host.tunnels import TunnelOps

from .harness import api_client, connect, one, serving

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


# -- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """A TCP echo server on 127.0.0.1; yields its port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def echo(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                async for chunk in stream:
                    await stream.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        yield port
        tg.cancel_scope.cancel()


@asynccontextmanager
async def tcp_server(
    handler: Callable[[anyio.abc.SocketStream], Awaitable[None]], rcvbuf: int | None = None
) -> AsyncIterator[int]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    if rcvbuf is not None:
        raw = listener.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Events:
    """The follow-ups of one tunnel request, collected in the background."""

    def __init__(self) -> None:
        self.all: list[Any] = []
        self.data: dict[int, bytearray] = defaultdict(bytearray)
        self.incoming: list[rs.TunnelIncoming] = []
        self.closed: list[int] = []
        self.on_data: Callable[[rs.TunnelData], Awaitable[None]] | None = None
        self._changed = anyio.Event()

    async def pump(self, mailbox: Any) -> None:
        while True:
            try:
                reply = await mailbox.next()
            except ConnectionClosed:
                return
            assert not reply.payload.is_batch  # follow-ups are single (§7.2)
            payload = reply.payload.value
            self.all.append(payload)
            if isinstance(payload, rs.TunnelData):
                self.data[payload.id] += payload.data
                if self.on_data is not None:
                    await self.on_data(payload)
            elif isinstance(payload, rs.TunnelIncoming):
                self.incoming.append(payload)
            elif isinstance(payload, rs.TunnelClosed):
                self.closed.append(payload.id)
            self._changed.set()
            self._changed = anyio.Event()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        with anyio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()


@asynccontextmanager
async def tunnel(client: Any, request: Any) -> AsyncIterator[tuple[Any, Events]]:
    """Send a tunnel_open/tunnel_listen; yield its main reply and its collected follow-ups."""
    async with client.stream(Msg.single(request)) as mailbox:
        first = (await mailbox.next(10)).payload.value
        events = Events()
        async with anyio.create_task_group() as tg:
            if not isinstance(first, Error):
                tg.start_soon(events.pump, mailbox)
            yield first, events
            tg.cancel_scope.cancel()


async def pipelined(client: Any, requests: list[Any], timeout: float = 20) -> list[Any]:
    """Send every request before waiting for any reply (in order, from one task)."""
    async with AsyncExitStack() as stack:
        mailboxes = [
            await stack.enter_async_context(client.stream(Msg.single(request)))
            for request in requests
        ]
        return [(await mailbox.next(timeout)).payload.value for mailbox in mailboxes]


async def status(client: Any) -> tuple[TunnelInfo, ...]:
    reply = await one(client, rq.Status())
    assert isinstance(reply, rs.StatusInfo)
    return reply.tunnels


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- forward ---------------------------------------------------------------------------------


async def test_forward_tunnel_echoes_in_order() -> None:
    payload = random.Random(7).randbytes(4 * MiB)
    async with (
        echo_server() as port,
        api_client(TunnelOps()) as client,
        tunnel(client, rq.TunnelOpen("127.0.0.1", port)) as (opened, events),
    ):
        assert opened == rs.TunnelOpened(1)
        sent = b""
        for small in (b"hello", b" ", b"world", b"\x00\xff" * 3):
            assert await one(client, rq.TunnelWrite(1, small)) == rs.Ok()
            sent += small
        await events.until(lambda: len(events.data[1]) >= len(sent))
        assert bytes(events.data[1]) == sent

        assert await status(client) == (TunnelInfo(1, TunnelDirection.FORWARD, "127.0.0.1", port),)

        # 4 MiB in 64 KiB chunks, every write sent before any reply is awaited.
        replies = await pipelined(client, [rq.TunnelWrite(1, c) for c in chunks(payload, 65536)])
        assert replies == [rs.Ok()] * 64
        sent += payload
        await events.until(lambda: len(events.data[1]) >= len(sent), timeout=20)
        assert bytes(events.data[1]) == sent  # not dropped, not reordered
        assert all(isinstance(e, rs.TunnelData) and e.id == 1 for e in events.all)

        assert await one(client, rq.TunnelClose(1)) == rs.Ok()
        await events.until(lambda: 1 in events.closed)
        assert events.closed == [1]
        assert isinstance(events.all[-1], rs.TunnelClosed)
        assert await status(client) == ()
        gone = await one(client, rq.TunnelWrite(1, b"late"))
        assert gone == Error(ErrorKind.NOT_FOUND, "No tunnel found with id 1")
        assert (await one(client, rq.TunnelClose(1))).kind == ErrorKind.NOT_FOUND


async def test_forward_tunnel_ids_count_up_and_end_when_the_remote_closes() -> None:
    async def greet(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.send(b"bye")

    async with (
        tcp_server(greet) as port,
        api_client(TunnelOps()) as client,
        tunnel(client, rq.TunnelOpen("127.0.0.1", port)) as (first, events1),
        tunnel(client, rq.TunnelOpen("localhost", port)) as (second, events2),
    ):
        assert (first, second) == (rs.TunnelOpened(1), rs.TunnelOpened(2))
        await events1.until(lambda: 1 in events1.closed)
        await events2.until(lambda: 2 in events2.closed)
        for tid, events in ((1, events1), (2, events2)):
            assert bytes(events.data[tid]) == b"bye"
            assert events.all == [rs.TunnelData(tid, b"bye"), rs.TunnelClosed(tid)]
        assert await status(client) == ()
        assert (await one(client, rq.TunnelWrite(1, b"x"))).kind == ErrorKind.NOT_FOUND


async def test_forward_errors() -> None:
    async with api_client(TunnelOps()) as client:
        refused = await one(client, rq.TunnelOpen("127.0.0.1", unused_port()))
        assert isinstance(refused, Error)
        assert refused.kind == ErrorKind.CONNECTION_REFUSED
        assert "127.0.0.1:" in refused.description

        missing = await one(client, rq.TunnelWrite(42, b"x"))
        assert missing == Error(ErrorKind.NOT_FOUND, "No tunnel found with id 42")
        assert await one(client, rq.TunnelClose(42)) == Error(
            ErrorKind.NOT_FOUND, "No tunnel found with id 42"
        )
        assert await status(client) == ()

        async with (  # a failed open used no id
            echo_server() as port,
            tunnel(client, rq.TunnelOpen("127.0.0.1", port)) as (opened, _),
        ):
            assert opened == rs.TunnelOpened(1)


async def test_close_gives_up_flushing_to_a_peer_that_does_not_read() -> None:
    stuck = anyio.Event()

    async def sink(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            # One read, then none: (on asyncio, anyio reads eagerly until the first receive)
            await stream.receive(1)
            await stuck.wait()

    chunk = b"z" * (256 * 1024)
    async with (
        tcp_server(sink, rcvbuf=4096) as port,
        api_client(TunnelOps(close_timeout=0.5)) as client,
        tunnel(client, rq.TunnelOpen("127.0.0.1", port)) as (opened, events),
        AsyncExitStack() as stack,
    ):
        assert opened == rs.TunnelOpened(1)
        mailboxes = [
            await stack.enter_async_context(client.stream(Msg.single(rq.TunnelWrite(1, chunk))))
            for _ in range(40)  # 10 MiB: more than the socket buffers hold
        ]
        await anyio.sleep(0.3)
        assert await one(client, rq.TunnelClose(1)) == rs.Ok()
        assert await status(client) == ()
        with anyio.fail_after(5):
            await events.until(lambda: 1 in events.closed)
        replies = [(await mailbox.next(5)).payload.value for mailbox in mailboxes]
        failed = [r for r in replies if r != rs.Ok()]
        assert failed, "some writes should never have fit"
        assert replies == [rs.Ok()] * (40 - len(failed)) + failed  # in order
        # The write in progress fails as not_connected; writes still queued behind it in
        # the tunnel's lane (writes run in arrival order) find the tunnel gone.
        assert failed[0].kind == ErrorKind.NOT_CONNECTED
        assert {r.kind for r in failed} <= {ErrorKind.NOT_CONNECTED, ErrorKind.NOT_FOUND}
        stuck.set()


# -- reverse ---------------------------------------------------------------------------------


async def test_reverse_tunnel_echoes_through_the_tunnel() -> None:
    async with (
        api_client(TunnelOps()) as client,
        tunnel(client, rq.TunnelListen("127.0.0.1", 0)) as (listening, events),
    ):
        assert isinstance(listening, rs.TunnelListening)
        assert listening.id == 1
        port = listening.port
        assert port != 0

        # The test is the echo server, on the far side of the tunnel.
        async def echo_back(data: rs.TunnelData) -> None:
            assert await one(client, rq.TunnelWrite(data.id, data.data)) == rs.Ok()

        events.on_data = echo_back

        local = await anyio.connect_tcp("127.0.0.1", port)
        local_port = local.extra(anyio.abc.SocketAttribute.local_port)
        await events.until(lambda: len(events.incoming) == 1)
        assert events.incoming[0] == rs.TunnelIncoming(1, 2, f"127.0.0.1:{local_port}")

        payload = random.Random(3).randbytes(2 * MiB)
        received = bytearray()

        async def read_back(stream: anyio.abc.SocketStream, into: bytearray, size: int) -> None:
            while len(into) < size:
                into += await stream.receive()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_back, local, received, len(payload) + 4)
            await local.send(b"ping")
            for piece in chunks(payload, 100_000):
                await local.send(piece)
        assert bytes(received) == b"ping" + payload
        assert bytes(events.data[2]) == b"ping" + payload

        # A second client gets the next id from the same counter.
        other = await anyio.connect_tcp("127.0.0.1", port)
        other_port = other.extra(anyio.abc.SocketAttribute.local_port)
        await events.until(lambda: len(events.incoming) == 2)
        assert events.incoming[1] == rs.TunnelIncoming(1, 3, f"127.0.0.1:{other_port}")
        await other.send(b"two")
        assert await other.receive() == b"two"

        assert await status(client) == (
            TunnelInfo(1, TunnelDirection.REVERSE, "127.0.0.1", port),
            TunnelInfo(2, TunnelDirection.REVERSE, "127.0.0.1", local_port),
            TunnelInfo(3, TunnelDirection.REVERSE, "127.0.0.1", other_port),
        )
        assert await one(client, rq.TunnelWrite(1, b"x")) == Error(
            ErrorKind.INVALID_INPUT, "Cannot write to listener 1"
        )

        # One sub-tunnel ending leaves the others and the listener open.
        await other.aclose()
        await events.until(lambda: 3 in events.closed)
        assert [t.id for t in await status(client)] == [1, 2]

        # Closing the listener closes its sub-tunnels; its own tunnel_closed comes last.
        assert await one(client, rq.TunnelClose(1)) == rs.Ok()
        with anyio.fail_after(5):
            with pytest.raises(anyio.EndOfStream):
                while True:
                    await local.receive()
        await events.until(lambda: 1 in events.closed)
        assert events.closed == [3, 2, 1]
        assert events.all[-1] == rs.TunnelClosed(1)
        await local.aclose()
        assert await status(client) == ()
        with pytest.raises(OSError):
            await anyio.connect_tcp("127.0.0.1", port)


async def test_reverse_tunnel_forwards_server_writes_to_the_client() -> None:
    async with (
        api_client(TunnelOps()) as client,
        tunnel(client, rq.TunnelListen("127.0.0.1", 0)) as (listening, events),
    ):
        local = await anyio.connect_tcp("127.0.0.1", listening.port)
        await events.until(lambda: len(events.incoming) == 1)
        sub = events.incoming[0].tunnel_id
        assert sub == 2
        # Written first, by the far side: a banner before the client says anything.
        assert await one(client, rq.TunnelWrite(sub, b"banner\n")) == rs.Ok()
        assert await local.receive() == b"banner\n"
        assert await one(client, rq.TunnelClose(sub)) == rs.Ok()
        await events.until(lambda: sub in events.closed)
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await local.receive()
        await local.aclose()
        assert [t.id for t in await status(client)] == [1]  # the listener stays


async def test_listen_errors() -> None:
    taken = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = taken.extra(anyio.abc.SocketAttribute.local_port)
    async with taken, api_client(TunnelOps()) as client:
        in_use = await one(client, rq.TunnelListen("127.0.0.1", port))
        assert isinstance(in_use, Error)
        assert in_use.kind == ErrorKind.ADDR_IN_USE
        assert f"127.0.0.1:{port}" in in_use.description
        async with tunnel(client, rq.TunnelListen("127.0.0.1", 0)) as (listening, _):
            assert listening.id == 1  # the failed listen used no id


# -- connection end --------------------------------------------------------------------------


async def test_closing_the_connection_closes_its_tunnels() -> None:
    peer_gone = anyio.Event()

    async def watch(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                async for _ in stream:
                    pass
            except anyio.BrokenResourceError:
                pass
            peer_gone.set()

    async with tcp_server(watch) as target, serving(TunnelOps(), grace=0.1) as (server, p, key):
        async with connect(p, key) as client:
            async with tunnel(client, rq.TunnelOpen("127.0.0.1", target)) as (opened, _):
                assert opened == rs.TunnelOpened(1)
            async with tunnel(client, rq.TunnelListen("127.0.0.1", 0)) as (listening, ev):
                local = await anyio.connect_tcp("127.0.0.1", listening.port)
                await ev.until(lambda: len(ev.incoming) == 1)
            assert len(await status(client)) == 3
        with anyio.fail_after(10):
            await peer_gone.wait()  # the forward tunnel's socket is closed
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                while True:
                    await local.receive()  # and the sub-tunnel's
        await local.aclose()
        with anyio.fail_after(10):
            while server.connections:
                await anyio.sleep(0.05)
        with pytest.raises(OSError):
            await anyio.connect_tcp("127.0.0.1", listening.port)
