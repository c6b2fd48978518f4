"""An extension cipher: XChaCha20-Poly1305 whose nonces are a per-direction frame counter.

Negotiated under the encryption type name :data:`COUNTER_NONCE_TYPE`. A Rust peer never
offers or picks it (it ignores names it does not know), so it only runs between our own
peers. Each direction uses the nonce::

    direction label (16 bytes) || frame counter (u64, big-endian)

so frames can only be opened in the order they were sealed: a replayed, dropped, reordered
or reflected frame fails authentication and raises :class:`CodecError`. The nonce is
implied, so a frame carries only ``ciphertext || tag`` (24 bytes fewer than §3.5), and
because the first 16 nonce bytes are fixed per direction, the HChaCha20 subkey is derived
once per connection instead of once per frame.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import CodecError
from .frame import COUNTER_NONCE_TYPE, HEADER_SIZE
from .xchacha import TAG_SIZE, hchacha20

__all__ = ["COUNTER_NONCE_TYPE", "CounterNonceCodec"]

# Defined beside the framing, which imports no cryptography: deciding *whether* a
# negotiated type is this one must not load the cipher.

_CLIENT_TO_SERVER: Final = b"distant c2s ctr\x00"
_SERVER_TO_CLIENT: Final = b"distant s2c ctr\x00"
_PREFIX: Final = b"\x00\x00\x00\x00"


class CounterNonceCodec:
    """Seal frames with counter nonces. One instance per side of one connection; frames
    must be encoded in the order they are written, and decoded in the order they arrive."""

    __slots__ = ("_open", "_received", "_seal", "_sent")

    def __init__(self, key: bytes, *, client: bool) -> None:
        send_label, receive_label = _CLIENT_TO_SERVER, _SERVER_TO_CLIENT
        if not client:
            send_label, receive_label = receive_label, send_label
        self._seal = ChaCha20Poly1305(hchacha20(key, send_label))
        self._open = ChaCha20Poly1305(hchacha20(key, receive_label))
        self._sent = 0
        self._received = 0

    def __repr__(self) -> str:
        return f"CounterNonceCodec(<key redacted>, sent={self._sent}, received={self._received})"

    def _next_send_nonce(self) -> bytes:
        nonce = _PREFIX + self._sent.to_bytes(8, "big")
        self._sent += 1
        return nonce

    def encode(self, item: bytes) -> bytes:
        return self._seal.encrypt(self._next_send_nonce(), item, None)

    def encode_framed(self, item: bytes) -> bytes | bytearray:
        size = len(item) + TAG_SIZE
        frame = bytearray(HEADER_SIZE + size)
        frame[:HEADER_SIZE] = size.to_bytes(HEADER_SIZE, "big")
        body = memoryview(frame)[HEADER_SIZE:]
        self._seal.encrypt_into(self._next_send_nonce(), item, None, body)
        return frame

    def decode(self, item: bytes) -> bytes:
        if len(item) < TAG_SIZE:
            raise CodecError(f"sealed item of {len(item)} bytes is shorter than its tag")
        nonce = _PREFIX + self._received.to_bytes(8, "big")
        try:
            plain = self._open.decrypt(nonce, item, None)
        except InvalidTag:
            raise CodecError(
                f"frame {self._received} does not verify: replayed, reordered, dropped or forged"
            ) from None
        self._received += 1
        return plain
