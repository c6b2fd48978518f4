"""Length-prefixed framing (PROTOCOL.md §2): a u64 big-endian length, then that many bytes.

The length counts the *encoded* item, i.e. the codec output (after encryption and
compression), so framing sits below every codec.
"""

from __future__ import annotations

import struct

from .errors import CodecError, FrameTooLarge

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing for a leaf module
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "COUNTER_NONCE_TYPE",
    "DEFAULT_MAX_ITEM_SIZE",
    "HEADER_SIZE",
    "FrameDecoder",
    "encode_frame",
]

HEADER_SIZE: Final = 8

COUNTER_NONCE_TYPE = "XChaCha20Poly1305Counter"
"""The encryption type name of our counter-nonce cipher (see :mod:`distant_codec.counter_nonce`)."""
"""Size of the length header in bytes."""

DEFAULT_MAX_ITEM_SIZE: Final = 16 * 1024 * 1024
"""Default upper bound on one item, 16 MiB.

The Rust reader enforces no maximum at all, but a peer must not be able to make us allocate
up to 2**64 bytes with one header. Rust senders only emit frames as large as the largest
single message, and bulk data (file reads and writes) travels in one message, so a deployment
that moves whole files larger than this through ``file_read``/``file_write`` should raise it.
"""

_HEADER: Final = struct.Struct(">Q")
_SMALL_ITEM: Final = 2048


def encode_frame(item: bytes | bytearray | memoryview) -> bytes:
    """Return ``item`` prefixed with its length as a u64 big-endian header."""
    size = item.nbytes if isinstance(item, memoryview) else len(item)
    return _HEADER.pack(size) + item


class FrameDecoder:
    """Incremental frame parser: :meth:`feed` it arbitrary chunks, take whole items out.

    ``next_frame()`` returns the next complete item or ``None``; iterating over the decoder
    yields every item that is complete right now, then stops (it can be iterated again after
    the next :meth:`feed`)::

        decoder.feed(chunk)
        for item in decoder:
            handle(item)

    All data lives in one growing :class:`bytearray`; items are copied out once through
    :class:`memoryview` slices, and the consumed prefix is dropped at most once per
    :meth:`feed` (or as soon as everything buffered has been consumed), so decoding is linear
    in the bytes received whatever the chunking.

    **Zero-length frames.** A complete zero-length frame (eight zero bytes) is delivered as
    ``b""`` as soon as its header is buffered. The Rust reader only tries to parse when it
    holds *more than* eight bytes, so a lone empty frame at the end of its buffer waits for
    the next byte (PROTOCOL.md §2, quirk); that concerns only *when* Rust reads it, not what
    the stream means, so we do not reproduce the delay.

    **Size limit.** An item longer than ``max_item_size`` raises :class:`FrameTooLarge` as
    soon as its 8-byte header is buffered, before anything is allocated for the item.

    After any :class:`CodecError` the stream is out of sync and the decoder must be dropped
    (the connection closed). Not thread-safe: one decoder per byte stream, one reader.
    """

    __slots__ = ("_buf", "_max_item_size", "_pos")

    def __init__(self, max_item_size: int = DEFAULT_MAX_ITEM_SIZE) -> None:
        if max_item_size < 0:
            raise ValueError(f"max_item_size must be >= 0, not {max_item_size}")
        self._max_item_size = max_item_size
        self._buf = bytearray()
        self._pos = 0  # start of the unconsumed part of _buf

    @property
    def max_item_size(self) -> int:
        """The largest item length this decoder accepts."""
        return self._max_item_size

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet returned as (part of) an item."""
        return len(self._buf) - self._pos

    @property
    def needed(self) -> int:
        """Bytes still missing to complete the frame whose header is buffered (0 when no
        header is buffered yet). A reader may ask for this much at once: one large read
        beats many small ones for a large frame."""
        pos = self._pos
        if len(self._buf) - pos < HEADER_SIZE:
            return 0
        length: int = _HEADER.unpack_from(self._buf, pos)[0]
        return max(HEADER_SIZE + length - (len(self._buf) - pos), 0)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes; then call :meth:`next_frame` or iterate for the items."""
        if self._pos:
            # Drop the consumed prefix before appending. CPython deletes a bytearray prefix
            # by moving its start pointer, so this costs at most one move of the pending
            # tail per feed, never a copy of everything received so far.
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Return the next complete item, or ``None`` if more data is needed.

        Raises :class:`FrameTooLarge` if the next header announces an item longer than
        :attr:`max_item_size`.
        """
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < HEADER_SIZE:
            return None
        (length,) = _HEADER.unpack_from(buf, pos)
        if length > self._max_item_size:
            raise FrameTooLarge(length, self._max_item_size)
        start = pos + HEADER_SIZE
        end = start + length
        if end > size:
            return None
        if length <= _SMALL_ITEM:
            item = bytes(buf[start:end])  # two small copies beat setting up a view
        else:
            with memoryview(buf) as view:  # released before buf may be resized below
                item = bytes(view[start:end])
        if end == size:
            # Everything consumed: empty the buffer now (O(1)) rather than at the next feed.
            del buf[:]
            self._pos = 0
        else:
            self._pos = end
        return item

    def __iter__(self) -> FrameDecoder:
        return self

    def __next__(self) -> bytes:
        item = self.next_frame()
        if item is None:
            raise StopIteration
        return item

    def eof(self) -> None:
        """Declare the end of the byte stream.

        Raises :class:`CodecError` if the bytes still buffered do not end on a frame
        boundary, i.e. the stream was cut inside a frame. Complete frames not yet taken out
        are not an error (they stay available), and neither is an empty buffer.
        """
        buf = self._buf
        size = len(buf)
        pos = self._pos
        # Walk the headers of the complete frames still buffered: one step per frame.
        while size - pos >= HEADER_SIZE:
            (length,) = _HEADER.unpack_from(buf, pos)
            if length > self._max_item_size:
                raise FrameTooLarge(length, self._max_item_size)
            if pos + HEADER_SIZE + length > size:
                break
            pos += HEADER_SIZE + length
        if pos != size:
            raise CodecError(
                f"truncated frame at end of stream: {size - pos} bytes of an incomplete "
                "frame pending"
            )
