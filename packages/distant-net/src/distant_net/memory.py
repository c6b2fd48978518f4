"""In-memory byte streams: the L0 transport for tests of the layers above.

:func:`memory_stream_pair` returns two connected, bidirectional, flow-controlled
:class:`anyio.abc.ByteStream` ends; :func:`memory_pipe` returns one direction of such a pair.
They follow anyio's stream semantics exactly, so code that works over them works over a socket:

* ``receive()`` returns between 1 and ``max_bytes`` bytes; once the peer has sent EOF (or closed)
  and the buffered data is drained it raises :class:`anyio.EndOfStream`, never ``b""``.
* Using an end you closed raises :class:`anyio.ClosedResourceError`; so does sending after your
  own ``send_eof()``.
* Sending to a peer that closed its receiving side raises :class:`anyio.BrokenResourceError`.
* Two concurrent sends (or two concurrent receives) on one end raise
  :class:`anyio.BusyResourceError`.
* ``send()`` blocks while the peer's unread buffer holds ``max_buffer_size`` bytes and resumes as
  the peer reads. A send larger than the buffer is delivered in pieces, so a send cancelled while
  blocked may have delivered a prefix of its data (as with a socket).

Every operation is a checkpoint. The data of each direction lives in one ``bytearray``: sends
append memoryview slices, receives slice off the front; nothing loops per byte.
"""

from __future__ import annotations

import operator
from typing import Final

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, ByteStream
from anyio.lowlevel import checkpoint

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "MemoryByteReceiveStream",
    "MemoryByteSendStream",
    "MemoryByteStream",
    "memory_pipe",
    "memory_stream_pair",
]

#: Default bytes a receiver may have unread before its peer's ``send()`` blocks.
DEFAULT_MAX_BUFFER_SIZE: Final = 65536

_Bytes = bytes | bytearray | memoryview


class _Pipe:
    """One direction: a bounded byte buffer between one writer and one reader."""

    __slots__ = (
        "buffer",
        "max_buffer_size",
        "reader_closed",
        "reader_waiter",
        "writer_closed",
        "writer_waiter",
    )

    def __init__(self, max_buffer_size: int) -> None:
        self.buffer = bytearray()
        self.max_buffer_size = max_buffer_size
        self.writer_closed = False  # EOF: no more data will be appended
        self.reader_closed = False  # nobody will read: the writer is broken
        self.reader_waiter: anyio.Event | None = None
        self.writer_waiter: anyio.Event | None = None

    def wake_reader(self) -> None:
        event = self.reader_waiter
        if event is not None:
            self.reader_waiter = None
            event.set()

    def wake_writer(self) -> None:
        event = self.writer_waiter
        if event is not None:
            self.writer_waiter = None
            event.set()

    async def wait_readable(self) -> None:
        event = self.reader_waiter = anyio.Event()
        try:
            await event.wait()
        finally:
            if self.reader_waiter is event:
                self.reader_waiter = None

    async def wait_writable(self) -> None:
        event = self.writer_waiter = anyio.Event()
        try:
            await event.wait()
        finally:
            if self.writer_waiter is event:
                self.writer_waiter = None


class MemoryByteSendStream(ByteSendStream):
    """The sending end of a :func:`memory_pipe`."""

    __slots__ = ("_busy", "_closed", "_pipe")

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe
        self._closed = False
        self._busy = False

    def _enter(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._busy:
            raise anyio.BusyResourceError("sending to")
        self._busy = True

    async def send(self, item: _Bytes) -> None:
        """Send all of ``item``, waiting for the peer to read whenever its buffer is full.

        A zero-length ``item`` is allowed and sends nothing.
        """
        self._enter()
        try:
            await checkpoint()
            view = memoryview(item)
            if view.itemsize != 1 or view.ndim != 1:
                view = view.cast("B")
            pipe = self._pipe
            offset = 0
            total = len(view)
            while True:
                if self._closed:
                    raise anyio.ClosedResourceError
                if pipe.reader_closed:
                    raise anyio.BrokenResourceError
                if offset == total:
                    return
                room = pipe.max_buffer_size - len(pipe.buffer)
                if room > 0:
                    end = total if total - offset <= room else offset + room
                    pipe.buffer += view[offset:end]
                    offset = end
                    pipe.wake_reader()
                else:
                    await pipe.wait_writable()
        finally:
            self._busy = False

    async def wait_send_might_not_block(self) -> None:
        """Wait until the peer's buffer has room (or the peer is gone), like trio's
        ``wait_send_all_might_not_block``. It conflicts with a concurrent ``send()``."""
        self._enter()
        try:
            await checkpoint()
            pipe = self._pipe
            while True:
                if self._closed:
                    raise anyio.ClosedResourceError
                if pipe.reader_closed or len(pipe.buffer) < pipe.max_buffer_size:
                    return
                await pipe.wait_writable()
        finally:
            self._busy = False

    def close(self) -> None:
        """Close synchronously: the peer reads the buffered data, then end-of-stream."""
        if not self._closed:
            self._closed = True
            pipe = self._pipe
            pipe.writer_closed = True
            pipe.wake_reader()
            pipe.wake_writer()  # a blocked send() of ours raises ClosedResourceError

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._pipe.buffer)} bytes unread by peer"
        return f"<{type(self).__name__} {state}>"


