"""Ephemeral P-256 ECDH + HKDF-SHA256 key exchange (PROTOCOL.md §3.4).

Used twice per new connection: at step 4 (plain frames) to derive the session's
XChaCha20-Poly1305 key, and at step 8 (encrypted frames) to derive the OTP the client keeps
for reconnection. Both sides send their :class:`KeyExchangeData` first, then read the
peer's, then call :meth:`KeyExchange.derive`::

    shared_salt = my_salt XOR peer_salt
    ikm         = ECDH(my_secret, peer_public).x
    key         = HKDF-SHA256(salt=shared_salt, ikm=ikm, info=b"", length=32)

The derivation is symmetric, so both sides get the same key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from distant_codec.schema import Bin, Struct, struct

from .errors import LocalProtocolError
from .secret import SECRET_KEY_LENGTH, SecretKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# ``cryptography`` is imported by the functions that use it, not with this module: its
# EC, HKDF and serialization modules take longer to import than the rest of the handshake,
# and the CLI's fast path imports this module without ever exchanging a key.

__all__ = ["KeyExchangeData", "KeyExchange", "SALT_LENGTH"]

SALT_LENGTH: Final = 32
"""Each side's random salt is exactly 32 bytes; anything else fails to decode."""

_UNCOMPRESSED_LEN: Final = 65  # 0x04 || X || Y
_COMPRESSED_LEN: Final = 33  # 0x02/0x03 || X


def _load_point(data: bytes) -> ec.EllipticCurvePublicKey:
    """Parse a SEC1 P-256 point (uncompressed or compressed); ``ValueError`` otherwise.

    The length and prefix are checked first so that only the two forms Rust's
    ``PublicKey::from_sec1_bytes`` accepts reach the curve check (no identity, no hybrid).
    """
    n = len(data)
    if not (
        (n == _UNCOMPRESSED_LEN and data[0] == 0x04)
        or (n == _COMPRESSED_LEN and data[0] in (0x02, 0x03))
    ):
        raise ValueError(
            f"public_key must be a SEC1 P-256 point of 65 bytes (04 || X || Y) or 33 bytes "
            f"(02/03 || X); got {n} bytes"
        )
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except Exception:  # cryptography's error types vary between versions
        raise ValueError("public_key is not a point on the P-256 curve") from None


@struct
class KeyExchangeData(Struct):
    """``{"public_key": bin, "salt": bin(32)}``. Construction and decoding both check that
    the salt is 32 bytes and the key a valid P-256 point (decoding raises ``CodecError``)."""

    public_key: Bin
    salt: Bin

    def __post_init__(self) -> None:
        if len(self.salt) != SALT_LENGTH:
            raise ValueError(f"salt must be exactly {SALT_LENGTH} bytes, got {len(self.salt)}")
        _load_point(self.public_key)


class KeyExchange:
    """One side of one exchange: an ephemeral key pair and salt, used for one derivation.

    The private key is dropped after :meth:`derive`; deriving again raises
    :class:`LocalProtocolError`, since reusing an ephemeral key across exchanges would
    defeat its purpose.
    """

    __slots__ = ("_data", "_private")

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self._private: ec.EllipticCurvePrivateKey | None = ec.generate_private_key(ec.SECP256R1())
        public = self._private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._data = KeyExchangeData(public_key=public, salt=os.urandom(SALT_LENGTH))

    @property
    def data(self) -> KeyExchangeData:
        """What to send to the peer: our uncompressed public point and our salt."""
        return self._data

    @property
    def used(self) -> bool:
        """Whether :meth:`derive` has already been called."""
        return self._private is None

    def derive(self, peer: KeyExchangeData) -> SecretKey:
        """The 32-byte shared key for our key pair and the peer's data."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        private = self._private
        if private is None:
            raise LocalProtocolError("this KeyExchange has already derived its key")
        self._private = None
        shared_salt = bytes(a ^ b for a, b in zip(self._data.salt, peer.salt, strict=True))
        ikm = private.exchange(ec.ECDH(), _load_point(peer.public_key))
        hkdf = HKDF(algorithm=hashes.SHA256(), length=SECRET_KEY_LENGTH, salt=shared_salt, info=b"")
        return SecretKey(hkdf.derive(ikm))

    def __repr__(self) -> str:
        return f"KeyExchange(used={self.used})"
