"""The ``fs_range`` extension: ``file_read_range``, ``file_write_range``, ``file_checksum``.

These move files of any size in pipelined chunks (see
:mod:`distant_codec.extensions`); the server holds one chunk per request in flight and
never the whole file.

* ``file_read_range`` reads with ``pread`` at most :data:`MAX_RANGE_LENGTH` bytes (a
  longer ``length`` gets a short chunk, like any short read: continue from
  ``offset + len(data)``). The cap keeps a chunk's reply inside one frame of the default
  size limit (16 MiB, ``DEFAULT_MAX_ITEM_SIZE``) with room for the envelope and the
  cipher's overhead, and bounds the memory a request can make the server allocate. ``eof``
  is true when the chunk reaches the end of the file, or when the read came back short
  (for files whose size is not known, such as ``/proc`` files, that is the only sign).
* ``file_write_range`` checks ``sha256`` before touching the file (mismatch:
  ``invalid_data``, nothing written), opens with ``O_CREAT`` (mode ``0o666 & ~umask``),
  cuts the file to ``offset`` first when ``truncate``, then ``pwrite``s. It is not atomic by
  itself: writers that need that write to a temporary name, then ``rename``.
* ``file_checksum`` hashes the file in 1 MiB reads into one reused buffer.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

from distant_codec import extensions as ex
from distant_codec import responses as rs
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.range_limits import (
    MAX_RANGE_LENGTH,
    ReplyBudget,
    check_offset,
    check_sha256,
)

from .fs_util import in_worker, os_error, pwrite_all, renamed_errors

__all__ = [
    "CHECKSUM_READ_SIZE",
    "MAX_RANGE_LENGTH",
    "RangeOps",
    "checksum_file",
    "read_range",
    "write_range",
]

CHECKSUM_READ_SIZE = 1024 * 1024


def _open_file(path: str, flags: int, mode: int = 0o666) -> tuple[int, os.stat_result]:
    """Open ``path`` and refuse directories (``open(O_RDONLY)`` accepts them)."""
    fd = os.open(path, flags | os.O_CLOEXEC, mode)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise os_error(errno.EISDIR, path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_range(path: str, offset: int, length: int, checksum: bool) -> ex.FileChunk:
    check_offset(offset, path)
    want = min(length, MAX_RANGE_LENGTH)
    fd, st = _open_file(path, os.O_RDONLY)
    try:
        with renamed_errors(path):
            data = os.pread(fd, want, offset) if want else b""
            if 0 < len(data) < want:  # a short read (signal, pipe-like file): top up
                parts = [data]
                got = len(data)
                while got < want:
                    more = os.pread(fd, want - got, offset + got)
                    if not more:
                        break
                    parts.append(more)
                    got += len(more)
                data = b"".join(parts)
    finally:
        os.close(fd)
    digest = hashlib.sha256(data).hexdigest() if checksum else None
    return ex.FileChunk(offset, data, _at_eof(st, offset, len(data), want), digest)


def _at_eof(st: os.stat_result, offset: int, got: int, want: int) -> bool:
    """A short read ends the file; otherwise a known size tells. Pseudo files (``/proc``)
    report size 0, so for them a full read says nothing and the next one finds the end."""
    if got < want:
        return True
    if not stat.S_ISREG(st.st_mode) or (st.st_size == 0 and want > 0):
        return False
    return offset + got >= st.st_size


def write_range(path: str, offset: int, data: bytes, truncate: bool, sha256: str | None) -> None:
    check_offset(offset, path)
    check_sha256(data, sha256, path)
    fd, _st = _open_file(path, os.O_WRONLY | os.O_CREAT)
    try:
        with renamed_errors(path):
            if truncate:
                os.ftruncate(fd, offset)
            pwrite_all(fd, data, offset)
    finally:
        os.close(fd)


def checksum_file(path: str) -> ex.Checksum:
    digest = hashlib.sha256()
    buf = bytearray(CHECKSUM_READ_SIZE)
    view = memoryview(buf)
    total = 0
    fd, _st = _open_file(path, os.O_RDONLY)
    try:
        with renamed_errors(path):
            while n := os.readv(fd, [buf]):
                digest.update(view[:n])
                total += n
    finally:
        os.close(fd)
    return ex.Checksum(digest.hexdigest(), total)


class RangeOps(Api):
    """``file_read_range``, ``file_write_range``, ``file_checksum`` (capability ``fs_range``)."""

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> ex.FileChunk:
        budget = ctx.connection.resource(ReplyBudget)
        amount = min(req.length, MAX_RANGE_LENGTH)
        await budget.acquire(amount)
        try:
            chunk = await in_worker(read_range, req.path, req.offset, req.length, req.checksum)
        except BaseException:
            budget.release(amount)
            raise

        async def give_back() -> None:  # runs once the reply has been sent
            budget.release(amount)

        ctx.after_reply(give_back)
        return chunk

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> rs.Ok:
        await in_worker(write_range, req.path, req.offset, req.data, req.truncate, req.sha256)
        return rs.Ok()

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> ex.Checksum:
        return await in_worker(checksum_file, req.path)
