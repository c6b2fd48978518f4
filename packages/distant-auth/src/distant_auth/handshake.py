"""Codec negotiation, steps 2-3 of a new connection (PROTOCOL.md §3.3).

The server sends :class:`HandshakeOptions`; the client answers with a
:class:`HandshakeChoice` made by :func:`choose`; the server checks it with
:func:`validate_choice`. Both messages travel as plain frames.

Type names are kept as raw strings on the wire model. Rust decodes a name it does not know
as ``Unknown``; keeping the string lets us (a) offer extension ciphers such as a
counter-nonce variant that a Rust peer simply ignores, and (b) report exactly what the peer
sent. :func:`is_known_compression_type` and friends tell known from unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Final

from distant_codec.codecs import CompressionLevel, CompressionType, EncryptionType
from distant_codec.schema import ALWAYS, Struct, struct

from .errors import RemoteProtocolError

__all__ = [
    "HandshakeOptions",
    "HandshakeChoice",
    "Negotiated",
    "UNKNOWN",
    "COMPRESSION_TYPES",
    "COMPRESSION_LEVELS",
    "DEFAULT_ENCRYPTION_TYPE",
    "KNOWN_ENCRYPTION_TYPES",
    "default_server_options",
    "choose",
    "validate_choice",
    "is_known_compression_type",
    "is_known_compression_level",
    "is_known_encryption_type",
    "compression_type_name",
    "encryption_type_name",
]

UNKNOWN: Final = "Unknown"
"""How Rust reads (and displays) a type name it does not recognise."""

COMPRESSION_TYPES: Final[tuple[str, ...]] = tuple(t.value for t in CompressionType)
"""``("Deflate", "Gzip", "Zlib")``: every compression type, in the server's offer order."""

COMPRESSION_LEVELS: Final[tuple[str, ...]] = tuple(level.value for level in CompressionLevel)
"""``("Zero", ..., "Nine")``: level names as they appear on the wire (not numbers)."""

DEFAULT_ENCRYPTION_TYPE: Final = EncryptionType.XChaCha20Poly1305.value
"""``"XChaCha20Poly1305"``: the only cipher a Rust peer knows, and the client's default."""

KNOWN_ENCRYPTION_TYPES: Final[frozenset[str]] = frozenset({DEFAULT_ENCRYPTION_TYPE})
"""Encryption types distant 0.21 understands. Pass a larger set to :func:`choose` and
:func:`validate_choice` when an extension cipher is available on both sides."""


@struct
class HandshakeOptions(Struct):
    """What the server offers (server → client)."""

    compression_types: tuple[str, ...]
    encryption_types: tuple[str, ...]


@struct
class HandshakeChoice(Struct):
    """What the client picked (client → server). All three keys are always on the wire,
    nil when ``None``; a missing key decodes as ``None``, as serde does for ``Option``."""

    compression_level: Annotated[str | None, ALWAYS] = None
    compression_type: Annotated[str | None, ALWAYS] = None
    encryption_type: Annotated[str | None, ALWAYS] = None


@struct
class Negotiated:
    """A validated choice, in the codec's own types, ready to build the codecs from.

    ``compression_level`` is already defaulted (``Six``) when the choice left it nil.
    ``encryption_type`` stays a string so that extension ciphers fit.
    """

    compression_type: CompressionType | None
    compression_level: CompressionLevel
    encryption_type: str | None


def is_known_compression_type(name: str) -> bool:
    """Whether Rust would decode ``name`` as a real compression type (not ``Unknown``)."""
    return name in CompressionType.__members__


def is_known_compression_level(name: str) -> bool:
    """Whether ``name`` is one of ``"Zero"`` .. ``"Nine"``."""
    return name in CompressionLevel.__members__


def is_known_encryption_type(name: str, known: Iterable[str] = KNOWN_ENCRYPTION_TYPES) -> bool:
    """Whether ``name`` is in ``known`` (by default, what distant 0.21 understands)."""
    return name in known


def compression_type_name(name: str) -> str:
    """``name`` if known, otherwise ``"Unknown"``: the value Rust would see."""
    return name if is_known_compression_type(name) else UNKNOWN


