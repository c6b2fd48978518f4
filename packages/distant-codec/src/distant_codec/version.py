"""The 24-byte protocol version exchange and its compatibility rule (§3.2)."""

from __future__ import annotations

from struct import Struct as _Packer

from ._records import struct
from .errors import CodecError

__all__ = ["ProtocolVersion", "PROTOCOL_VERSION", "VERSION_BYTES_LEN"]

VERSION_BYTES_LEN = 24
_FMT = _Packer(">QQQ")


@struct(order=True)
class ProtocolVersion:
    major: int
    minor: int
    patch: int

    def to_bytes(self) -> bytes:
        """major, minor, patch as three u64 big-endian numbers."""
        return _FMT.pack(self.major, self.minor, self.patch)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> ProtocolVersion:
        if len(data) != VERSION_BYTES_LEN:
            raise CodecError(f"version: expected {VERSION_BYTES_LEN} bytes, got {len(data)}")
        return cls(*_FMT.unpack(data))

    @classmethod
    def parse(cls, text: str) -> ProtocolVersion:
        """``X.Y.Z``, ignoring any pre-release or build suffix."""
        core = text.split("+", 1)[0].split("-", 1)[0]
        parts = core.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise CodecError(f"version: {text!r} is not X.Y.Z")
        return cls(*(int(p) for p in parts))

    def is_compatible_with(self, server: ProtocolVersion) -> bool:
        """Whether a client of this version accepts ``server`` (the rule of §3.2)."""
        if server < self:
            return False
        if self.major == 0:
            return server < ProtocolVersion(0, self.minor + 1, 0)
        return server < ProtocolVersion(self.major + 1, 0, 0)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


PROTOCOL_VERSION = ProtocolVersion(0, 21, 0)
