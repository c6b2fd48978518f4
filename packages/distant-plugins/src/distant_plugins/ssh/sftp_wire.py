"""SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02), sans-IO.

Every packet is ``uint32 length, byte type, payload``; requests (all but INIT) start their
payload with a ``uint32 id`` that the reply repeats. This module builds request packets,
splits a byte stream into packets (:class:`PacketBuffer`) and decodes the reply payloads.
It knows nothing about processes or tasks: :mod:`distant_plugins.ssh.sftp_client` does the
I/O.
"""

from __future__ import annotations

import errno
import stat as stat_module
import struct
from dataclasses import dataclass

from distant_plugins.ssh.session import FileAttrs

__all__ = [
    "FXP",
    "FX",
    "FXF",
    "ATTR",
    "SFTP_VERSION",
    "MAX_PACKET",
    "SftpProtocolError",
    "Reader",
    "PacketBuffer",
    "Status",
    "encode_string",
    "encode_attrs",
    "decode_attrs",
    "attrs_to_file_attrs",
    "request",
    "status_errno",
]

SFTP_VERSION = 3
MAX_PACKET = 16 * 1024 * 1024
"""The largest packet we accept from the server (a bound before allocating)."""


class FXP:
    """Packet types."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class FX:
    """Status codes."""

    OK = 0
    EOF = 1
    NO_SUCH_FILE = 2
    PERMISSION_DENIED = 3
    FAILURE = 4
    BAD_MESSAGE = 5
    NO_CONNECTION = 6
    CONNECTION_LOST = 7
    OP_UNSUPPORTED = 8


class FXF:
    """``pflags`` of OPEN."""

    READ = 0x01
    WRITE = 0x02
    APPEND = 0x04
    CREAT = 0x08
    TRUNC = 0x10
    EXCL = 0x20


class ATTR:
    """Flags of the ATTRS structure."""

    SIZE = 0x01
    UIDGID = 0x02
    PERMISSIONS = 0x04
    ACMODTIME = 0x08
    EXTENDED = 0x80000000


class SftpProtocolError(Exception):
    """The server sent something that is not SFTP v3 (the channel is unusable)."""


_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEADER = struct.Struct(">IBI")  # length, type, id


def encode_string(value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _U32.pack(len(data)) + data


def encode_attrs(
    *,
    size: int | None = None,
    permissions: int | None = None,
    uid_gid: tuple[int, int] | None = None,
    times: tuple[int, int] | None = None,
) -> bytes:
    flags = 0
    body = b""
    if size is not None:
        flags |= ATTR.SIZE
        body += _U64.pack(size)
    if uid_gid is not None:
        flags |= ATTR.UIDGID
        body += _U32.pack(uid_gid[0]) + _U32.pack(uid_gid[1])
    if permissions is not None:
        flags |= ATTR.PERMISSIONS
        body += _U32.pack(permissions)
    if times is not None:
        flags |= ATTR.ACMODTIME
        body += _U32.pack(times[0]) + _U32.pack(times[1])
    return _U32.pack(flags) + body


def request(kind: int, request_id: int, *parts: bytes) -> bytes:
    """A complete request packet: header plus the already encoded ``parts``."""
    length = 5 + sum(len(p) for p in parts)
    return b"".join((_HEADER.pack(length, kind, request_id), *parts))


class Reader:
    """Decodes the fields of one payload, bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise SftpProtocolError("truncated SFTP packet")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self._take(8))[0]
        return value

    def string(self) -> bytes:
        return self._take(self.u32())

    def text(self) -> str:
        return self.string().decode("utf-8", "surrogateescape")

    def attrs(self) -> FileAttrs:
        return decode_attrs(self)


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    message: str


def decode_attrs(reader: Reader) -> FileAttrs:
    flags = reader.u32()
    size = reader.u64() if flags & ATTR.SIZE else 0
    uid = gid = None
    if flags & ATTR.UIDGID:
        uid, gid = reader.u32(), reader.u32()
    permissions = reader.u32() if flags & ATTR.PERMISSIONS else 0
    atime = mtime = None
    if flags & ATTR.ACMODTIME:
        atime, mtime = reader.u32(), reader.u32()
    if flags & ATTR.EXTENDED:
        for _ in range(reader.u32()):
            reader.string()
            reader.string()
    return attrs_to_file_attrs(size, permissions, uid=uid, gid=gid, atime=atime, mtime=mtime)


def attrs_to_file_attrs(
    size: int, permissions: int, *, uid: int | None = None, gid: int | None = None,
    atime: int | None = None, mtime: int | None = None,
) -> FileAttrs:  # fmt: skip
    if stat_module.S_ISDIR(permissions):
        kind = "dir"
    elif stat_module.S_ISLNK(permissions):
        kind = "symlink"
    elif stat_module.S_ISREG(permissions):
        kind = "file"
    else:
        kind = "other"
    return FileAttrs(
        kind=kind, size=size, permissions=permissions, uid=uid, gid=gid, atime=atime,
        mtime=mtime,
    )  # fmt: skip


class PacketBuffer:
    """Splits the server's byte stream into ``(type, payload)`` packets.

    Bytes are appended to one growing buffer; complete packets are cut out of it and the
    consumed prefix is dropped once per :meth:`feed` (what is left is less than a packet).
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        packets: list[tuple[int, bytes]] = []
        pos = 0
        end = len(buf)
        while end - pos >= 5:
            (length,) = _U32.unpack_from(buf, pos)
            if length < 1 or length > MAX_PACKET:
                raise SftpProtocolError(f"bad SFTP packet length {length}")
            if end - pos - 4 < length:
                break
            kind = buf[pos + 4]
            packets.append((kind, bytes(buf[pos + 5 : pos + 4 + length])))
            pos += 4 + length
        if pos:
            del buf[:pos]
        return packets


_STATUS_ERRNO = {
    FX.EOF: errno.EIO,
    FX.NO_SUCH_FILE: errno.ENOENT,
    FX.PERMISSION_DENIED: errno.EACCES,
    FX.FAILURE: errno.EIO,
    FX.BAD_MESSAGE: errno.EINVAL,  # OpenSSH: EINVAL and ENAMETOOLONG
    FX.NO_CONNECTION: errno.ENOTCONN,
    FX.CONNECTION_LOST: errno.ECONNRESET,
    FX.OP_UNSUPPORTED: errno.EOPNOTSUPP,
}


def status_errno(code: int) -> int:
    """The errno closest to an SFTP status (``FAILURE`` is refined by the client)."""
    return _STATUS_ERRNO.get(code, errno.EIO)
