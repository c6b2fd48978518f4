"""Capability-gated extensions to the distant API, beyond distant 0.21.

A server advertises :data:`FS_RANGE_CAPABILITY` in ``version.capabilities`` when it
understands these requests; a client only sends them to such a server, so a Rust peer never
sees them. They let a client move a multi-GiB file in pipelined chunks without holding it in
memory on either side:

``file_read_range {path, offset, length, checksum?}`` → ``file_chunk {offset, data, eof, sha256?}``
    Read up to ``length`` bytes at ``offset``. ``eof`` is true when the chunk ends at the
    end of the file. With ``checksum``, ``sha256`` is the hex SHA-256 of ``data``.

``file_write_range {path, offset, data, truncate?, sha256?}`` → ``ok``
    Write ``data`` at ``offset``, creating the file if needed; ``truncate`` first cuts the
    file to ``offset`` (use it on the first chunk). With ``sha256`` the server checks the
    data before writing and answers ``invalid_data`` on a mismatch. Writers that need the
    whole file to appear atomically write to a temporary name, then ``rename``.

``file_checksum {path}`` → ``checksum {sha256, len}``
    The SHA-256 of a whole file, computed in chunks on the server.
"""

from __future__ import annotations

from typing import ClassVar

from . import requests, responses
from .msg import MsgKind
from .schema import U64, Bin, Struct, TaggedUnion, struct

__all__ = [
    "FS_RANGE_CAPABILITY",
    "FileReadRange",
    "FileWriteRange",
    "FileChecksum",
    "FileChunk",
    "Checksum",
    "ExtendedRequest",
    "ExtendedResponse",
    "EXTENDED_REQUEST",
    "EXTENDED_RESPONSE",
]

FS_RANGE_CAPABILITY = "fs_range"


@struct
class FileReadRange(Struct):
    TAG: ClassVar[str] = "file_read_range"
    path: str
    offset: U64
    length: U64
    checksum: bool = False


@struct
class FileWriteRange(Struct):
    TAG: ClassVar[str] = "file_write_range"
    path: str
    offset: U64
    data: Bin
    truncate: bool = False
    sha256: str | None = None


@struct
class FileChecksum(Struct):
    TAG: ClassVar[str] = "file_checksum"
    path: str


@struct
class FileChunk(Struct):
    TAG: ClassVar[str] = "file_chunk"
    offset: U64
    data: Bin
    eof: bool
    sha256: str | None = None


@struct
class Checksum(Struct):
    TAG: ClassVar[str] = "checksum"
    sha256: str
    len: U64


ExtendedRequest = requests.Request | FileReadRange | FileWriteRange | FileChecksum
ExtendedResponse = responses.Response | FileChunk | Checksum

EXTENDED_REQUEST: TaggedUnion[ExtendedRequest] = TaggedUnion(
    "Request", [*requests.REQUEST.variants.values(), FileReadRange, FileWriteRange, FileChecksum]
)
EXTENDED_RESPONSE: TaggedUnion[ExtendedResponse] = TaggedUnion(
    "Response", [*responses.RESPONSE.variants.values(), FileChunk, Checksum]
)

MSG_EXTENDED_REQUEST: MsgKind[ExtendedRequest] = MsgKind(EXTENDED_REQUEST)
"""``Msg<Request>`` including the extensions above; ``distant_codec.MSG_EXTENDED_REQUEST``."""
MSG_EXTENDED_RESPONSE: MsgKind[ExtendedResponse] = MsgKind(EXTENDED_RESPONSE)
"""``Msg<Response>`` including the extensions above; ``distant_codec.MSG_EXTENDED_RESPONSE``."""
