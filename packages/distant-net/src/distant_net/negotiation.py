"""Codec negotiation results that need no I/O: shared by the async handshake and the
blocking client (which must not import anyio)."""

from __future__ import annotations

from distant_auth import KNOWN_ENCRYPTION_TYPES, Negotiated, SecretKey
from distant_codec import COUNTER_NONCE_TYPE, Codec

from .errors import HandshakeError

__all__ = ["EXTENDED_ENCRYPTION_TYPES", "build_codec"]

EXTENDED_ENCRYPTION_TYPES = KNOWN_ENCRYPTION_TYPES | {COUNTER_NONCE_TYPE}
"""Encryption types our peers understand: upstream's plus the counter-nonce extension."""


def build_codec(negotiated: Negotiated, key: SecretKey | None, *, client: bool) -> Codec:
    """The codec for a settled negotiation: encryption (if any) then compression."""
    # The ciphers are imported only when chosen: they pull in cryptography, which a plain
    # link (the CLI's blocking client on the manager socket) never needs.
    from distant_codec import ChainCodec, CompressionCodec, codec_for

    compression = (
        None
        if negotiated.compression_type is None
        else CompressionCodec(negotiated.compression_type, negotiated.compression_level)
    )
    encryption: Codec | None = None
    if negotiated.encryption_type is not None:
        if key is None:
            raise HandshakeError("an encryption type was chosen but no key was exchanged")
        if negotiated.encryption_type == COUNTER_NONCE_TYPE:
            from distant_codec import CounterNonceCodec

            encryption = CounterNonceCodec(key.expose(), client=client)
        else:
            from distant_codec import XChaCha20Poly1305Codec

            encryption = XChaCha20Poly1305Codec(key.expose())
    if encryption is None:
        return codec_for(None, compression)
    return encryption if compression is None else ChainCodec(encryption, compression)
