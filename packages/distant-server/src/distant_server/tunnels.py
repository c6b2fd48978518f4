"""TCP tunnels (§7.3 ``tunnel_*`` and ``status``) over any :class:`TunnelNetwork`.

The protocol side of tunnels is the same whoever carries the bytes: the host dials and
listens with its own sockets (:mod:`distant_server.host.tunnels`), the ssh plugin through
``direct-tcpip`` channels and ``tcpip-forward``. :class:`NetworkTunnelOps` implements the
requests once; an Api supplies the network with :meth:`NetworkTunnelOps.tunnel_network`.

* ``tunnel_open`` connects through the network to ``host:port`` (a *forward* tunnel). The
  reply is ``tunnel_opened``; then the stream's bytes follow as ``tunnel_data`` and its end
  as ``tunnel_closed``.
* ``tunnel_listen`` listens on ``host:port`` (a *reverse* tunnel; port 0 lets the network
  pick). The reply is ``tunnel_listening`` with the bound port. Each accepted connection
  becomes a sub-tunnel with its own id: ``tunnel_incoming`` announces it, then
  ``tunnel_data`` and ``tunnel_closed`` follow for it. Closing a listener closes its
  sub-tunnels first, so the listener's own ``tunnel_closed`` comes last.
* ``tunnel_write`` writes to a forward tunnel or a sub-tunnel and answers ``ok`` once the
  bytes are sent (so a client that waits for it gets flow control). Writes are queued in
  the order they are received, so pipelined writes are never reordered. A write error
  closes that tunnel only.
* ``tunnel_close`` answers ``ok`` at once; writes received before it are still flushed (for
  at most ``close_timeout`` seconds), then the stream closes and ``tunnel_closed`` follows.
* ``status`` lists the open tunnels, by id.

Like upstream's host (``distant-host/src/api/state/tunnel.rs``), one counter per connection,
starting at 1, numbers forward tunnels, listeners and accepted sub-tunnels; a failed connect
or bind uses no id. ``TunnelInfo`` for a forward tunnel is the requested ``host``/``port``;
for a listener, ``reverse`` with the requested host and the *bound* port; for an accepted
sub-tunnel, ``reverse`` with the peer's host and port. Unlike upstream, an unknown id is
``not_found``, writing to a listener is ``invalid_input``, and a closed listener does send
its ``tunnel_closed``.

Every tunnel belongs to the connection that opened it: the per-connection
:class:`TunnelTable` closes them all (without ``tunnel_closed``) when the connection ends.
No half-close: a tunnel's stream is only ever closed whole.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distant_codec import ErrorKind, TunnelDirection, TunnelInfo
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse
from distant_net import find_os_error

from .api import Api
from .context import ApiContext
from .errors import ApiError, kind_of_errno

__all__ = [
    "AcceptedStream",
    "DEFAULT_CLOSE_TIMEOUT",
    "NetworkTunnelOps",
    "TunnelListener",
    "TunnelNetwork",
    "TunnelTable",
    "format_addr",
    "tunnel_error",
]

log = logging.getLogger("distant_server.tunnels")

Send = Callable[[ExtendedResponse], Awaitable[None]]

READ_SIZE = 64 * 1024
"""Bytes read from a tunnel's stream per ``tunnel_data`` (64 KiB reads are the cheap size)."""

DEFAULT_CLOSE_TIMEOUT = 10.0
"""How long ``tunnel_close`` keeps flushing writes that were queued before it."""

CLOSE_STREAM_TIMEOUT = 5.0
"""How long closing one stream may take before it is given up on."""


# -- what a network provides -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedStream:
    """A connection accepted by a :class:`TunnelListener`, from ``peer_host:peer_port``."""

    stream: anyio.abc.ByteStream
    peer_host: str
    peer_port: int


class TunnelListener(Protocol):
    """A bound listener of a :class:`TunnelNetwork`."""

    @property
    def port(self) -> int:
        """The bound port."""
        ...

    async def accept(self) -> AcceptedStream:
        """The next connection; raises ``anyio.ClosedResourceError`` (or ``EndOfStream``)
        once the listener is closed. Any other exception ends the listener too."""
        ...

    async def aclose(self) -> None:
        """Stop listening (after the accepted streams have been closed)."""
        ...


