"""Serving an in-process :class:`~distant_server.Api` to the manager as a connection.

The ssh and docker plugins implement the distant API in the manager's own process. The
manager only knows :class:`~distant_manager.ServerLink`, a link that carries positional
envelopes, so :func:`serve_api` runs a real distant-net :class:`~distant_net.Server` for the
Api on one end of an in-memory stream pair and connects to it from the other: requests take
the same path as with a remote server (lanes for ordered writes, concurrent dispatch,
batches, ``ReplyTooLarge``), without encryption, heartbeats or a replay backup, which a link
inside one process does not need.

The two ends are joined by :func:`handoff_stream_pair`, not by distant-net's general
:func:`~distant_net.memory_stream_pair`: that one copies every send into a ring buffer and
every receive out of it, and a 2 MiB file chunk then costs two copies and two fresh
multi-MiB allocations (page faults) on top of the framing's own. Here a send hands its
buffer over as it is, and the stream says so (:class:`distant_net.framed.HandoffAttribute`),
so the framed transport also skips its own copies: a file chunk crosses the link without
being copied at all.

The buffers such replies are made of are a few MiB each, several per chunk in flight, and
glibc's malloc gives them back to the kernel as they are freed (an ``mmap`` per buffer, or
trimming the heap's top past a few MiB): every new one is then page-faulted in afresh, which
cost more than copying it (measured: ~170 page faults per MiB read through the ssh Api, about
a tenth of its CPU time). So :func:`serve_api` raises, for the process, glibc's thresholds for
both to :data:`HEAP_KEEP` (the ceiling glibc's own adaptive threshold reaches anyway), and
hands free memory back (``malloc_trim``) when a link closes (:func:`_keep_large_buffers`).
"""

from __future__ import annotations

import collections
import ctypes
import functools
import operator
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import anyio.abc
from anyio.lowlevel import checkpoint

from distant_auth import Verifier
from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE
from distant_manager import ServerLink
from distant_net import (
    ClientSettings,
    Fail,
    HandoffAttribute,
    Server,
    ServerSettings,
    open_connection,
)
from distant_server import Api, ApiHandler

__all__ = ["serve_api", "handoff_stream_pair", "HandoffStream", "LINK_BUFFER"]

LINK_BUFFER = 8 * 1024 * 1024
"""Bytes either direction may hold unread before a send waits: a few 2 MiB chunks."""

_Bytes = bytes | bytearray | memoryview


class _Queue:
    """One direction: the senders' buffers in order, not yet (fully) received."""

    __slots__ = ("chunks", "closed_by_reader", "eof", "limit", "readable", "size", "writable")

    def __init__(self, limit: int) -> None:
        self.chunks: collections.deque[bytes | bytearray | memoryview] = collections.deque()
        self.size = 0
        self.limit = limit
        self.eof = False  # the writer closed: nothing more will come
        self.closed_by_reader = False  # nobody will read: sends break
        self.readable: anyio.Event | None = None
        self.writable: anyio.Event | None = None

    def wake_reader(self) -> None:
        if self.readable is not None:
            self.readable.set()
            self.readable = None

    def wake_writer(self) -> None:
        if self.writable is not None:
            self.writable.set()
            self.writable = None


