"""The ssh Api's TCP tunnels, with the host's semantics (``distant_server/host/tunnels.py``).

* ``tunnel_open``: a ``direct-tcpip`` channel from the remote host to ``host:port``.
* ``tunnel_listen``: ``tcpip-forward`` on the remote side (port 0: sshd picks one); each
  connection it accepts becomes a sub-tunnel announced by ``tunnel_incoming``.
* ``tunnel_write`` answers once the bytes are sent; writes keep their arrival order.
* ``tunnel_close`` answers at once; queued writes are flushed, then the channel closes and
  ``tunnel_closed`` follows (a listener's after its sub-tunnels').
* One counter per connection numbers tunnels, listeners and sub-tunnels from 1. Everything
  is closed when the connection closes.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import ClassVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distant_codec import ErrorKind, TunnelDirection, TunnelInfo
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse
from distant_server import Api, ApiContext, ApiError

from .session import ReverseForward, SshSession

__all__ = ["SshTunnelOps", "SshTunnelTable"]

log = logging.getLogger("distant_plugins.ssh")

Send = Callable[[ExtendedResponse], Awaitable[None]]
READ_SIZE = 64 * 1024
CLOSE_TIMEOUT = 10.0


def _addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _emit(send: Send, payload: ExtendedResponse) -> bool:
    try:
        await send(payload)
    except Exception as exc:
        log.debug("could not send %s: %r", type(payload).TAG, exc)
        return False
    return True


class _Write:
    __slots__ = ("data", "done", "error")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.done = anyio.Event()
        self.error: ApiError | None = None

    def fail(self, error: ApiError) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class _Link:
    """A connected channel: a forward tunnel or an accepted sub-tunnel."""

    def __init__(
        self, table: SshTunnelTable, info: TunnelInfo, stream: anyio.abc.ByteStream
    ) -> None:
        self.table = table
        self.info = info
        self.id = info.id
        self.stream = stream
        self.queue: MemoryObjectSendStream[_Write | None]
        self.pending: MemoryObjectReceiveStream[_Write | None]
        self.queue, self.pending = anyio.create_memory_object_stream[_Write | None](math.inf)
        self.scope = anyio.CancelScope()
        self.ended = anyio.Event()
        self.reported = anyio.Event()
        """Set once ``tunnel_closed`` is sent (or will never be)."""
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> _Write:
        item = _Write(data)
        try:
            self.queue.send_nowait(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            item.fail(ApiError(ErrorKind.NOT_CONNECTED, f"Tunnel {self.id} is closed"))
        return item

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.table.open.pop(self.id, None)
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.queue.send_nowait(None)

    async def abort(self) -> None:
        self.aborted = True
        self.scope.cancel()
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await self.ended.wait()

    async def run(self, send: Send) -> None:
        try:
            await self._run(send)
        finally:
            self.reported.set()

    async def _run(self, send: Send) -> None:
        try:
            with self.scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._write_loop, tg.cancel_scope)
                    await self._read_loop(send)
                    tg.cancel_scope.cancel()
        finally:
            self.table.open.pop(self.id, None)
            self.table.live.pop(self.id, None)
            self.queue.close()
            closed = ApiError(ErrorKind.NOT_CONNECTED, f"Tunnel {self.id} closed before the write")
            while True:
                try:
                    item = self.pending.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                if item is not None:
                    item.fail(closed)
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await self.stream.aclose()
            self.ended.set()
        if not self.aborted:
            await _emit(send, rs.TunnelClosed(self.id))

    async def _read_loop(self, send: Send) -> None:
        while True:
            try:
                data = await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            if not await _emit(send, rs.TunnelData(self.id, data)):
                return

    async def _write_loop(self, stop: anyio.CancelScope) -> None:
        try:
            async for item in self.pending:
                if item is None:  # tunnel_close: everything queued before it is written
                    return
                try:
                    await self.stream.send(item.data)
                except Exception as exc:
                    item.fail(ApiError(ErrorKind.BROKEN_PIPE, f"{exc}: write to tunnel {self.id}"))
                    return
                item.done.set()
        finally:
            stop.cancel()


class _Listener:
    def __init__(self, table: SshTunnelTable, info: TunnelInfo) -> None:
        self.table = table
        self.info = info
        self.id = info.id
        self.forward: ReverseForward | None = None
        self.subs: dict[int, _Link] = {}
        self.stopped = anyio.Event()
        self.aborted = False

    def close(self) -> None:
        self.table.open.pop(self.id, None)
        self.stopped.set()

    async def abort(self) -> None:
        self.aborted = True
        self.stopped.set()
        for sub in list(self.subs.values()):
            await sub.abort()
        await self._stop_forward()

    async def _stop_forward(self) -> None:
        forward, self.forward = self.forward, None
        if forward is not None:
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(5),
                contextlib.suppress(Exception),
            ):
                await forward.aclose()

    async def on_connection(
        self, send: Send, stream: anyio.abc.ByteStream, peer_host: str, peer_port: int
    ) -> None:
        if self.stopped.is_set():
            return
        info = TunnelInfo(self.table.next_id(), TunnelDirection.REVERSE, peer_host, peer_port)
        sub = _Link(self.table, info, stream)
        self.table.add(sub)
        self.subs[sub.id] = sub
        try:
            if await _emit(send, rs.TunnelIncoming(self.id, sub.id, _addr(peer_host, peer_port))):
                await sub.run(send)
        finally:
            self.subs.pop(sub.id, None)

    async def run(self, send: Send) -> None:
        try:
            await self.stopped.wait()
            # the sub-tunnels first: stopping the forward may cancel their tasks (openssh)
            for sub in list(self.subs.values()):
                sub.close()
            for sub in list(self.subs.values()):
                with anyio.move_on_after(CLOSE_TIMEOUT):
                    await sub.reported.wait()
            await self._stop_forward()
        finally:
            self.table.open.pop(self.id, None)
            self.table.live.pop(self.id, None)
        if not self.aborted:
            await _emit(send, rs.TunnelClosed(self.id))


class SshTunnelTable:
    """A connection's tunnels and listeners (one id counter from 1)."""

    def __init__(self) -> None:
        self._next = 1
        self.open: dict[int, _Link | _Listener] = {}
        self.live: dict[int, _Link | _Listener] = {}

    def next_id(self) -> int:
        tunnel_id = self._next
        self._next = tunnel_id % 0xFFFFFFFF + 1
        return tunnel_id

    def add(self, entry: _Link | _Listener) -> None:
        self.open[entry.id] = self.live[entry.id] = entry

    def infos(self) -> list[TunnelInfo]:
        return [self.open[key].info for key in sorted(self.open)]

    async def aclose(self) -> None:
        entries = list(self.live.values())
        self.open.clear()
        for entry in entries:
            with contextlib.suppress(Exception):
                await entry.abort()
        self.live.clear()


