"""The ssh Api's TCP tunnels: distant-server's :class:`~distant_server.NetworkTunnelOps`
(the host's semantics) over the SSH connection.

* ``tunnel_open``: a ``direct-tcpip`` channel from the remote host to ``host:port``
  (``session.open_tcp``).
* ``tunnel_listen``: ``tcpip-forward`` on the remote side (``session.listen_tcp``; port 0:
  sshd picks one); each connection it forwards becomes a sub-tunnel.

The session hands each forwarded connection to a callback, in a task of its own, and closes
the stream when the callback returns; :class:`_ForwardListener` turns those callbacks into
``accept()`` and keeps each callback waiting until its sub-tunnel has closed the stream.
"""

from __future__ import annotations

import contextlib

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distant_server import AcceptedStream, NetworkTunnelOps, TunnelNetwork

from .session import ReverseForward, SshSession

__all__ = ["SshNetwork", "SshTunnelOps"]

FORWARD_CLOSE_TIMEOUT = 5.0
"""How long cancelling a remote forward may take before it is given up on."""


class _HandedOver(anyio.abc.ByteStream):
    """A forwarded connection's stream, handed to :class:`_ForwardListener`'s accept; closing
    it lets the session's callback return."""

    def __init__(self, stream: anyio.abc.ByteStream, released: anyio.Event) -> None:
        self._stream = stream
        self._released = released

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self._stream.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._stream.send(item)

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._released.set()


class _ForwardListener:
    """A remote forward as a :class:`~distant_server.TunnelListener`."""

    def __init__(self) -> None:
        self.forward: ReverseForward | None = None
        self._handoff: MemoryObjectSendStream[AcceptedStream]
        self._accepted: MemoryObjectReceiveStream[AcceptedStream]
        self._handoff, self._accepted = anyio.create_memory_object_stream[AcceptedStream]()
        self._waiting: set[anyio.Event] = set()

    @property
    def port(self) -> int:
        assert self.forward is not None
        return self.forward.port

    async def on_connection(self, stream: anyio.abc.ByteStream, host: str, port: int) -> None:
        """The session's callback: hand the stream over, then wait until it is closed (or
        the listener is)."""
        released = anyio.Event()
        self._waiting.add(released)
        try:
            await self._handoff.send(AcceptedStream(_HandedOver(stream, released), host, port))
            await released.wait()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the listener is closed
        finally:
            self._waiting.discard(released)

    async def accept(self) -> AcceptedStream:
        return await self._accepted.receive()

    async def aclose(self) -> None:
        self._accepted.close()
        for released in list(self._waiting):
            released.set()
        forward, self.forward = self.forward, None
        if forward is not None:
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(FORWARD_CLOSE_TIMEOUT),
                contextlib.suppress(Exception),
            ):
                await forward.aclose()


class SshNetwork:
    """Connections and listeners on the remote side of ``session``."""

    def __init__(self, session: SshSession) -> None:
        self.session = session

    async def connect(self, host: str, port: int) -> anyio.abc.ByteStream:
        return await self.session.open_tcp(host, port)

    async def listen(self, host: str, port: int) -> _ForwardListener:
        listener = _ForwardListener()
        listener.forward = await self.session.listen_tcp(host, port, listener.on_connection)
        return listener


class SshTunnelOps(NetworkTunnelOps):
    """``tunnel_open``, ``tunnel_listen``, ``tunnel_write``, ``tunnel_close``, ``status``."""

    session: SshSession

    def tunnel_network(self) -> TunnelNetwork:
        return SshNetwork(self.session)