class HandoffStream(anyio.abc.ByteStream):
    """One end of a :func:`handoff_stream_pair`.

    Anyio byte stream semantics (``receive`` returns 1 to ``max_bytes`` bytes, then
    :class:`anyio.EndOfStream`; closed ends raise :class:`anyio.ClosedResourceError`; sending to
    a peer that closed raises :class:`anyio.BrokenResourceError`), with one difference that
    makes it fast: ``send`` keeps a reference to a ``bytes`` or ``bytearray`` it is given
    instead of copying it, so **the sender must not modify a buffer after sending it**
    (distant-net's framed transport never does: each frame is a fresh buffer). A memoryview,
    which may alias anything, is copied. ``receive`` returns a buffer handed over whole when it
    fits in ``max_bytes`` (it may be a ``bytearray``, which every reader here accepts), and
    otherwise a copied ``bytes`` prefix of it.
    """

    def __init__(self, incoming: _Queue, outgoing: _Queue) -> None:
        self._in = incoming
        self._out = outgoing
        self._closed = False

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        # Tells distant-net's framed transport that buffers cross as they are.
        return {HandoffAttribute.whole_buffers: lambda: True}

    async def send(self, item: _Bytes) -> None:
        await checkpoint()
        out = self._out
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if out.closed_by_reader:
                raise anyio.BrokenResourceError
            if out.eof:
                raise anyio.ClosedResourceError  # after our own send_eof()
            if out.size < out.limit:
                break
            event = out.writable = out.writable or anyio.Event()
            await event.wait()
        chunk = bytes(item) if isinstance(item, memoryview) else item
        if chunk:
            out.chunks.append(chunk)
            out.size += len(chunk)
            out.wake_reader()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        max_bytes = operator.index(max_bytes)
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        await checkpoint()
        queue = self._in
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if queue.chunks:
                break
            if queue.eof:
                raise anyio.EndOfStream
            event = queue.readable = queue.readable or anyio.Event()
            await event.wait()
        head = queue.chunks[0]
        if len(head) <= max_bytes:
            queue.chunks.popleft()
            data = head
        else:
            view = head if isinstance(head, memoryview) else memoryview(head)
            data = bytes(view[:max_bytes])
            queue.chunks[0] = view[max_bytes:]
        queue.size -= len(data)
        queue.wake_writer()
        if isinstance(data, memoryview):
            return bytes(data)
        # A bytearray handed over whole is returned as it is (bytes-like, and ours now):
        # the framed transport only appends what it receives to its own buffer.
        return cast(bytes, data)

    async def send_eof(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        self._out.eof = True
        self._out.wake_reader()
        await checkpoint()

    def close(self) -> None:
        """Close both directions: the peer reads what we sent, then end-of-stream; what
        the peer sent us and we did not read is dropped, and its sends break."""
        if self._closed:
            return
        self._closed = True
        self._out.eof = True
        self._out.wake_reader()
        self._out.wake_writer()
        self._in.closed_by_reader = True
        self._in.chunks.clear()
        self._in.size = 0
        self._in.wake_writer()
        self._in.wake_reader()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()


def handoff_stream_pair(limit: int = LINK_BUFFER) -> tuple[HandoffStream, HandoffStream]:
    """Two connected :class:`HandoffStream` ends; each direction holds up to ``limit``
    unread bytes before a send waits (a send may overshoot it by its own size)."""
    a_to_b, b_to_a = _Queue(limit), _Queue(limit)
    return HandoffStream(b_to_a, a_to_b), HandoffStream(a_to_b, b_to_a)


HEAP_KEEP = 32 * 1024 * 1024
"""Buffers up to this size come from the heap, and up to this much free heap stays mapped."""

_M_TRIM_THRESHOLD = -1  # mallopt parameters (<malloc.h>)
_M_MMAP_THRESHOLD = -3


@functools.cache
def _glibc() -> Any | None:
    """The C library when it is glibc (``mallopt``, ``malloc_trim``), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):  # pragma: no cover - musl, other platforms
        return None
    return libc


@functools.cache
def _keep_large_buffers() -> None:
    """Once per process: malloc keeps multi-MiB buffers on its heap for reuse (see the
    module docstring). Setting the thresholds turns glibc's adaptive ones off; the values
    are what they adapt to on a process that frees buffers of a few MiB."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, HEAP_KEEP)
        libc.mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP)


def _give_back_free_memory() -> None:
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@asynccontextmanager
async def serve_api(api: Api) -> AsyncIterator[ServerLink]:
    """A :class:`ServerLink` to ``api``; leaving the context closes the connection, which
    releases the connection's resources (processes, watches, tunnels) in the Api."""
    _keep_large_buffers()
    try:
        async with _serve(api) as link:
            yield link
    finally:
        _give_back_free_memory()


@asynccontextmanager
async def _serve(api: Api) -> AsyncIterator[ServerLink]:
    server_end, client_end = handoff_stream_pair(LINK_BUFFER)
    server = Server(
        ApiHandler(api),
        request_kind=MSG_EXTENDED_REQUEST,
        response_kind=MSG_EXTENDED_RESPONSE,
        settings=ServerSettings(Verifier.none),
        heartbeat=None,
        grace=0.0,
        replay_bytes=0,
    )

    async def dial() -> anyio.abc.ByteStream:
        return client_end

    async with anyio.create_task_group() as tg:
        tg.start_soon(server.handle_stream, server_end)
        async with open_connection(
            dial,
            settings=ClientSettings(encrypt=False),
            strategy=Fail(),
            silence=None,
            replay_bytes=0,
        ) as connection:
            yield connection
        tg.cancel_scope.cancel()
