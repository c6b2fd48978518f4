"""Secret keys that cannot leak by accident.

A :class:`SecretKey` holds the raw bytes of a static key or an OTP. Its ``repr`` and ``str``
are redacted, so it can sit inside dataclasses, log records and exception arguments
without being printed; the bytes come out only through :meth:`SecretKey.expose`,
``bytes(key)`` or :meth:`SecretKey.to_hex`. Equality is constant time
(:func:`hmac.compare_digest`), and keys are unhashable so they never end up as dict keys
whose hash could be probed.
"""

from __future__ import annotations

import os
from typing import ClassVar, Final

__all__ = ["SecretKey", "SECRET_KEY_LENGTH"]

SECRET_KEY_LENGTH: Final = 32
"""Length in bytes of the keys distant uses: the static key, the session key and OTPs."""

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class SecretKey:
    """An immutable byte string whose value is never shown in a repr or an error."""

    __slots__ = ("_data",)
    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    _data: bytes

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        raw = bytes(data)
        if not raw:
            raise ValueError("a secret key cannot be empty")
        object.__setattr__(self, "_data", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SecretKey is immutable")

    # construction -----------------------------------------------------------------------
    @classmethod
    def generate(cls, length: int = SECRET_KEY_LENGTH) -> SecretKey:
        """A fresh key of ``length`` random bytes from the OS CSPRNG."""
        if length <= 0:
            raise ValueError("a secret key needs at least one byte")
        return cls(os.urandom(length))  # what secrets.token_bytes is

    @classmethod
    def from_hex(cls, text: str, length: int = SECRET_KEY_LENGTH) -> SecretKey:
        """Parse exactly ``2 * length`` hex digits, upper or lower case.

        Like the Rust ``hex`` crate, nothing else is accepted: no ``0x`` prefix and no
        whitespace. The error message gives the expected shape and the length seen, never
        the text itself.
        """
        if not isinstance(text, str):
            raise TypeError(f"a hex key must be a str, not {type(text).__name__}")
        want = 2 * length
        if len(text) != want:
            raise ValueError(
                f"a key must be exactly {want} hexadecimal digits ({length} bytes), "
                f"got {len(text)} characters"
            )
        if not _HEX_DIGITS.issuperset(text):
            raise ValueError(
                f"a key must be exactly {want} hexadecimal digits ({length} bytes), "
                "and this one contains a character that is not a hex digit"
            )
        return cls(bytes.fromhex(text))

    # access -----------------------------------------------------------------------------
    def expose(self) -> bytes:
        """The raw key bytes. Call this only where the bytes are really needed."""
        return self._data

    def __bytes__(self) -> bytes:
        return self._data

    def to_hex(self) -> str:
        """Lowercase hex, as the Rust client answers a ``static_key`` challenge."""
        return self._data.hex()

    def __len__(self) -> int:
        return len(self._data)

    # comparison -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey):
            return NotImplemented
        import hmac  # not at module level: it loads OpenSSL, which the CLI's fast path skips

        return hmac.compare_digest(self._data, other._data)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    # redaction --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return "SecretKey(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[type[SecretKey], tuple[bytes]]:
        # Keep copy/pickle working despite the immutability guard.
        return (SecretKey, (self._data,))
