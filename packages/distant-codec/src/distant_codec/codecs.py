"""The item codecs of PROTOCOL.md §3.5: plain, compression, encryption, and their chain.

A codec maps one whole item to one whole item (bytes in, bytes out); framing (``frame``)
happens after encoding, and the frame length counts the encoded item.
"""

from __future__ import annotations

import os
import zlib
from enum import StrEnum
from typing import Final, Protocol

from .errors import CodecError
from .frame import DEFAULT_MAX_ITEM_SIZE, HEADER_SIZE, encode_frame

__all__ = [
    "Codec",
    "PlainCodec",
    "CompressionType",
    "CompressionLevel",
    "DEFAULT_COMPRESSION_LEVEL",
    "CompressionCodec",
    "EncryptionType",
    "XChaCha20Poly1305Codec",
    "ChainCodec",
    "codec_for",
]

# The sizes of :mod:`.xchacha`, which (with ``cryptography``) is imported only when an
# encryption codec is created: the handshake needs this module's enums long before that.
NONCE_SIZE: Final = 24
TAG_SIZE: Final = 16


class Codec(Protocol):
    """Turns one item into its wire form and back."""

    def encode(self, item: bytes) -> bytes:
        """Return the encoded form of ``item``."""
        ...

    def decode(self, item: bytes) -> bytes:
        """Return the item ``item`` was encoded from; raise only :class:`CodecError`."""
        ...

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        """``encode_frame(self.encode(item))``: the whole wire frame, header included.

        Codecs that can build the frame in one buffer (encryption) do so, sparing a copy of
        the item per frame.
        """
        ...


class PlainCodec:
    """Identity codec: the handshake's codec, and the one used when no encryption is chosen."""

    __slots__ = ()

    def encode(self, item: bytes) -> bytes:
        return item

    def decode(self, item: bytes) -> bytes:
        return item

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        return encode_frame(item)

    def __repr__(self) -> str:
        return "PlainCodec()"


class CompressionType(StrEnum):
    """Compression type names as they appear in the Options and Choice maps (§3.3)."""

    Deflate = "Deflate"
    """Raw RFC 1951 deflate stream, no header or checksum."""
    Gzip = "Gzip"
    """RFC 1952 gzip member."""
    Zlib = "Zlib"
    """RFC 1950 zlib stream."""


class CompressionLevel(StrEnum):
    """Compression levels, named as on the wire: the variant names, not numbers (§3.3)."""

    Zero = "Zero"
    One = "One"
    Two = "Two"
    Three = "Three"
    Four = "Four"
    Five = "Five"
    Six = "Six"
    Seven = "Seven"
    Eight = "Eight"
    Nine = "Nine"

    @property
    def as_int(self) -> int:
        """The zlib level, 0 (store only) to 9 (smallest)."""
        return _LEVEL_INTS[self]


_LEVEL_INTS: Final[dict[CompressionLevel, int]] = {
    level: number for number, level in enumerate(CompressionLevel)
}

DEFAULT_COMPRESSION_LEVEL: Final = CompressionLevel.Six
"""The level used when the Choice leaves ``compression_level`` nil."""

# zlib's wbits selects the container: negative = raw deflate, 16+ = gzip, 8..15 = zlib.
_WBITS: Final[dict[CompressionType, int]] = {
    CompressionType.Deflate: -15,
    CompressionType.Gzip: 31,
    CompressionType.Zlib: 15,
}