def _not_found(tunnel_id: int) -> ApiError:
    return ApiError(ErrorKind.NOT_FOUND, f"No tunnel found with id {tunnel_id}")


class SshTunnelOps(Api):
    """``tunnel_open``, ``tunnel_listen``, ``tunnel_write``, ``tunnel_close``, ``status``."""

    TUNNEL_CAPABILITIES: ClassVar[tuple[str, ...]] = ("tcp_tunnel", "tcp_rev_tunnel")
    session: SshSession

    async def tunnel_open(self, ctx: ApiContext, req: rq.TunnelOpen) -> rs.TunnelOpened:
        stream = await self.session.open_tcp(req.host, req.port)
        table = ctx.connection.resource(SshTunnelTable)
        info = TunnelInfo(table.next_id(), TunnelDirection.FORWARD, req.host, req.port)
        link = _Link(table, info, stream)
        table.add(link)

        async def follow_up() -> None:
            await link.run(ctx.send)

        ctx.after_reply(follow_up)
        return rs.TunnelOpened(link.id)

    async def tunnel_listen(self, ctx: ApiContext, req: rq.TunnelListen) -> rs.TunnelListening:
        table = ctx.connection.resource(SshTunnelTable)
        listener = _Listener(table, TunnelInfo(0, TunnelDirection.REVERSE, req.host, req.port))

        async def accepted(stream: anyio.abc.ByteStream, host: str, port: int) -> None:
            await listener.on_connection(ctx.send, stream, host, port)

        forward = await self.session.listen_tcp(req.host, req.port, accepted)
        listener.forward = forward
        listener.id = table.next_id()
        listener.info = TunnelInfo(listener.id, TunnelDirection.REVERSE, req.host, forward.port)
        table.add(listener)

        async def follow_up() -> None:
            await listener.run(ctx.send)

        ctx.after_reply(follow_up)
        return rs.TunnelListening(listener.id, forward.port)

    async def tunnel_write(self, ctx: ApiContext, req: rq.TunnelWrite) -> rs.Ok:
        entry = ctx.connection.resource(SshTunnelTable).open.get(req.id)
        if entry is None:
            raise _not_found(req.id)
        if isinstance(entry, _Listener):
            raise ApiError(ErrorKind.INVALID_INPUT, f"Cannot write to listener {req.id}")
        if req.data:
            item = entry.write(bytes(req.data))
            await item.done.wait()
            if item.error is not None:
                raise item.error
        return rs.Ok()

    async def tunnel_close(self, ctx: ApiContext, req: rq.TunnelClose) -> rs.Ok:
        entry = ctx.connection.resource(SshTunnelTable).open.get(req.id)
        if entry is None:
            raise _not_found(req.id)
        entry.close()
        return rs.Ok()

    async def status(self, ctx: ApiContext, req: rq.Status) -> rs.StatusInfo:
        table = ctx.connection.existing(SshTunnelTable)
        return rs.StatusInfo(tuple(table.infos()) if table is not None else ())
