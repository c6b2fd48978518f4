"""What the client says right after the codec handshake (PROTOCOL.md §3.6).

``ConnectType`` is an externally tagged Rust enum, so it does not fit the codec's
internally tagged unions and is encoded by hand here::

    Connect()                    -> "Connect"                             (a7 43 6f ...)
    Reconnect(id, otp)           -> {"Reconnect": {"id": u32, "otp": bin(32)}}

For ``Connect`` the server answers with the connection id: a bare msgpack unsigned int.
"""

from __future__ import annotations

from typing import Any, Final

from distant_codec.errors import CodecError
from distant_codec.schema import U32, UINT32, Bin, Struct, packb, struct, unpackb

from .secret import SECRET_KEY_LENGTH, SecretKey

__all__ = [
    "Connect",
    "Reconnect",
    "ConnectType",
    "encode_connect_type",
    "decode_connect_type",
    "encode_connection_id",
    "decode_connection_id",
]

_CONNECT: Final = "Connect"
_RECONNECT: Final = "Reconnect"


@struct
class Connect:
    """A new connection: the server replies with a fresh connection id."""


@struct
class Reconnect:
    """Resume connection ``id``, proving it with the 32-byte OTP from the last exchange."""

    id: int
    otp: SecretKey

    def __post_init__(self) -> None:
        if type(self.id) is not int or not 0 <= self.id <= 0xFFFFFFFF:
            raise ValueError("Reconnect.id must be a u32")
        if not isinstance(self.otp, SecretKey) or len(self.otp) != SECRET_KEY_LENGTH:
            raise ValueError(f"Reconnect.otp must be a {SECRET_KEY_LENGTH}-byte SecretKey")


ConnectType = Connect | Reconnect


@struct
class _ReconnectBody(Struct):
    """The wire body of ``Reconnect``; keeps the OTP as plain bytes only transiently."""

    id: U32
    otp: Bin

    def __repr__(self) -> str:
        return f"_ReconnectBody(id={self.id}, otp=<redacted>)"


def encode_connect_type(ct: ConnectType) -> bytes:
    """The msgpack bytes of a ConnectType frame."""
    if isinstance(ct, Connect):
        return packb(_CONNECT)
    if isinstance(ct, Reconnect):
        return packb({_RECONNECT: _ReconnectBody(ct.id, ct.otp.expose()).to_obj()})
    raise TypeError(f"not a ConnectType: {type(ct).__name__}")


def decode_connect_type(data: bytes | bytearray | memoryview) -> ConnectType:
    """Parse a ConnectType frame; anything else raises :class:`CodecError`."""
    obj: Any = unpackb(data)
    if type(obj) is str and obj == _CONNECT:
        return Connect()
    if type(obj) is dict and len(obj) == 1 and _RECONNECT in obj:
        body = _ReconnectBody.from_obj(obj[_RECONNECT], "ConnectType.Reconnect")
        if len(body.otp) != SECRET_KEY_LENGTH:
            raise CodecError(
                f"ConnectType.Reconnect.otp: expected {SECRET_KEY_LENGTH} bytes, "
                f"got {len(body.otp)}"
            )
        return Reconnect(body.id, SecretKey(body.otp))
    raise CodecError('ConnectType: expected "Connect" or {"Reconnect": {"id", "otp"}}')


def encode_connection_id(connection_id: int) -> bytes:
    """The server's reply to ``Connect``: the id as a bare msgpack unsigned int."""
    if type(connection_id) is not int or not 0 <= connection_id <= 0xFFFFFFFF:
        raise ValueError("a connection id must be a u32")
    return packb(connection_id)


def decode_connection_id(data: bytes | bytearray | memoryview) -> int:
    """Parse the connection id frame; anything but a u32 raises :class:`CodecError`."""
    return UINT32.from_obj(unpackb(data), "connection id")