def encryption_type_name(name: str, known: Iterable[str] = KNOWN_ENCRYPTION_TYPES) -> str:
    """``name`` if in ``known``, otherwise ``"Unknown"``: the value a peer would see."""
    return name if is_known_encryption_type(name, known) else UNKNOWN


def default_server_options(extra_encryption_types: Iterable[str] = ()) -> HandshakeOptions:
    """The server's default offer: all three compression types, then ``XChaCha20Poly1305``
    followed by ``extra_encryption_types`` (extension ciphers a Rust client ignores)."""
    encryption = [DEFAULT_ENCRYPTION_TYPE]
    for name in extra_encryption_types:
        if name not in encryption:
            encryption.append(name)
    return HandshakeOptions(COMPRESSION_TYPES, tuple(encryption))


def choose(
    options: HandshakeOptions,
    *,
    compression: str | None = None,
    level: str | None = None,
    encryption: str | None = DEFAULT_ENCRYPTION_TYPE,
    known_encryption_types: Iterable[str] = KNOWN_ENCRYPTION_TYPES,
    encrypt: bool = True,
) -> HandshakeChoice:
    """The client's selection rule of §3.3, exactly as distant 0.21 applies it.

    * compression: ``compression`` if the server offers it, otherwise ``None``;
    * level: ``level`` as given (``None`` lets the server use ``Six``);
    * encryption: ``encryption`` if offered, otherwise the first offered type that is in
      ``known_encryption_types``, otherwise ``None``. Note that ``encryption=None`` also
      falls back to the first known offered type, as in Rust.

    ``encrypt=False`` picks no encryption at all whatever is offered (the CLI may do this
    on the private manager socket; the server accepts a nil encryption type).

    Raises ``ValueError`` for a preference that is not a known name: sending it would only
    make the server abort the handshake.
    """
    known = frozenset(known_encryption_types)
    if compression is not None and not is_known_compression_type(compression):
        raise ValueError(f"unknown compression type {compression!r}")
    if level is not None and not is_known_compression_level(level):
        raise ValueError(f"unknown compression level {level!r}; use one of {COMPRESSION_LEVELS}")
    if encryption is not None and encryption not in known:
        raise ValueError(f"unknown encryption type {encryption!r}")

    chosen_compression = compression if compression in options.compression_types else None
    chosen_encryption: str | None = None
    if encrypt:
        if encryption is not None and encryption in options.encryption_types:
            chosen_encryption = encryption
        else:
            chosen_encryption = next((t for t in options.encryption_types if t in known), None)
    return HandshakeChoice(
        compression_level=level,
        compression_type=chosen_compression,
        encryption_type=chosen_encryption,
    )


def validate_choice(
    choice: HandshakeChoice,
    *,
    known_encryption_types: Iterable[str] = KNOWN_ENCRYPTION_TYPES,
    offered: HandshakeOptions | None = None,
) -> Negotiated:
    """Server side: accept the client's choice or raise :class:`RemoteProtocolError`.

    Rejected, as a Rust server would abort the handshake: an unknown encryption type, an
    unknown compression type and an unknown compression level. Rust does not check the
    choice against its offer; pass ``offered`` to be stricter (then the encryption and
    compression types must also have been offered).
    """
    known = frozenset(known_encryption_types)
    level = choice.compression_level
    if level is not None and not is_known_compression_level(level):
        raise RemoteProtocolError(f"client chose an unknown compression level {level!r}")
    ctype = choice.compression_type
    if ctype is not None and not is_known_compression_type(ctype):
        raise RemoteProtocolError(f"client chose an unknown compression type {ctype!r}")
    etype = choice.encryption_type
    if etype is not None and etype not in known:
        raise RemoteProtocolError(f"client chose an unknown encryption type {etype!r}")
    if offered is not None:
        if ctype is not None and ctype not in offered.compression_types:
            raise RemoteProtocolError(f"client chose compression type {ctype!r}, not offered")
        if etype is not None and etype not in offered.encryption_types:
            raise RemoteProtocolError(f"client chose encryption type {etype!r}, not offered")
    return Negotiated(
        compression_type=None if ctype is None else CompressionType(ctype),
        compression_level=CompressionLevel.Six if level is None else CompressionLevel(level),
        encryption_type=etype,
    )
