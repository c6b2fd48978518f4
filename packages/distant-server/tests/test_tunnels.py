"""The tunnel requests of :class:`distant_server.NetworkTunnelOps` over a network that is not
this host's sockets: in-memory byte streams (the host's TCP network is
``test_host_tunnels.py``). What the network sees is recorded, to check the order in which
streams and listeners are closed."""

from __future__ import annotations

import anyio
import anyio.abc
import pytest

from distant_codec import Error, ErrorKind, TunnelDirection, TunnelInfo
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net.memory import MemoryByteStream, memory_stream_pair
from distant_server import AcceptedStream, ApiError, NetworkTunnelOps, TunnelNetwork

from .harness import api_client, connect, one, serving
from .test_host_tunnels import pipelined, status, tunnel

pytestmark = pytest.mark.anyio


class _Logged(MemoryByteStream):
    """The server's end of a memory connection; its closing is logged."""

    def __init__(self, peer: MemoryByteStream, name: str, log: list[str]) -> None:
        super().__init__(peer.send_stream, peer.receive_stream)
        self._name, self._log = name, log

    async def aclose(self) -> None:
        self._log.append(f"{self._name} closed")
        await super().aclose()


class MemoryListener:
    def __init__(self, port: int, log: list[str]) -> None:
        self.port = port
        self._log = log
        self._send, self._receive = anyio.create_memory_object_stream[AcceptedStream](10)

    async def dial(self, peer_host: str, peer_port: int) -> MemoryByteStream:
        """Connect to this listener as ``peer_host:peer_port``; the peer's end."""
        ours, theirs = memory_stream_pair()
        logged = _Logged(theirs, f"{peer_host} {peer_port}", self._log)
        await self._send.send(AcceptedStream(logged, peer_host, peer_port))
        return ours

    async def accept(self) -> AcceptedStream:
        return await self._receive.receive()

    async def aclose(self) -> None:
        self._receive.close()
        self._log.append(f"listener {self.port} closed")


class MemoryNetwork:
    """``connect`` reaches ``svc:80`` only; the peer's end of each connection is queued in
    ``dialled``. ``listen`` binds any port, 0 meaning 4000."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.listeners: list[MemoryListener] = []
        self._dial, self.dialled = anyio.create_memory_object_stream[MemoryByteStream](10)

    async def connect(self, host: str, port: int) -> anyio.abc.ByteStream:
        if (host, port) != ("svc", 80):
            raise ApiError(ErrorKind.CONNECTION_REFUSED, f"refused: {host}:{port}")
        ours, theirs = memory_stream_pair()
        self._dial.send_nowait(theirs)
        return _Logged(ours, f"{host}:{port}", self.log)

    async def listen(self, host: str, port: int) -> MemoryListener:
        listener = MemoryListener(port or 4000, self.log)
        self.listeners.append(listener)
        return listener


class MemoryTunnelOps(NetworkTunnelOps):
    def __init__(self, network: MemoryNetwork) -> None:
        self.network = network

    def tunnel_network(self) -> TunnelNetwork:
        return self.network


async def test_forward_tunnel_over_memory_streams() -> None:
    network = MemoryNetwork()
    async with api_client(MemoryTunnelOps(network)) as client:
        refused = await one(client, rq.TunnelOpen("elsewhere", 80))
        assert isinstance(refused, Error) and refused.kind == ErrorKind.CONNECTION_REFUSED
        async with tunnel(client, rq.TunnelOpen("svc", 80)) as (opened, events):
            assert opened == rs.TunnelOpened(1)  # the refused open used no id
            peer = await network.dialled.receive()
            assert await status(client) == (TunnelInfo(1, TunnelDirection.FORWARD, "svc", 80),)
            writes = [rq.TunnelWrite(1, bytes([65 + i]) * 1000) for i in range(20)]
            assert await pipelined(client, writes) == [rs.Ok()] * 20
            got = b""
            with anyio.fail_after(10):
                while len(got) < 20_000:
                    got += await peer.receive()
            assert got == b"".join(w.data for w in writes)
            await peer.send(b"back")
            await events.until(lambda: bytes(events.data[1]) == b"back")
            assert await one(client, rq.TunnelClose(1)) == rs.Ok()
            await events.until(lambda: events.closed == [1])
            with pytest.raises(anyio.EndOfStream):
                await peer.receive()
            assert network.log == ["svc:80 closed"]
            assert await status(client) == ()


async def test_a_listener_closes_its_sub_tunnels_before_it_stops_listening() -> None:
    network = MemoryNetwork()
    async with (
        api_client(MemoryTunnelOps(network)) as client,
        tunnel(client, rq.TunnelListen("::", 0)) as (listening, events),
    ):
        assert listening == rs.TunnelListening(1, 4000)
        [listener] = network.listeners
        peer_a = await listener.dial("::1", 7)
        peer_b = await listener.dial("10.0.0.1", 8)
        await events.until(lambda: len(events.incoming) == 2)
        assert events.incoming == [
            rs.TunnelIncoming(1, 2, "[::1]:7"),
            rs.TunnelIncoming(1, 3, "10.0.0.1:8"),
        ]
        assert await status(client) == (
            TunnelInfo(1, TunnelDirection.REVERSE, "::", 4000),
            TunnelInfo(2, TunnelDirection.REVERSE, "::1", 7),
            TunnelInfo(3, TunnelDirection.REVERSE, "10.0.0.1", 8),
        )
        assert await one(client, rq.TunnelWrite(2, b"to a")) == rs.Ok()
        assert await peer_a.receive() == b"to a"
        await peer_b.send(b"from b")
        await events.until(lambda: bytes(events.data[3]) == b"from b")
        to_listener = await one(client, rq.TunnelWrite(1, b"x"))
        assert isinstance(to_listener, Error) and to_listener.kind == ErrorKind.INVALID_INPUT
        await peer_b.aclose()  # a sub-tunnel ends alone; the listener goes on
        await events.until(lambda: events.closed == [3])
        assert [t.id for t in await status(client)] == [1, 2]
        assert await one(client, rq.TunnelClose(1)) == rs.Ok()
        await events.until(lambda: len(events.closed) == 3)
        assert events.closed == [3, 2, 1]
        assert network.log == ["10.0.0.1 8 closed", "::1 7 closed", "listener 4000 closed"]
        with pytest.raises(anyio.EndOfStream):
            await peer_a.receive()


async def test_a_lost_connection_closes_every_stream_and_listener() -> None:
    network = MemoryNetwork()
    async with serving(MemoryTunnelOps(network), grace=0.1) as (_server, port, key):
        async with connect(port, key) as client:
            async with tunnel(client, rq.TunnelOpen("svc", 80)) as (opened, events):
                assert opened == rs.TunnelOpened(1)
            async with tunnel(client, rq.TunnelListen("", 9)) as (listening, events):
                assert listening == rs.TunnelListening(2, 9)
                peer = await network.listeners[0].dial("127.0.0.1", 5)
                await events.until(lambda: len(events.incoming) == 1)
        with anyio.fail_after(10):
            while len(network.log) < 3:
                await anyio.sleep(0.02)
        assert sorted(network.log) == ["127.0.0.1 5 closed", "listener 9 closed", "svc:80 closed"]
        assert network.log.index("127.0.0.1 5 closed") < network.log.index("listener 9 closed")
        with pytest.raises(anyio.EndOfStream):
            await peer.receive()
