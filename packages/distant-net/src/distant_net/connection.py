"""The logical connection: it outlives the links (transports) it runs over.

A :class:`Connection` owns a replay buffer (§5.3) and at most one attached
:class:`~distant_net.framed.FramedTransport` at a time. Writers are serialised by a lock
and each item is recorded in the backup *before* it is written, so an item cut off by a
broken link is resent by the next synchronize (§5.4). One reader task per link delivers
decoded items to a bounded queue and counts them only once they are delivered, so an item
is never both counted and lost.

When a link dies (EOF, error, a bad frame, or silence on the client side) the connection
goes *detached*: senders wait, the link is closed, and :meth:`wait_lost` wakes whoever
re-establishes it (the client's reconnect loop, or a server waiting for the client to come
back). :meth:`attach` with ``synchronize=True`` replays what each side missed.

Servers send a heartbeat (an empty frame) every ``heartbeat`` seconds (§5.1); clients treat
``silence`` seconds without any frame as a dead link.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .acks import (
    ACK_EVERY_BYTES,
    ACK_EVERY_ITEMS,
    ACK_INTERVAL,
    DEFAULT_MAX_UNACKED,
    decode_ack,
    encode_ack,
    is_control,
)
from .errors import ConnectionClosed
from .framed import TRANSPORT_ERRORS, FramedTransport, TruncatedFrame
from .replay import ReplayBuffer
from .sync import synchronize

__all__ = ["Connection", "DEFAULT_HEARTBEAT", "DEFAULT_SILENCE"]

log = logging.getLogger("distant_net.connection")

DEFAULT_HEARTBEAT = 5.0
DEFAULT_SILENCE = 20.0


class _Link:
    """One attached transport and the scope of its reader."""

    __slots__ = ("done", "scope", "transport")

    def __init__(self, transport: FramedTransport) -> None:
        self.transport = transport
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()


class Connection:
    """Use as ``async with Connection(...) as conn:``; the context owns its tasks."""

    def __init__(
        self,
        connection_id: int,
        replay: ReplayBuffer | None = None,
        *,
        heartbeat: float | None = None,
        silence: float | None = None,
        incoming_buffer: int = 256,
        name: str = "connection",
        max_unacked: int = DEFAULT_MAX_UNACKED,
    ) -> None:
        self.id = connection_id
        self.replay = replay or ReplayBuffer()
        self.heartbeat = heartbeat
        self.silence = silence
        self.name = name
        self.max_unacked = max_unacked
        self._link: _Link | None = None
        # Acknowledgements (distant_net.acks), on links whose peer is ours.
        self._room = anyio.Event()  # set when unacknowledged bytes may have dropped
        self._ack_due = anyio.Event()
        self._acked = 0  # the receive count last acknowledged to the peer
        self._unacked_bytes = 0  # bytes received since then
        self._previous: _Link | None = None
        self._attached = anyio.Event()
        self._lost = anyio.Event()
        self._closed = anyio.Event()
        self._close_reason: str | None = None
        self._close_error: type[ConnectionClosed] = ConnectionClosed
        self._write_lock = anyio.Lock(fast_acquire=True)  # no scheduler pass when free
        self._incoming_send: MemoryObjectSendStream[bytes]
        self._incoming: MemoryObjectReceiveStream[bytes]
        self._incoming_send, self._incoming = anyio.create_memory_object_stream[bytes](
            incoming_buffer
        )
        self._tg: anyio.abc.TaskGroup | None = None
        # Background tasks each run in a scope of their own: closing the connection cancels
        # them, never the body of the ``async with`` that owns the connection.
        self._background: set[anyio.CancelScope] = set()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("attached" if self.attached else "detached")
        return f"<{self.name} {self.id} {state}>"

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Connection:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        if self.heartbeat is not None:
            self.start_background(self._heartbeat_loop)
        self.start_background(self._ack_loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        assert self._tg is not None
        return await self._tg.__aexit__(exc_type, exc, tb)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def attached(self) -> bool:
        return self._link is not None

    @property
    def close_reason(self) -> str | None:
        return self._close_reason

    def start_background(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: object
    ) -> None:
        """Run a task for as long as this connection lives (e.g. a reconnect loop)."""
        if self._tg is None:
            raise RuntimeError("the connection is not entered")
        self._tg.start_soon(self._run_background, func, *args)

    async def _run_background(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: object
    ) -> None:
        with anyio.CancelScope() as scope:
            if self.closed:
                return
            self._background.add(scope)
            try:
                await func(*args)
            finally:
                self._background.discard(scope)

    async def aclose(
        self, reason: str = "closed locally", *, error: type[ConnectionClosed] = ConnectionClosed
    ) -> None:
        """Close for good: detach the link, fail pending senders, end the queue."""
        if self.closed:
            return
        self._close_reason = reason
        self._close_error = error
        self._closed.set()
        self._attached.set()  # wake senders so they see the closure
        self._wake_room()
        self._lost.set()
        link, self._link = self._link, None
        if link is not None:
            link.scope.cancel()
            await link.transport.aclose()
        await self._incoming_send.aclose()
        for scope in list(self._background):
            scope.cancel()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def wait_attached(self) -> None:
        """Returns once a link is attached (or the connection closed)."""
        while not self.attached and not self.closed:
            await self._attached.wait()

    async def wait_lost(self) -> None:
        """Returns once the current link is lost (or the connection closed)."""
        await self._lost.wait()

    # -- links -----------------------------------------------------------------------------

    async def attach(self, transport: FramedTransport, *, synchronize_first: bool) -> None:
        """Run over ``transport`` from now on, after replaying what each side missed when
        ``synchronize_first`` (a reconnection). Replaces any link still attached."""
        if self.closed or self._tg is None:
            raise ConnectionClosed(f"{self!r} is closed")
        # Drop the old link before waiting for the write lock: a writer may hold the lock,
        # stuck on that link (a peer gone without a FIN or RST stops reading, its socket
        # buffers fill, and writes are shielded); closing the link is what releases it.
        if self._link is not None:
            self._detach(self._link, "replaced by a new link")
        async with self._write_lock:
            if self._link is not None:
                self._detach(self._link, "replaced by a new link")
            # The old reader must be gone before we read the counts, or an item it is
            # still delivering could be counted after the peer decided to resend it.
            for link in (self._previous,):
                if link is not None:
                    with anyio.fail_after(10):
                        await link.done.wait()
            if synchronize_first:
                await synchronize(transport, self.replay, self._incoming_send.send)
            link = _Link(transport)
            self._link = link
            self._lost = anyio.Event()
            self._attached.set()
            self._wake_room()  # synchronize may have acknowledged part of the backup
            self.start_background(self._read_loop, link)

    def _detach(self, link: _Link, reason: str) -> None:
        if self._link is not link:
            return
        log.info("%r: link with %s lost: %s", self, link.transport.peer, reason)
        self._link = None
        self._previous = link
        self._attached = anyio.Event()
        self._lost.set()
        self._wake_room()  # senders waiting for acknowledgements wait for a link instead
        link.scope.cancel()
        if self._tg is not None:
            # Not a cancellable background task: the link must be closed even when the
            # connection is closing too (aclose shields itself).
            self._tg.start_soon(link.transport.aclose)

    def lose_link(self, reason: str) -> None:
        """Declare the current link dead (used by tests and by silence detection)."""
        if self._link is not None:
            self._detach(self._link, reason)

    # -- data ------------------------------------------------------------------------------

    async def send(self, item: bytes) -> None:
        """Send one non-empty item; waits while detached. Once this returns the item is
        either written or kept for replay."""
        if not item:
            raise ValueError("empty items are heartbeats; they cannot be sent as data")
        while True:
            if self._link is None:
                await self._attached.wait()
            if self.closed:
                raise self._close_error(self._close_reason or f"{self!r} is closed")
            if self.replay.backup_bytes >= self.max_unacked:
                await self._wait_for_room()
            async with self._write_lock:
                link = self._link
                if link is None:
                    continue
                self.replay.record_sent(item)
                await self._write(link, item)
                return

    async def _wait_for_room(self) -> None:
        """With acknowledgements, wait while the peer has too much unacknowledged."""
        while True:
            link = self._link
            if (
                link is None
                or not link.transport.acks
                or self.replay.backup_bytes < self.max_unacked
                or self.closed
            ):
                return
            await self._room.wait()

    def _wake_room(self) -> None:
        self._room.set()
        self._room = anyio.Event()

    async def _write(self, link: _Link, item: bytes) -> None:
        # Shielded: a write cut halfway by cancellation would corrupt the stream.
        with anyio.CancelScope(shield=True):
            try:
                await link.transport.send_frame(item)
            except TRANSPORT_ERRORS as exc:
                self._detach(link, f"write failed: {exc!r}")

    async def receive(self) -> bytes:
        """The next item from the peer; raises :class:`ConnectionClosed` at the end."""
        try:
            try:
                return self._incoming.receive_nowait()  # no scheduler pass when queued
            except anyio.WouldBlock:
                return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise self._close_error(self._close_reason or f"{self!r} is closed") from None

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    # -- background tasks ------------------------------------------------------------------

    async def _read_loop(self, link: _Link) -> None:
        silence = self.silence
        # One scope for the whole loop, its deadline moved after every frame: cheaper
        # than a new timeout scope per frame.
        timer = anyio.CancelScope(
            deadline=math.inf if silence is None else anyio.current_time() + silence
        )
        reason = "reader stopped"
        try:
            with link.scope, timer:
                while True:
                    item = await link.transport.receive_frame()
                    if silence is not None:
                        timer.deadline = anyio.current_time() + silence
                    if not item:
                        continue  # heartbeat
                    if is_control(item):
                        self._on_control(item)
                        continue
                    # Deliver, then count: if delivery is cancelled, the item is neither
                    # delivered nor counted, and the peer will resend it.
                    try:
                        self._incoming_send.send_nowait(item)
                    except anyio.WouldBlock:
                        timer.deadline = math.inf  # a full queue is not a silent peer
                        await self._incoming_send.send(item)
                        if silence is not None:
                            timer.deadline = anyio.current_time() + silence
                    self.replay.record_received()
                    if link.transport.acks:
                        self._unacked_bytes += len(item)
                        if (
                            self._unacked_bytes >= ACK_EVERY_BYTES
                            or self.replay.received - self._acked >= ACK_EVERY_ITEMS
                        ):
                            self._ack_due.set()
        except anyio.EndOfStream:
            reason = "peer closed the link"
        except TruncatedFrame as exc:  # a cut in the middle of a frame, not a bad frame
            reason = f"link cut inside a frame: {exc}"
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            reason = f"link broken: {exc!r}"
        except OSError as exc:
            reason = f"link error: {exc}"
        except Exception as exc:  # CodecError and anything else from a bad frame
            reason = f"bad frame: {exc}"
            log.warning(
                "%r: closing the link with %s after a bad frame: %s",
                self,
                link.transport.peer,
                _describe(exc),
            )
        finally:
            link.done.set()
        if timer.cancelled_caught and silence is not None:
            reason = f"no frame for {silence:g} s"
        self._detach(link, reason)

    def _on_control(self, item: bytes) -> None:
        received = decode_ack(item)
        if received is not None:
            self.replay.acknowledge(received)
            self._wake_room()

    async def _ack_loop(self) -> None:
        """Send an acknowledgement when enough arrived, and every ACK_INTERVAL anyway."""
        while True:
            with anyio.move_on_after(ACK_INTERVAL):
                await self._ack_due.wait()
            self._ack_due = anyio.Event()
            link = self._link
            received = self.replay.received
            if link is None or not link.transport.acks or received == self._acked:
                continue
            async with self._write_lock:
                if self._link is link:
                    await self._write(link, encode_ack(received))
                    self._acked = received
                    self._unacked_bytes = 0

    async def _heartbeat_loop(self) -> None:
        assert self.heartbeat is not None
        while not self.closed:
            await anyio.sleep(self.heartbeat)
            link = self._link
            if link is None:
                continue
            async with self._write_lock:
                if self._link is link:
                    await self._write(link, b"")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
