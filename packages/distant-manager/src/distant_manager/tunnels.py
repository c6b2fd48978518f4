"""Managed tunnels (§9.2 ``forward_tunnel`` / ``reverse_tunnel``).

* forward: the manager listens on ``127.0.0.1:bind_port``; each local client gets a
  ``tunnel_open`` to ``remote_host:remote_port`` on the server.
* reverse: the server listens (``tunnel_listen`` on 127.0.0.1:remote_port); each incoming
  remote connection is joined to a new local TCP connection to ``local_host:local_port``.

Tunnels talk to the server through an internal channel of their connection, and end with
it. Ids come from a process-wide counter starting at 1 (§9.4).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distant_codec import (
    MSG_REQUEST,
    MSG_RESPONSE,
    Msg,
    Response,
    UntypedRequest,
    UntypedResponse,
    new_id,
)
from distant_codec import manager_requests as mreq
from distant_codec import manager_responses as mresp
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.common import TunnelDirection

from .connections import ChannelSink
from .plugin import PluginError

if TYPE_CHECKING:
    from .manager import Manager

__all__ = ["TunnelManager", "REVERSE_BIND_HOST"]

log = logging.getLogger("distant_manager.tunnels")

REVERSE_BIND_HOST = "127.0.0.1"
"""Where a reverse tunnel listens on the remote host: loopback, like ``ssh -R``."""

_READ = 64 * 1024
_MAILBOX = 256


class _InternalChannel:
    """A channel the manager uses itself: typed requests, responses by ``origin_id``."""

    def __init__(self, manager: Manager, connection_id: int) -> None:
        self.manager = manager
        self.sink = ChannelSink(manager.new_channel_id(), connection_id, self._deliver)
        self._boxes: dict[str, MemoryObjectSendStream[Any]] = {}
        self._origins: dict[int, str] = {}  # id(receive stream) -> request id

    def open(self) -> None:
        self.manager.add_internal_channel(self.sink)

    def close(self) -> None:
        self.manager.drop_channel(self.sink.id)
        for box in self._boxes.values():
            box.close()
        self._boxes.clear()

    def forget(self, replies: MemoryObjectReceiveStream[Any]) -> None:
        """Stop routing responses to ``replies`` (one per forwarded TCP connection)."""
        origin = self._origins.pop(id(replies), None)
        box = self._boxes.pop(origin, None) if origin is not None else None
        if box is not None:
            box.close()

    async def _deliver(self, response: UntypedResponse) -> None:
        box = self._boxes.get(response.origin_id)
        if box is None:
            return
        try:
            message = Response.from_untyped(response, MSG_RESPONSE).payload
        except Exception as exc:
            log.warning("tunnel: dropping a bad response: %s", exc)
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await box.send(message.items[0])

    async def fire(self, payload: Any) -> None:
        await self.manager.send_on_channel(self.sink, _request(payload))

    async def stream(self, payload: Any) -> MemoryObjectReceiveStream[Any]:
        """Send and return the stream of every response to it (:meth:`forget` it after)."""
        request = _request(payload)
        send, receive = anyio.create_memory_object_stream[Any](_MAILBOX)
        self._boxes[request.id] = send
        self._origins[id(receive)] = request.id
        await self.manager.send_on_channel(self.sink, request)
        return receive


def _request(payload: Any) -> UntypedRequest:
    return UntypedRequest(new_id(), MSG_REQUEST.encode(Msg.single(payload)))


@dataclass(eq=False)
class _Tunnel:
    info: mresp.ManagedTunnelInfo
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)


class TunnelManager:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self._ids = itertools.count(1)
        self._tunnels: dict[int, _Tunnel] = {}

    def infos(self) -> tuple[mresp.ManagedTunnelInfo, ...]:
        return tuple(t.info for t in self._tunnels.values())

    async def close(self, tunnel_id: int) -> None:
        tunnel = self._tunnels.get(tunnel_id)
        if tunnel is None:
            raise ValueError(f"no managed tunnel with id {tunnel_id}")
        tunnel.scope.cancel()
        await tunnel.done.wait()

    async def close_for_connection(self, connection_id: int) -> None:
        for tunnel in list(self._tunnels.values()):
            if tunnel.info.connection_id == connection_id:
                tunnel.scope.cancel()
                await tunnel.done.wait()

    # -- forward -----------------------------------------------------------------------------

    async def forward(self, request: mreq.ForwardTunnel) -> tuple[int, int]:
        self.manager.connection(request.connection_id)
        listener = await anyio.create_tcp_listener(
            local_host="127.0.0.1", local_port=request.bind_port
        )
        port = int(listener.extra(SocketAttribute.local_port))
        info = mresp.ManagedTunnelInfo(
            next(self._ids), request.connection_id, TunnelDirection.FORWARD, port,
            request.remote_host, request.remote_port,
        )  # fmt: skip
        tunnel = _Tunnel(info)
        self._tunnels[info.id] = tunnel
        self.manager.tg.start_soon(self._serve_forward, tunnel, listener)
        return info.id, port

    async def _serve_forward(self, tunnel: _Tunnel, listener: anyio.abc.Listener[Any]) -> None:
        channel = _InternalChannel(self.manager, tunnel.info.connection_id)
        channel.open()
        try:
            with tunnel.scope:
                async with listener, anyio.create_task_group() as tg:

                    async def handle(stream: anyio.abc.ByteStream) -> None:
                        await self._forward_one(channel, tunnel.info, stream)

                    await listener.serve(handle, tg)
        finally:
            channel.close()
            self._tunnels.pop(tunnel.info.id, None)
            tunnel.done.set()

    async def _forward_one(
        self, channel: _InternalChannel, info: mresp.ManagedTunnelInfo, stream: anyio.abc.ByteStream
    ) -> None:
        async with stream:
            replies = await channel.stream(rq.TunnelOpen(info.remote_host, info.remote_port))
            try:
                await self._forward_replies(channel, info, stream, replies)
            finally:
                channel.forget(replies)

    async def _forward_replies(
        self,
        channel: _InternalChannel,
        info: mresp.ManagedTunnelInfo,
        stream: anyio.abc.ByteStream,
        replies: MemoryObjectReceiveStream[Any],
    ) -> None:
        async with replies:
            first = await replies.receive()
            if not isinstance(first, rs.TunnelOpened):
                log.info("tunnel %d: remote open failed: %s", info.id, _text(first))
                return
            await _join(channel, first.id, stream, replies)

    # -- reverse -----------------------------------------------------------------------------

    async def reverse(self, request: mreq.ReverseTunnel) -> tuple[int, int]:
        self.manager.connection(request.connection_id)
        channel = _InternalChannel(self.manager, request.connection_id)
        channel.open()
        try:
            replies = await channel.stream(rq.TunnelListen(REVERSE_BIND_HOST, request.remote_port))
            with anyio.fail_after(30):
                first = await replies.receive()
        except BaseException:
            channel.close()
            raise
        if not isinstance(first, rs.TunnelListening):
            channel.close()
            raise PluginError(f"the server could not listen: {_text(first)}")
        info = mresp.ManagedTunnelInfo(
            next(self._ids), request.connection_id, TunnelDirection.REVERSE, first.port,
            request.local_host, request.local_port,
        )  # fmt: skip
        tunnel = _Tunnel(info)
        self._tunnels[info.id] = tunnel
        self.manager.tg.start_soon(self._serve_reverse, tunnel, channel, first.id, replies)
        return info.id, first.port

    async def _serve_reverse(
        self,
        tunnel: _Tunnel,
        channel: _InternalChannel,
        listener_id: int,
        replies: MemoryObjectReceiveStream[Any],
    ) -> None:
        info = tunnel.info
        peers: dict[int, MemoryObjectSendStream[Any]] = {}
        try:
            with tunnel.scope:
                async with replies, anyio.create_task_group() as tg:
                    async for message in replies:
                        if isinstance(message, rs.TunnelIncoming):
                            send, receive = anyio.create_memory_object_stream[Any](_MAILBOX)
                            peers[message.tunnel_id] = send
                            tg.start_soon(self._reverse_one, channel, info, message.tunnel_id,
                                          receive)  # fmt: skip
                        elif isinstance(message, rs.TunnelData | rs.TunnelClosed):
                            if message.id == listener_id and isinstance(message, rs.TunnelClosed):
                                break
                            box = peers.get(message.id)
                            if box is not None:
                                with contextlib.suppress(anyio.BrokenResourceError):
                                    await box.send(message)
                                if isinstance(message, rs.TunnelClosed):
                                    peers.pop(message.id, None)
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await channel.fire(rq.TunnelClose(listener_id))
            channel.close()
            self._tunnels.pop(info.id, None)
            tunnel.done.set()

    async def _reverse_one(
        self,
        channel: _InternalChannel,
        info: mresp.ManagedTunnelInfo,
        tunnel_id: int,
        replies: MemoryObjectReceiveStream[Any],
    ) -> None:
        try:
            stream = await anyio.connect_tcp(info.remote_host, info.remote_port)
        except OSError as exc:
            log.info("tunnel %d: cannot reach %s:%d: %s", info.id, info.remote_host,
                     info.remote_port, exc)  # fmt: skip
            await channel.fire(rq.TunnelClose(tunnel_id))
            return
        async with stream, replies:
            await _join(channel, tunnel_id, stream, replies)


async def _join(
    channel: _InternalChannel,
    tunnel_id: int,
    stream: anyio.abc.ByteStream,
    replies: MemoryObjectReceiveStream[Any],
) -> None:
    """Pump bytes both ways between a local stream and remote tunnel ``tunnel_id``."""

    async def local_to_remote() -> None:
        # At the local end of input, keep the tunnel open: the protocol has no half-close,
        # and closing now would cut off the remote side's reply (an echo, an HTTP
        # response). The tunnel closes when the remote closes, or a local write fails.
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            while True:
                data = await stream.receive(_READ)
                await channel.fire(rq.TunnelWrite(tunnel_id, data))

    async with anyio.create_task_group() as tg:
        tg.start_soon(local_to_remote)
        async for message in replies:
            if isinstance(message, rs.TunnelData) and message.id == tunnel_id:
                try:
                    await stream.send(message.data)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    break
            elif isinstance(message, rs.TunnelClosed | rs.Error):
                break
        tg.cancel_scope.cancel()
    with contextlib.suppress(Exception):
        await channel.fire(rq.TunnelClose(tunnel_id))


def _text(message: Any) -> str:
    return str(getattr(message, "description", None) or type(message).__name__)