class TunnelNetwork(Protocol):
    """Where tunnels' streams come from. Failures raise :class:`ApiError` or ``OSError``
    (answered as the request's error)."""

    async def connect(self, host: str, port: int) -> anyio.abc.ByteStream:
        """A stream connected to ``host:port`` (``tunnel_open``)."""
        ...

    async def listen(self, host: str, port: int) -> TunnelListener:
        """A listener bound to ``host:port``, 0 for any port (``tunnel_listen``)."""
        ...


# -- helpers ---------------------------------------------------------------------------------


def tunnel_error(exc: BaseException, what: str, default: ErrorKind = ErrorKind.OTHER) -> ApiError:
    """``exc`` as an ``ApiError`` saying ``<reason>: <what>``, with the OS error's kind."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, socket.gaierror):
        return ApiError(ErrorKind.NOT_FOUND, f"{exc.strerror or exc}: {what}")
    found = find_os_error(exc)
    if found is not None:
        return ApiError(kind_of_errno(found.errno), f"{found.strerror or found}: {what}")
    if isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError):
        return ApiError(ErrorKind.NOT_CONNECTED, f"Connection closed: {what}")
    return ApiError(default, f"{exc or type(exc).__name__}: {what}")


def format_addr(host: str, port: int) -> str:
    """``host:port``, with IPv6 addresses in brackets (how Rust prints a ``SocketAddr``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _emit(send: Send, payload: ExtendedResponse) -> bool:
    """Send one follow-up; False (and no exception) once the connection is gone."""
    try:
        await send(payload)
    except Exception as exc:
        log.debug("could not send %s: %r", type(payload).TAG, exc)
        return False
    return True


async def _close_quietly(what: str, aclose: Callable[[], Awaitable[None]]) -> None:
    """Close (``aclose()``) even in a cancelled task, giving up after a while."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_STREAM_TIMEOUT):
        try:
            await aclose()
        except Exception as exc:
            log.debug("closing %s failed: %r", what, exc)


# -- the tunnels -----------------------------------------------------------------------------


class _Write:
    """One queued ``tunnel_write``; ``done`` is set once it is written or has failed."""

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
    """A connected stream: a forward tunnel or a listener's accepted sub-tunnel."""

    def __init__(
        self,
        table: TunnelTable,
        info: TunnelInfo,
        stream: anyio.abc.ByteStream,
        parent: _Listener | None = None,
    ) -> None:
        self.table = table
        self.info = info
        self.id = info.id
        self.stream = stream
        self.parent = parent
        self._queue: MemoryObjectSendStream[_Write | None]
        self._pending: MemoryObjectReceiveStream[_Write | None]
        self._queue, self._pending = anyio.create_memory_object_stream[_Write | None](math.inf)
        self._writing: _Write | None = None
        self._scope = anyio.CancelScope()
        self._drain_scope: anyio.CancelScope | None = None
        self._close_by: float | None = None
        self._ended = False

    def write(self, data: bytes) -> _Write:
        """Queue ``data`` (synchronously, so writes keep the order they arrived in)."""
        item = _Write(data)
        try:
            self._queue.send_nowait(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            item.fail(ApiError(ErrorKind.NOT_CONNECTED, f"Tunnel {self.id} is closed"))
        return item

    def close(self, timeout: float) -> None:
        """Close once the writes queued so far are flushed (for at most ``timeout`` s)."""
        if self._close_by is not None or self._ended:
            return
        self.table.discard(self.id)
        self._close_by = anyio.current_time() + timeout
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._queue.send_nowait(None)
        if self._drain_scope is not None:
            self._drain_scope.deadline = self._close_by

    async def abort(self) -> None:
        """Close now, without ``tunnel_closed`` (the connection is gone)."""
        self._scope.cancel()
        self._finish()
        await _close_quietly(f"tunnel {self.id}", self.stream.aclose)

    async def run(self, send: Send) -> None:
        """Stream the stream's bytes until it ends or is closed; then ``tunnel_closed``."""
        with self._scope:
            try:
                if not self._ended:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._write_loop, tg.cancel_scope)
                        await self._read_loop(send)
                        tg.cancel_scope.cancel()
            finally:
                self._finish()
                await _close_quietly(f"tunnel {self.id}", self.stream.aclose)
        if not self._scope.cancel_called:
            await _emit(send, rs.TunnelClosed(self.id))

    async def _read_loop(self, send: Send) -> None:
        while True:
            try:
                data = await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            except (anyio.BrokenResourceError, OSError) as exc:
                log.debug("tunnel %d: read failed: %r", self.id, exc)
                return
            if not await _emit(send, rs.TunnelData(self.id, data)):
                return

    async def _write_loop(self, stop: anyio.CancelScope) -> None:
        try:
            deadline = self._close_by if self._close_by is not None else math.inf
            with anyio.CancelScope(deadline=deadline) as self._drain_scope:
                async for item in self._pending:
                    if item is None:  # tunnel_close: everything before it is written
                        return
                    self._writing = item  # failed by _finish if this is cancelled
                    try:
                        await self.stream.send(item.data)
                    except Exception as exc:
                        self._writing = None
                        log.debug("tunnel %d: write failed: %r", self.id, exc)
                        item.fail(tunnel_error(exc, f"write to tunnel {self.id}"))
                        return
                    self._writing = None
                    item.done.set()
        finally:
            self._drain_scope = None
            stop.cancel()

    def _finish(self) -> None:
        """Forget this tunnel and fail the writes that will never happen."""
        if self._ended:
            return
        self._ended = True
        self.table.forget(self.id)
        if self.parent is not None:
            self.parent.subs.pop(self.id, None)
        closed = ApiError(ErrorKind.NOT_CONNECTED, f"Tunnel {self.id} closed before the write")
        if self._writing is not None:
            self._writing.fail(closed)
        self._queue.close()
        while True:
            try:
                item = self._pending.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            if item is not None:
                item.fail(closed)
        self._pending.close()


class _Listener:
    """A bound listener whose accepted connections become sub-tunnels."""

    def __init__(self, table: TunnelTable, info: TunnelInfo, listener: TunnelListener) -> None:
        self.table = table
        self.info = info
        self.id = info.id
        self.listener = listener
        self.subs: dict[int, _Link] = {}
        self._scope = anyio.CancelScope()
        self._accepting: anyio.CancelScope | None = None
        self._closing = False

    def close(self, timeout: float) -> None:
        """Stop accepting and close every sub-tunnel; ``tunnel_closed`` for this listener
        follows theirs."""
        self.table.discard(self.id)
        if not self._closing:
            self._closing = True
            if self._accepting is not None:
                self._accepting.cancel()
        for sub in list(self.subs.values()):
            sub.close(timeout)

    async def abort(self) -> None:
        """Close now, without ``tunnel_closed`` (the connection is gone)."""
        self._scope.cancel()
        self._closing = True
        self._finish()
        for sub in list(self.subs.values()):
            await sub.abort()
        await _close_quietly(f"listener {self.id}", self.listener.aclose)

    async def run(self, send: Send) -> None:
        """Accept connections until closed; then close the sub-tunnels, wait for their
        ``tunnel_closed``, stop listening and send this listener's."""
        with self._scope:
            try:
                async with anyio.create_task_group() as tg:
                    await self._accept_loop(tg, send)
                    self.close(self.table.close_timeout)
            finally:
                self._finish()
                await _close_quietly(f"listener {self.id}", self.listener.aclose)
        if not self._scope.cancel_called:
            await _emit(send, rs.TunnelClosed(self.id))

    def _finish(self) -> None:
        self.table.forget(self.id)

    async def _accept_loop(self, tg: anyio.abc.TaskGroup, send: Send) -> None:
        while not self._closing:
            accepted: AcceptedStream | None = None
            with anyio.CancelScope() as self._accepting:
                try:
                    accepted = await self.listener.accept()
                except (anyio.ClosedResourceError, anyio.EndOfStream):
                    return
                except Exception as exc:
                    log.warning("tunnel %d: accept failed: %r", self.id, exc)
                    return
            self._accepting = None
            if accepted is None:
                continue
            peer_host, peer_port = accepted.peer_host, accepted.peer_port
            info = TunnelInfo(self.table.next_id(), TunnelDirection.REVERSE, peer_host, peer_port)
            sub = _Link(self.table, info, accepted.stream, parent=self)
            self.table.add(sub)
            self.subs[sub.id] = sub
            incoming = rs.TunnelIncoming(self.id, sub.id, format_addr(peer_host, peer_port))
            if not await _emit(send, incoming):
                await sub.abort()
                return
            tg.start_soon(sub.run, send)


class TunnelTable:
    """A connection's tunnels and listeners, numbered by one counter starting at 1.

    ``status`` and the ids that ``tunnel_write``/``tunnel_close`` accept are the *open*
    entries; an entry that is closing (flushing its last writes) is no longer open but is
    still live, and :meth:`aclose` closes every live one.
    """

    def __init__(self, *, close_timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        self.close_timeout = close_timeout
        self._next_id = 1
        self._open: dict[int, _Link | _Listener] = {}
        self._live: dict[int, _Link | _Listener] = {}

    def next_id(self) -> int:
        tunnel_id = self._next_id
        self._next_id = tunnel_id % 0xFFFFFFFF + 1  # u32, never 0
        return tunnel_id

    def add(self, entry: _Link | _Listener) -> None:
        self._open[entry.id] = self._live[entry.id] = entry

    def get(self, tunnel_id: int) -> _Link | _Listener | None:
        """The open tunnel or listener ``tunnel_id``."""
        return self._open.get(tunnel_id)

    def discard(self, tunnel_id: int) -> None:
        """No longer open (closing or ended)."""
        self._open.pop(tunnel_id, None)

    def forget(self, tunnel_id: int) -> None:
        """Ended: its stream is closed."""
        self._open.pop(tunnel_id, None)
        self._live.pop(tunnel_id, None)

    def infos(self) -> list[TunnelInfo]:
        """The open tunnels and listeners, by id."""
        return [self._open[key].info for key in sorted(self._open)]

    def __len__(self) -> int:
        return len(self._live)

    async def aclose(self) -> None:
        """Close every tunnel and listener at once (the connection is gone)."""
        entries = list(self._live.values())
        self._open.clear()
        self._live.clear()
        for entry in entries:
            try:
                await entry.abort()
            except Exception:  # pragma: no cover - closing quietly does not fail
                log.exception("closing tunnel %d failed", entry.id)


def _not_found(tunnel_id: int) -> ApiError:
    return ApiError(ErrorKind.NOT_FOUND, f"No tunnel found with id {tunnel_id}")


class NetworkTunnelOps(Api):
    """``tunnel_open``, ``tunnel_listen``, ``tunnel_write``, ``tunnel_close`` and ``status``
    over the network that :meth:`tunnel_network` returns.

    ``close_timeout`` bounds how long ``tunnel_close`` keeps flushing queued writes to a
    peer that does not read. It is a class attribute so that a composed Api need not call
    an ``__init__``.
    """

    close_timeout: float = DEFAULT_CLOSE_TIMEOUT

    def tunnel_network(self) -> TunnelNetwork:
        """Where this Api's tunnels connect and listen."""
        raise NotImplementedError

    def _table(self, ctx: ApiContext) -> TunnelTable:
        return ctx.connection.resource(
            TunnelTable, partial(TunnelTable, close_timeout=self.close_timeout)
        )

    async def tunnel_open(self, ctx: ApiContext, req: rq.TunnelOpen) -> rs.TunnelOpened:
        stream = await self.tunnel_network().connect(req.host, req.port)
        table = self._table(ctx)
        info = TunnelInfo(table.next_id(), TunnelDirection.FORWARD, req.host, req.port)
        link = _Link(table, info, stream)
        table.add(link)
        ctx.after_reply(partial(link.run, ctx.send))
        return rs.TunnelOpened(link.id)

    async def tunnel_listen(self, ctx: ApiContext, req: rq.TunnelListen) -> rs.TunnelListening:
        listener = await self.tunnel_network().listen(req.host, req.port)
        port = listener.port
        table = self._table(ctx)
        info = TunnelInfo(table.next_id(), TunnelDirection.REVERSE, req.host, port)
        entry = _Listener(table, info, listener)
        table.add(entry)
        ctx.after_reply(partial(entry.run, ctx.send))
        return rs.TunnelListening(entry.id, port)

    async def tunnel_write(self, ctx: ApiContext, req: rq.TunnelWrite) -> rs.Ok:
        entry = self._table(ctx).get(req.id)
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
        table = self._table(ctx)
        entry = table.get(req.id)
        if entry is None:
            raise _not_found(req.id)
        entry.close(table.close_timeout)
        return rs.Ok()

    async def status(self, ctx: ApiContext, req: rq.Status) -> rs.StatusInfo:
        table = ctx.connection.existing(TunnelTable)
        return rs.StatusInfo(tuple(table.infos()) if table is not None else ())
