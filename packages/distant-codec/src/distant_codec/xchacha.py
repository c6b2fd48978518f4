"""XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) composed from ``cryptography`` primitives.

``cryptography`` ships ChaCha20-Poly1305 (12-byte nonce) and the raw ChaCha20 stream cipher,
but not the 24-byte-nonce variant distant uses. XChaCha20-Poly1305 is

1. ``subkey = HChaCha20(key, nonce[:16])``, then
2. ChaCha20-Poly1305 under ``subkey`` with the 12-byte nonce ``b"\\0" * 4 + nonce[16:]``.

HChaCha20 is the ChaCha20 block function without its final feed-forward addition, keeping
words 0-3 and 12-15 of the permuted state. The raw ChaCha20 cipher's keystream block is
``permute(state) + state`` (word-wise, mod 2**32), where ``cryptography`` takes the 16 bytes
of state words 12-15 (counter and nonce) as its "nonce". So encrypting 64 zero bytes with
``ChaCha20(key, nonce16)`` yields that block, and subtracting the known initial words
(the four constants, and ``nonce16`` itself) recovers HChaCha20's output.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import CodecError

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "XChaCha20Poly1305",
    "hchacha20",
]

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 24
TAG_SIZE: Final = 16

_ZERO_BLOCK: Final = bytes(64)
_ZERO_NONCE16: Final = bytes(16)
_NONCE_PREFIX: Final = b"\x00\x00\x00\x00"

# _finish works on two 256-bit integers holding eight 32-bit little-endian lanes each, and
# subtracts them lane by lane (SWAR): setting every lane's top bit in the minuend and
# clearing it in the subtrahend stops borrows crossing lanes, and the xor puts back the
# right top bits. That is a handful of big-int operations instead of eight subtractions.
_LANES_TOP: Final = int.from_bytes(b"\x00\x00\x00\x80" * 8, "little")
_LANES_LOW: Final = (1 << 256) - 1 - _LANES_TOP
_LANES_ALL: Final = (1 << 256) - 1
# "expand 32-byte k": ChaCha20 state words 0-3, as a little-endian integer.
_CONSTANTS: Final = int.from_bytes(b"expand 32-byte k", "little")

BytesLike = bytes | bytearray | memoryview


def _finish(block: bytes, nonce16: bytes) -> bytes:
    """Turn the ChaCha20 keystream block for ``nonce16`` into the HChaCha20 output.

    Output words = block words 0-3 and 12-15 minus the initial state words there, which are
    the constants and ``nonce16``, mod 2**32 each.
    """
    x = int.from_bytes(block[:16] + block[48:], "little")
    y = _CONSTANTS | (int.from_bytes(nonce16, "little") << 128)
    diff = ((x | _LANES_TOP) - (y & _LANES_LOW)) ^ ((x ^ y ^ _LANES_ALL) & _LANES_TOP)
    return diff.to_bytes(32, "little")


def _check_key(key: BytesLike) -> None:
    size = key.nbytes if isinstance(key, memoryview) else len(key)
    if size != KEY_SIZE:
        raise ValueError(f"key must be {KEY_SIZE} bytes, not {size}")


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """HChaCha20(key, nonce16) -> 32-byte subkey (draft-irtf-cfrg-xchacha-03 §2.2).

    One-shot; sets up a ChaCha20 context per call (about 5 µs). :class:`XChaCha20Poly1305`
    keeps one context per key and re-nonces it instead (under 1 µs).
    """
    _check_key(key)
    if len(nonce16) != 16:
        raise ValueError(f"HChaCha20 nonce must be 16 bytes, not {len(nonce16)}")
    ctx = Cipher(algorithms.ChaCha20(key, nonce16), mode=None).encryptor()
    return _finish(ctx.update(_ZERO_BLOCK), nonce16)


class XChaCha20Poly1305:
    """The XChaCha20-Poly1305 AEAD: 32-byte key, 24-byte nonce, 16-byte tag appended.

    Output is byte-for-byte libsodium's ``crypto_aead_xchacha20poly1305_ietf_*`` and the Rust
    ``chacha20poly1305::XChaCha20Poly1305``.

    Every message derives its own subkey, so each call costs one HChaCha20 block and one
    ``ChaCha20Poly1305`` key setup on top of the AEAD itself. To keep that small, the
    instance keeps raw-ChaCha20 contexts for its key and re-nonces one per message
    (``reset_nonce``, about 0.4 µs) instead of setting up a new one (about 4 µs).

    A context is taken from a small pool for the two calls that re-nonce and use it, and
    put back after: ``list.pop``/``append`` are atomic, so concurrent threads never share a
    context mid-use (a thread that finds the pool empty makes another), at a fraction of the
    cost of a lock. Instances are therefore safe to share between threads.
    """

    __slots__ = ("_cipher", "_contexts")

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._cipher = Cipher(algorithms.ChaCha20(key, _ZERO_NONCE16), mode=None)
        self._contexts: list[CipherContext] = [self._cipher.encryptor()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<key redacted>)"

    def _aead_for(self, nonce: bytes) -> ChaCha20Poly1305:
        """ChaCha20-Poly1305 keyed with ``HChaCha20(key, nonce[:16])``."""
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} bytes, not {len(nonce)}")
        nonce16 = nonce[:16]
        contexts = self._contexts
        try:
            context = contexts.pop()
        except IndexError:  # every context is in use by another thread right now
            context = self._cipher.encryptor()
        context.reset_nonce(nonce16)
        block = context.update(_ZERO_BLOCK)
        contexts.append(context)
        return ChaCha20Poly1305(_finish(block, nonce16))

    def encrypt(self, nonce: bytes, plaintext: BytesLike, aad: BytesLike | None = None) -> bytes:
        """Return ``ciphertext || tag`` (``len(plaintext) + 16`` bytes).

        The 24-byte nonce must never repeat under one key; random bytes per message are safe.
        """
        return self._aead_for(nonce).encrypt(_NONCE_PREFIX + nonce[16:], plaintext, aad)

    def encrypt_into(
        self, nonce: bytes, plaintext: BytesLike, out: memoryview, aad: BytesLike | None = None
    ) -> None:
        """Write ``ciphertext || tag`` into ``out`` (exactly ``len(plaintext) + 16`` bytes),
        so that a caller can build a whole frame in one buffer without copying."""
        self._aead_for(nonce).encrypt_into(_NONCE_PREFIX + nonce[16:], plaintext, aad, out)

    def decrypt(self, nonce: bytes, ciphertext: BytesLike, aad: BytesLike | None = None) -> bytes:
        """Verify and open ``ciphertext || tag``.

        Raises :class:`CodecError` if the tag does not verify, including when the input is
        shorter than a tag. A nonce of the wrong length is a programming error
        (:class:`ValueError`).
        """
        aead = self._aead_for(nonce)
        try:
            return aead.decrypt(_NONCE_PREFIX + nonce[16:], ciphertext, aad)
        except InvalidTag:
            raise CodecError("XChaCha20-Poly1305 tag does not verify") from None