class CompressionCodec:
    """Whole-item compression with one of the three flate2 containers.

    ``level`` only affects encoding (``None`` means :data:`DEFAULT_COMPRESSION_LEVEL`).
    Decoding is bounded: an item that would inflate to more than ``max_decompressed_size``
    bytes is rejected with :class:`CodecError` after producing at most one byte more, so a
    small frame cannot blow up into gigabytes. The default matches the frame size limit,
    since the Rust peer compresses items that fit in one frame uncompressed.

    Decoding is stricter than flate2 about malformed input: a truncated stream, and bytes
    after the end of the stream, are :class:`CodecError`. Rust never produces either.
    """

    __slots__ = ("_level", "_max", "_type", "_wbits")

    def __init__(
        self,
        type: CompressionType,
        level: CompressionLevel | None = None,
        *,
        max_decompressed_size: int = DEFAULT_MAX_ITEM_SIZE,
    ) -> None:
        if max_decompressed_size < 0:
            raise ValueError(f"max_decompressed_size must be >= 0, not {max_decompressed_size}")
        self._type = CompressionType(type)
        self._level = DEFAULT_COMPRESSION_LEVEL if level is None else CompressionLevel(level)
        self._wbits = _WBITS[self._type]
        self._max = max_decompressed_size

    @property
    def type(self) -> CompressionType:
        return self._type

    @property
    def level(self) -> CompressionLevel:
        return self._level

    @property
    def max_decompressed_size(self) -> int:
        return self._max

    def __repr__(self) -> str:
        return f"CompressionCodec({self._type.value!r}, {self._level.value!r})"

    def encode(self, item: bytes) -> bytes:
        return zlib.compress(item, self._level.as_int, self._wbits)

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        return encode_frame(self.encode(item))

    def decode(self, item: bytes) -> bytes:
        inflater = zlib.decompressobj(self._wbits)
        try:
            # Ask for one byte more than allowed: getting it proves the item is too big,
            # without ever inflating more than that.
            out = inflater.decompress(item, self._max + 1)
        except zlib.error as e:
            raise CodecError(f"invalid {self._type.value} stream: {e}") from None
        if len(out) > self._max:
            raise CodecError(f"{self._type.value} item inflates to more than {self._max} bytes")
        if not inflater.eof:
            raise CodecError(f"truncated {self._type.value} stream")
        if inflater.unused_data:
            raise CodecError(
                f"{len(inflater.unused_data)} bytes after the end of the {self._type.value} stream"
            )
        return out


class EncryptionType(StrEnum):
    """Encryption type names as they appear in the Options and Choice maps (§3.3)."""

    XChaCha20Poly1305 = "XChaCha20Poly1305"


class XChaCha20Poly1305Codec:
    """Encryption codec: ``nonce(24) || ciphertext || tag(16)``, no AAD.

    Each item gets 24 fresh random bytes from ``os.urandom`` as its nonce, like the Rust
    codec; random 192-bit nonces never repeat in practice, and reading them fresh per item
    stays correct across ``fork``. An empty item (a heartbeat) encodes to 40 bytes.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        from .xchacha import XChaCha20Poly1305

        self._aead = XChaCha20Poly1305(key)

    def __repr__(self) -> str:
        return "XChaCha20Poly1305Codec(<key redacted>)"

    @property
    def type(self) -> EncryptionType:
        return EncryptionType.XChaCha20Poly1305

    def encode(self, item: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, item)

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        """``[u64 length][nonce][ciphertext || tag]`` built in one buffer."""
        size = NONCE_SIZE + len(item) + TAG_SIZE
        frame = bytearray(HEADER_SIZE + size)
        frame[:HEADER_SIZE] = size.to_bytes(HEADER_SIZE, "big")
        nonce = os.urandom(NONCE_SIZE)
        frame[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE] = nonce
        self._aead.encrypt_into(nonce, item, memoryview(frame)[HEADER_SIZE + NONCE_SIZE :])
        return frame

    def decode(self, item: bytes) -> bytes:
        if len(item) <= NONCE_SIZE:
            raise CodecError(
                f"encrypted item of {len(item)} bytes is too short: need more than "
                f"{NONCE_SIZE} bytes of nonce and {TAG_SIZE} of tag"
            )
        # The nonce is sliced (24 bytes); the payload is passed as a view, not copied.
        return self._aead.decrypt(item[:NONCE_SIZE], memoryview(item)[NONCE_SIZE:])


class ChainCodec:
    """``first`` then ``second`` on encode; ``second`` then ``first`` on decode.

    With both encryption and compression chosen, §3.5 encrypts first and compresses the
    result: ``ChainCodec(encryption, compression)`` (see :func:`codec_for`).
    """

    __slots__ = ("first", "second")

    def __init__(self, first: Codec, second: Codec) -> None:
        self.first = first
        self.second = second

    def __repr__(self) -> str:
        return f"ChainCodec({self.first!r}, {self.second!r})"

    def encode(self, item: bytes) -> bytes:
        return self.second.encode(self.first.encode(item))

    def decode(self, item: bytes) -> bytes:
        return self.first.decode(self.second.decode(item))

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        return encode_frame(self.encode(item))


def codec_for(
    encryption: XChaCha20Poly1305Codec | None, compression: CompressionCodec | None
) -> Codec:
    """The codec for a negotiated Choice: plain, either one alone, or encrypt-then-compress."""
    if encryption is None:
        return PlainCodec() if compression is None else compression
    if compression is None:
        return encryption
    return ChainCodec(encryption, compression)
