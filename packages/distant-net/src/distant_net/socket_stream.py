"""The socket stream that the TCP and Unix helpers of :mod:`distant_net.transport` return.

anyio's socket streams differ between backends, and from trio's stream contract, at the edges:
a zero-length ``send()`` neither checks for closure nor yields, and ``send_eof()`` neither
yields nor detects a concurrent ``send()``. :class:`SocketByteStream` wraps one and makes those
edges uniform, so a socket behaves exactly like :func:`distant_net.memory.memory_stream_pair`
(trio's ``check_half_closeable_stream`` passes on all three):

* every operation is a checkpoint;
* ``send()`` (even of ``b""``) on a stream we closed, or after our ``send_eof()``, raises
  :class:`anyio.ClosedResourceError`;
* ``send_eof()`` during a ``send()`` raises :class:`anyio.BusyResourceError`; repeating it is
  harmless; on a reset connection it raises :class:`anyio.BrokenResourceError`.

Everything else (data, errors, extra attributes such as ``SocketAttribute.raw_socket``) is the
wrapped stream's.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketStream
from anyio.lowlevel import checkpoint

__all__ = ["SocketByteStream"]


class SocketByteStream(SocketStream):
    """An anyio :class:`~anyio.abc.SocketStream` with uniform edge-case semantics."""

    def __init__(self, stream: SocketStream) -> None:
        self._stream = stream
        self._closed = False
        self._eof_sent = False
        self._sending = False

    @property
    def wrapped(self) -> SocketStream:
        """The underlying anyio stream."""
        return self._stream

    @property
    def _raw_socket(self) -> socket.socket:
        return self._stream.extra(SocketAttribute.raw_socket)

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._stream.extra_attributes

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._closed:
            raise anyio.ClosedResourceError
        return await self._stream.receive(max_bytes)

    async def send(self, item: bytes | bytearray | memoryview) -> None:
        if self._closed or self._eof_sent:
            raise anyio.ClosedResourceError
        if self._sending:
            raise anyio.BusyResourceError("writing to")
        self._sending = True
        try:
            if memoryview(item).nbytes:
                await self._stream.send(item)  # type: ignore[arg-type]  # any buffer works
            else:
                await checkpoint()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._sending:
            raise anyio.BusyResourceError("writing to")
        await checkpoint()
        if not self._eof_sent:
            self._eof_sent = True
            try:
                await self._stream.send_eof()
            except OSError as exc:  # e.g. ENOTCONN after a reset (the trio backend)
                raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()

    def __repr__(self) -> str:
        try:
            sock = self._raw_socket
            where = f"{sock.getsockname()!r} -> {sock.getpeername()!r}"
        except OSError:
            where = "closed" if self._closed else "unconnected"
        return f"<{type(self).__name__} {where}>"
