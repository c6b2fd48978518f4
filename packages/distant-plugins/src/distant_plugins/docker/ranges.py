"""The ``fs_range`` extension in a container: ``file_read_range``, ``file_write_range``,
``file_checksum`` (see :mod:`distant_codec.extensions`), so ``distant copy`` streams.

With ``dd`` in the container (busybox's and GNU's both have the byte flags used here):

* ``file_read_range``: ``dd if=PATH skip=OFFSET count=LENGTH iflag=skip_bytes,count_bytes``
  (the skip is a seek), at most :data:`MAX_RANGE_LENGTH` bytes as the host. The archive
  stat that comes first answers ``not_found``/``is a directory`` and gives the size that
  says ``eof`` (a short read is ``eof`` too).
* ``file_write_range``: the data on the stdin of ``dd of=PATH seek=OFFSET
  oflag=seek_bytes`` with ``conv=notrunc``, or without it when ``truncate`` (``dd`` then
  cuts the file to ``OFFSET`` before writing); a new file gets ``0666 & ~umask`` as the
  host. ``sha256`` is checked before anything runs (``invalid_data``).
* ``file_checksum``: ``sha256sum PATH``; the length is the archive stat's size.

Without them (a container with no tools) the same requests still work through the
archive API, reading the whole file for each range, which is why the capability is only
advertised (:func:`range_capable`) when ``dd`` and ``sha256sum`` are there: a client then
uses ranges only where they are cheap.
"""

from __future__ import annotations

import errno
import hashlib
import posixpath

import anyio

from distant_codec import extensions as ex
from distant_codec import responses as rs
from distant_server import (
    MAX_RANGE_LENGTH,
    ApiContext,
    ReplyBudget,
    check_offset,
    check_sha256,
)

from .archive import PathStat
from .engine import Engine
from .exec import open_exec
from .files import DockerFiles, command_error

__all__ = ["DockerRanges", "RANGE_TOOLS", "range_capable", "DD_BLOCK"]

RANGE_TOOLS = ("dd", "sha256sum")
DD_BLOCK = 64 * 1024
"""``dd``'s block size (the byte flags make ``skip``/``seek``/``count`` exact anyway)."""


def range_capable(tools: frozenset[str]) -> bool:
    """Whether ranges are cheap in a container with ``tools`` (advertise ``fs_range``)."""
    return all(tool in tools for tool in RANGE_TOOLS)


def _abs(path: str) -> str:
    return posixpath.normpath(posixpath.join("/", path))


class DockerRanges:
    """The three requests on one container; ``tools`` are the commands it has."""

    def __init__(self, engine: Engine, files: DockerFiles, tools: frozenset[str]) -> None:
        self.engine = engine
        self.files = files
        self.tools = tools

    async def _regular(self, path: str) -> tuple[str, PathStat]:
        """``path`` with links followed and its stat; a directory is ``EISDIR``."""
        real, st = await self.engine.resolve(path)
        if st.is_dir:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
        return real, st

    # -- file_read_range -------------------------------------------------------------------

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> ex.FileChunk:
        check_offset(req.offset, req.path)
        want = min(req.length, MAX_RANGE_LENGTH)
        budget = ctx.connection.resource(ReplyBudget)
        await budget.acquire(want)
        try:
            path = _abs(req.path)
            real, st = await self._regular(path)
            data = await self._read(path, real, req.offset, want) if want else b""
        except BaseException:
            budget.release(want)
            raise

        async def give_back() -> None:  # once the reply has been sent
            budget.release(want)

        ctx.after_reply(give_back)
        got = len(data)
        if got < want:
            eof = True
        elif not st.is_file or (st.size == 0 and want > 0):
            eof = False
        else:
            eof = req.offset + got >= st.size
        digest = hashlib.sha256(data).hexdigest() if req.checksum else None
        return ex.FileChunk(req.offset, data, eof, digest)

    async def _read(self, path: str, real: str, offset: int, length: int) -> bytes:
        if "dd" not in self.tools:
            whole = await self.engine.read_file(real)
            return whole[offset : offset + length]
        argv = [
            "dd", f"if={real}", f"bs={DD_BLOCK}", f"skip={offset}", f"count={length}",
            "iflag=skip_bytes,count_bytes",
        ]  # fmt: skip
        code, out, err = await self.engine.run(argv)
        if code != 0:
            raise command_error("dd", path, code, err)
        return out

    # -- file_write_range ------------------------------------------------------------------

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> rs.Ok:
        check_offset(req.offset, req.path)
        data = bytes(req.data)
        check_sha256(data, req.sha256, req.path)
        path = _abs(req.path)
        try:
            target, _ = await self._regular(path)
        except FileNotFoundError:
            target = path  # dd creates it (its directory must exist, as on the host)
        if "dd" in self.tools:
            await self._dd_write(path, target, req.offset, data, req.truncate)
        else:
            await self._archive_write(path, req.offset, data, req.truncate)
        return rs.Ok()

    async def _dd_write(
        self, path: str, target: str, offset: int, data: bytes, truncate: bool
    ) -> None:
        argv = ["dd", f"of={target}", f"bs={DD_BLOCK}", f"seek={offset}", "oflag=seek_bytes"]
        if not truncate:
            argv.append("conv=notrunc")
        stream = await open_exec(self.engine, argv)
        err = b""

        async def feed() -> None:
            try:
                await stream.send(data)
            except OSError:  # dd gave up early (e.g. could not open): its stderr says why
                return
            stream.close_stdin()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(feed)
                while (chunk := await stream.receive()) is not None:
                    err += chunk[1]
                tg.cancel_scope.cancel()  # dd is done: stop feeding it, if still at it
            code = await stream.wait_exit()
        finally:
            stream.close()
        if code != 0:
            raise command_error("dd", path, code, err)

    async def _archive_write(self, path: str, offset: int, data: bytes, truncate: bool) -> None:
        try:
            old = await self.engine.read_file(path)
        except FileNotFoundError:
            old = b""
        if truncate:
            old = old[:offset]
        if len(old) < offset:
            old += bytes(offset - len(old))
        await self.files.write(path, old[:offset] + data + old[offset + len(data) :])

    # -- file_checksum ---------------------------------------------------------------------

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> ex.Checksum:
        path = _abs(req.path)
        real, st = await self._regular(path)
        if "sha256sum" in self.tools and st.is_file:
            code, out, err = await self.engine.run(["sha256sum", real])
            if code != 0:
                raise command_error("sha256sum", path, code, err)
            fields = out.split()
            digest = fields[0].lstrip(b"\\").decode("ascii", "replace") if fields else ""
            if len(digest) == 64:
                return ex.Checksum(digest, st.size)
        data = await self.engine.read_file(real)
        return ex.Checksum(hashlib.sha256(data).hexdigest(), len(data))