class MemoryByteReceiveStream(ByteReceiveStream):
    """The receiving end of a :func:`memory_pipe`."""

    __slots__ = ("_busy", "_closed", "_pipe")

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe
        self._closed = False
        self._busy = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Return 1 to ``max_bytes`` buffered bytes, waiting for data if there are none.

        Raises :class:`anyio.EndOfStream` once the peer has closed and every byte was read.
        """
        max_bytes = operator.index(max_bytes)
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._closed:
            raise anyio.ClosedResourceError
        if self._busy:
            raise anyio.BusyResourceError("reading from")
        self._busy = True
        try:
            await checkpoint()
            pipe = self._pipe
            while True:
                if self._closed:
                    raise anyio.ClosedResourceError
                buffer = pipe.buffer
                size = len(buffer)
                if size:
                    if size <= max_bytes:
                        data = bytes(buffer)
                        buffer.clear()
                    else:
                        with memoryview(buffer) as view:
                            data = bytes(view[:max_bytes])
                        del buffer[:max_bytes]
                    pipe.wake_writer()
                    return data
                if pipe.writer_closed:
                    raise anyio.EndOfStream
                await pipe.wait_readable()
        finally:
            self._busy = False

    def close(self) -> None:
        """Close synchronously: unread data is discarded and the peer's sends break."""
        if not self._closed:
            self._closed = True
            pipe = self._pipe
            pipe.reader_closed = True
            pipe.buffer = bytearray()
            pipe.wake_writer()
            pipe.wake_reader()  # a blocked receive() of ours raises ClosedResourceError

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._pipe.buffer)} bytes buffered"
        return f"<{type(self).__name__} {state}>"


class MemoryByteStream(ByteStream):
    """One end of a :func:`memory_stream_pair`."""

    __slots__ = ("_closed", "_receive_stream", "_send_stream")

    def __init__(
        self, send_stream: MemoryByteSendStream, receive_stream: MemoryByteReceiveStream
    ) -> None:
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._closed = False

    @property
    def send_stream(self) -> MemoryByteSendStream:
        return self._send_stream

    @property
    def receive_stream(self) -> MemoryByteReceiveStream:
        return self._receive_stream

    async def send(self, item: _Bytes) -> None:
        await self._send_stream.send(item)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self._receive_stream.receive(max_bytes)

    async def wait_send_might_not_block(self) -> None:
        """See :meth:`MemoryByteSendStream.wait_send_might_not_block`."""
        await self._send_stream.wait_send_might_not_block()

    async def send_eof(self) -> None:
        """Half-close: the peer reads what was sent, then end-of-stream; we can still receive.

        Repeating it is harmless; it conflicts with a concurrent ``send()``.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        if self._send_stream._busy:
            raise anyio.BusyResourceError("sending to")
        self._send_stream.close()
        await checkpoint()

    def close(self) -> None:
        """Close both directions synchronously."""
        self._closed = True
        self._send_stream.close()
        self._receive_stream.close()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"<{name} send={self._send_stream!r} receive={self._receive_stream!r}>"


def _check_size(max_buffer_size: int) -> int:
    max_buffer_size = operator.index(max_buffer_size)
    if max_buffer_size < 1:
        raise ValueError("max_buffer_size must be at least 1")
    return max_buffer_size


def memory_pipe(
    max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
) -> tuple[MemoryByteSendStream, MemoryByteReceiveStream]:
    """A one-way in-memory byte stream: ``(send end, receive end)``."""
    pipe = _Pipe(_check_size(max_buffer_size))
    return MemoryByteSendStream(pipe), MemoryByteReceiveStream(pipe)


def memory_stream_pair(
    max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two connected in-memory byte streams; each end's unread data is bounded by
    ``max_buffer_size`` bytes (flow control)."""
    a_send, b_receive = memory_pipe(max_buffer_size)
    b_send, a_receive = memory_pipe(max_buffer_size)
    return MemoryByteStream(a_send, a_receive), MemoryByteStream(b_send, b_receive)
