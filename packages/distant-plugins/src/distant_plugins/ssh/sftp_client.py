"""An SFTP v3 client over any pair of byte streams (e.g. ``ssh -s host sftp``'s stdio).

Requests carry ids; :meth:`SftpClient.run_reader` (run it in the background for as long as
the client lives) cuts the server's stream into packets and wakes the waiter of each id, so
any number of requests are in flight at once. Large reads and writes are split into chunks
no larger than the server's limits (``limits@openssh.com``; 256 KiB for OpenSSH) with up to
:data:`WINDOW` of them in flight.

Errors are ``OSError`` with an errno. SFTP v3 has only a few status codes, and OpenSSH's
server reports every errno other than ``ENOENT``/``EACCES``/``EPERM`` as a bare
``SSH_FX_FAILURE``, so where a ``FAILURE`` is ambiguous the client asks follow-up questions
(an ``lstat`` of the path or its parent, a listing) to tell ``EEXIST``, ``ENOTDIR``,
``EISDIR`` and ``ENOTEMPTY`` apart; what it cannot explain stays ``EIO``.
"""

from __future__ import annotations

import errno
import itertools
import os
import posixpath
from collections import deque
from dataclasses import dataclass, field

import anyio
import anyio.abc

from distant_plugins.ssh.session import FileAttrs
from distant_plugins.ssh.sftp_wire import (
    FX,
    FXF,
    FXP,
    SFTP_VERSION,
    PacketBuffer,
    Reader,
    SftpProtocolError,
    Status,
    encode_attrs,
    encode_string,
    request,
    status_errno,
)

__all__ = ["SftpClient", "SftpClosed", "WINDOW", "DEFAULT_CHUNK"]

WINDOW = 64
"""Read or write requests in flight per transfer."""
DEFAULT_CHUNK = 64 * 1024
"""Chunk size when the server does not state its limits."""
MAX_CHUNK = 1024 * 1024
_U32 = 4


class SftpClosed(ConnectionError):
    """The SFTP channel ended (the ssh connection or the subsystem went away)."""


@dataclass(slots=True)
class _Pending:
    done: anyio.Event = field(default_factory=anyio.Event)
    kind: int = 0
    payload: bytes = b""
    error: BaseException | None = None


class SftpClient:
    """See the module docstring. Use :meth:`handshake` first, then run :meth:`run_reader`."""

    def __init__(
        self, send: anyio.abc.ByteSendStream, receive: anyio.abc.ByteReceiveStream
    ) -> None:
        self._send = send
        self._receive = receive
        self._send_lock = anyio.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._buffer = PacketBuffer()
        self._closed: BaseException | None = None
        self.extensions: dict[str, bytes] = {}
        self.read_chunk = DEFAULT_CHUNK
        self.write_chunk = DEFAULT_CHUNK

    @property
    def closed(self) -> bool:
        return self._closed is not None

    # -- lifecycle -------------------------------------------------------------------------

    async def handshake(self) -> None:
        """INIT → VERSION, read before the reader runs (the server's first packet)."""
        await self._send.send(b"\x00\x00\x00\x05" + bytes([FXP.INIT]) + SFTP_VERSION.to_bytes(4))
        while True:
            try:
                data = await self._receive.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError) as exc:
                raise SftpClosed("the SFTP subsystem ended before its version") from exc
            packets = self._buffer.feed(data)
            if packets:
                break
        kind, payload = packets[0]
        if kind != FXP.VERSION or len(packets) > 1:
            raise SftpProtocolError(f"expected SSH_FXP_VERSION, got packet type {kind}")
        reader = Reader(payload)
        version = reader.u32()
        if version < SFTP_VERSION:
            raise SftpProtocolError(f"the server speaks SFTP version {version}, not 3")
        while reader.pos < len(payload):
            name = reader.text()
            self.extensions[name] = reader.string()

    async def negotiate_limits(self) -> None:
        """Adopt the server's read/write sizes when it states them (``limits@openssh.com``);
        must run with the reader running."""
        if "limits@openssh.com" not in self.extensions:
            return
        kind, reader = await self._call(FXP.EXTENDED, encode_string("limits@openssh.com"))
        if kind != FXP.EXTENDED_REPLY:
            return
        _max_packet, max_read, max_write = reader.u64(), reader.u64(), reader.u64()
        if max_read:
            self.read_chunk = min(max_read, MAX_CHUNK)
        if max_write:
            self.write_chunk = min(max_write, MAX_CHUNK)

    async def run_reader(self) -> None:
        """Dispatch replies until the stream ends; then every waiter fails with
        :class:`SftpClosed`."""
        error: BaseException = SftpClosed("the SFTP channel closed")
        try:
            while True:
                data = await self._receive.receive(256 * 1024)
                for kind, payload in self._buffer.feed(data):
                    if len(payload) < _U32:
                        raise SftpProtocolError("SFTP reply without an id")
                    waiter = self._pending.pop(int.from_bytes(payload[:4]), None)
                    if waiter is not None:
                        waiter.kind = kind
                        waiter.payload = payload
                        waiter.done.set()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        except SftpProtocolError as exc:
            error = SftpClosed(f"the SFTP channel broke: {exc}")
        finally:
            self._fail_all(error)

    def _fail_all(self, error: BaseException) -> None:
        if self._closed is None:
            self._closed = error
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.error = error
            waiter.done.set()

    async def aclose(self) -> None:
        self._fail_all(SftpClosed("the SFTP client is closed"))
        await self._send.aclose()

    # -- requests --------------------------------------------------------------------------

    async def _submit(self, kind: int, *parts: bytes) -> _Pending:
        if self._closed is not None:
            raise SftpClosed(str(self._closed))
        request_id = next(self._ids) & 0xFFFFFFFF
        waiter = _Pending()
        self._pending[request_id] = waiter
        packet = request(kind, request_id, *parts)
        try:
            async with self._send_lock:
                await self._send.send(packet)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            self._pending.pop(request_id, None)
            raise SftpClosed("the SFTP channel closed") from exc
        except BaseException:
            self._pending.pop(request_id, None)
            raise
        return waiter

    @staticmethod
    async def _result(waiter: _Pending) -> tuple[int, Reader]:
        await waiter.done.wait()
        if waiter.error is not None:
            raise SftpClosed(str(waiter.error))
        return waiter.kind, Reader(waiter.payload, _U32)

    async def _call(self, kind: int, *parts: bytes) -> tuple[int, Reader]:
        return await self._result(await self._submit(kind, *parts))

    @staticmethod
    def _status(reader: Reader) -> Status:
        code = reader.u32()
        message = reader.text() if reader.pos < len(reader.data) else ""
        return Status(code, message)

    def _error(self, reader: Reader, path: str, default: int | None = None) -> OSError:
        status = self._status(reader)
        number = status_errno(status.code)
        if status.code == FX.FAILURE and default is not None:
            number = default
        return _status_error(number, status.message, path)

    async def _expect(self, kind: int, want: int, path: str, *parts: bytes) -> Reader:
        got, reader = await self._call(kind, *parts)
        if got == want:
            return reader
        if got == FXP.STATUS:
            raise self._error(reader, path)
        raise SftpProtocolError(f"unexpected SFTP reply type {got}")

    async def _expect_ok(self, kind: int, path: str, *parts: bytes) -> Status:
        got, reader = await self._call(kind, *parts)
        if got != FXP.STATUS:
            raise SftpProtocolError(f"unexpected SFTP reply type {got}")
        return self._status(reader)

    def _raise_unless_ok(self, status: Status, path: str, failure: int = errno.EIO) -> None:
        if status.code == FX.OK:
            return
        number = failure if status.code == FX.FAILURE else status_errno(status.code)
        raise _status_error(number, status.message, path)

    # -- attributes and names --------------------------------------------------------------

    async def stat(self, path: str) -> FileAttrs:
        return (await self._expect(FXP.STAT, FXP.ATTRS, path, encode_string(path))).attrs()

    async def lstat(self, path: str) -> FileAttrs:
        return (await self._expect(FXP.LSTAT, FXP.ATTRS, path, encode_string(path))).attrs()

    async def fstat(self, handle: bytes, path: str) -> FileAttrs:
        return (await self._expect(FXP.FSTAT, FXP.ATTRS, path, encode_string(handle))).attrs()

    async def _lstat_or_none(self, path: str) -> FileAttrs | None:
        try:
            return await self.lstat(path)
        except OSError:
            return None

    async def _missing_parent_errno(self, path: str) -> int:
        """Why a path could not be reached: ``ENOTDIR`` when a parent is not a directory,
        else ``ENOENT``."""
        parent = posixpath.dirname(path.rstrip("/")) or "/"
        try:
            attrs = await self.stat(parent)
        except OSError as exc:
            return exc.errno or errno.ENOENT
        return errno.ENOENT if attrs.kind == "dir" else errno.ENOTDIR

    async def realpath(self, path: str) -> str:
        reader = await self._expect(FXP.REALPATH, FXP.NAME, path, encode_string(path))
        if reader.u32() < 1:
            raise SftpProtocolError("REALPATH answered no name")
        return reader.text()

    async def readlink(self, path: str) -> str:
        got, reader = await self._call(FXP.READLINK, encode_string(path))
        if got == FXP.NAME:
            if reader.u32() < 1:
                raise SftpProtocolError("READLINK answered no name")
            return reader.text()
        if got != FXP.STATUS:
            raise SftpProtocolError(f"unexpected SFTP reply type {got}")
        status = self._status(reader)
        failure = errno.EINVAL if await self._lstat_or_none(path) is not None else errno.EIO
        self._raise_unless_ok(status, path, failure)
        raise SftpProtocolError("READLINK answered OK without a name")

    async def listdir(self, path: str) -> list[tuple[str, FileAttrs]]:
        got, reader = await self._call(FXP.OPENDIR, encode_string(path))
        if got == FXP.STATUS:
            status = self._status(reader)
            attrs = await self._lstat_or_none(path)
            if attrs is not None and attrs.kind != "dir":
                raise _oserror(errno.ENOTDIR, path)
            if status.code == FX.NO_SUCH_FILE:
                raise _oserror(await self._missing_parent_errno(path), path)
            failure = errno.ENOTDIR if attrs is not None and attrs.kind != "dir" else errno.EIO
            self._raise_unless_ok(status, path, failure)
        if got != FXP.HANDLE:
            raise SftpProtocolError(f"unexpected SFTP reply type {got}")
        handle = reader.string()
        entries: list[tuple[str, FileAttrs]] = []
        try:
            while True:
                got, reader = await self._call(FXP.READDIR, encode_string(handle))
                if got == FXP.STATUS:
                    status = self._status(reader)
                    if status.code == FX.EOF:
                        break
                    self._raise_unless_ok(status, path)
                if got != FXP.NAME:
                    raise SftpProtocolError(f"unexpected SFTP reply type {got}")
                for _ in range(reader.u32()):
                    name = reader.text()
                    reader.string()  # longname
                    attrs = reader.attrs()
                    if name not in (".", ".."):
                        entries.append((name, attrs))
        finally:
            await self.close_handle(handle)
        return entries

    # -- changes ---------------------------------------------------------------------------

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        status = await self._expect_ok(
            FXP.MKDIR, path, encode_string(path), encode_attrs(permissions=mode & 0o7777)
        )
        if status.code == FX.OK:
            return
        if status.code in (FX.FAILURE, FX.NO_SUCH_FILE):
            if await self._lstat_or_none(path) is not None:
                raise _oserror(errno.EEXIST, path)
            self._raise_unless_ok(
                Status(FX.FAILURE, status.message), path, await self._missing_parent_errno(path)
            )
        self._raise_unless_ok(status, path)

    async def rmdir(self, path: str) -> None:
        status = await self._expect_ok(FXP.RMDIR, path, encode_string(path))
        if status.code in (FX.FAILURE, FX.NO_SUCH_FILE):
            attrs = await self._lstat_or_none(path)
            if attrs is not None and attrs.kind != "dir":
                raise _oserror(errno.ENOTDIR, path)
            if attrs is not None and await self.listdir(path):
                raise _oserror(errno.ENOTEMPTY, path)
        self._raise_unless_ok(status, path)

    async def remove(self, path: str) -> None:
        status = await self._expect_ok(FXP.REMOVE, path, encode_string(path))
        if status.code == FX.FAILURE:
            attrs = await self._lstat_or_none(path)
            if attrs is not None and attrs.kind == "dir":
                raise _oserror(errno.EISDIR, path)
        elif status.code == FX.NO_SUCH_FILE:
            raise _oserror(await self._missing_parent_errno(path), path)
        self._raise_unless_ok(status, path)

    async def rename(self, src: str, dst: str) -> None:
        """POSIX rename: through ``posix-rename@openssh.com`` when offered (plain v3 RENAME
        refuses to replace an existing ``dst``)."""
        if "posix-rename@openssh.com" in self.extensions:
            status = await self._expect_ok(
                FXP.EXTENDED, src, encode_string("posix-rename@openssh.com"),
                encode_string(src), encode_string(dst),
            )  # fmt: skip
        else:
            status = await self._expect_ok(FXP.RENAME, src, encode_string(src), encode_string(dst))
        if status.code == FX.OK:
            return
        if status.code == FX.NO_SUCH_FILE:
            if await self._lstat_or_none(src) is None:
                raise _oserror(await self._missing_parent_errno(src), src)
            raise _oserror(await self._missing_parent_errno(dst), dst)
        if status.code == FX.FAILURE:
            src_attrs, dst_attrs = await self._lstat_or_none(src), await self._lstat_or_none(dst)
            if src_attrs is not None and dst_attrs is not None:
                if src_attrs.kind == "dir" and dst_attrs.kind != "dir":
                    raise _oserror(errno.ENOTDIR, dst)
                if src_attrs.kind != "dir" and dst_attrs.kind == "dir":
                    raise _oserror(errno.EISDIR, dst)
                if dst_attrs.kind == "dir" and await self.listdir(dst):
                    raise _oserror(errno.ENOTEMPTY, dst)
                if "posix-rename@openssh.com" not in self.extensions:
                    raise _oserror(errno.EEXIST, dst)
            if src_attrs is not None and dst_attrs is None:
                number = await self._missing_parent_errno(dst)
                if number != errno.ENOENT:
                    raise _oserror(number, dst)
        self._raise_unless_ok(status, src)

    async def setstat(
        self, path: str, *, permissions: int | None = None, size: int | None = None
    ) -> None:
        status = await self._expect_ok(
            FXP.SETSTAT, path, encode_string(path),
            encode_attrs(permissions=permissions, size=size),
        )  # fmt: skip
        self._raise_unless_ok(status, path)

    async def chmod(self, path: str, mode: int) -> None:
        await self.setstat(path, permissions=mode & 0o7777)

    async def symlink(self, target: str, link: str) -> None:
        """Create ``link`` pointing at ``target``. OpenSSH's server reads the two paths of
        SYMLINK in the reverse of the draft's order, so they are sent as OpenSSH expects."""
        status = await self._expect_ok(
            FXP.SYMLINK, link, encode_string(target), encode_string(link)
        )
        if status.code == FX.FAILURE and await self._lstat_or_none(link) is not None:
            raise _oserror(errno.EEXIST, link)
        self._raise_unless_ok(status, link)

    # -- handles ---------------------------------------------------------------------------

    async def open(self, path: str, pflags: int, mode: int | None = None) -> bytes:
        got, reader = await self._call(
            FXP.OPEN, encode_string(path), pflags.to_bytes(4), encode_attrs(permissions=mode)
        )
        if got == FXP.HANDLE:
            return reader.string()
        if got != FXP.STATUS:
            raise SftpProtocolError(f"unexpected SFTP reply type {got}")
        status = self._status(reader)
        if status.code == FX.NO_SUCH_FILE:
            raise _oserror(await self._missing_parent_errno(path), path)
        failure = errno.EIO
        if status.code == FX.FAILURE:
            attrs = await self._lstat_or_none(path)
            if attrs is not None and attrs.kind == "dir":
                failure = errno.EISDIR
            elif attrs is not None and pflags & FXF.EXCL:
                failure = errno.EEXIST
            elif attrs is None:
                failure = await self._missing_parent_errno(path)
        self._raise_unless_ok(status, path, failure)
        raise SftpProtocolError("OPEN answered OK without a handle")

    async def _close_handle(self, handle: bytes) -> None:
        if self._closed is None:
            await self._expect_ok(FXP.CLOSE, "", encode_string(handle))

    async def close_handle(self, handle: bytes) -> None:
        """Close a handle of :meth:`open_read` (shielded; nothing to do once the channel
        has ended)."""
        with anyio.CancelScope(shield=True):
            await self._close_handle(handle)

    async def open_read(self, path: str) -> tuple[bytes, FileAttrs]:
        """A read handle on ``path`` and its attributes; ``EISDIR`` for a directory (which
        OpenSSH lets one open, to fail every read with a bare ``FAILURE``)."""
        handle = await self.open(path, FXF.READ)
        try:
            attrs = await self.fstat(handle, path)
            if attrs.kind == "dir":
                raise _oserror(errno.EISDIR, path)
        except BaseException:
            await self.close_handle(handle)
            raise
        return handle, attrs

    async def read_handle(
        self, handle: bytes, path: str, offset: int, length: int | None, size: int
    ) -> list[bytes | memoryview]:
        """Bytes at ``offset`` of a handle of :meth:`open_read` (to EOF when ``length`` is
        ``None``; ``size`` is the file's expected size, a hint for how many reads to have in
        flight), as the READ replies' data in order (join them for one ``bytes``)."""
        end = offset + length if length is not None else None
        hint = end if end is not None else max(size, offset)
        return await self._read_range(handle, path, offset, end, hint)

    async def read(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of ``path`` from ``offset`` (to EOF when ``length`` is ``None``)."""
        if length is not None and length <= 0:
            await self.stat(path)  # still report a missing file
            return b""
        handle, attrs = await self.open_read(path)
        try:
            return b"".join(await self.read_handle(handle, path, offset, length, attrs.size))
        finally:
            await self.close_handle(handle)

    async def _read_range(
        self, handle: bytes, path: str, offset: int, end: int | None, hint: int
    ) -> list[bytes | memoryview]:
        """Pipelined READs of ``[offset, end)``; with ``end=None`` up to EOF (``hint`` is the
        expected end: past it requests go one at a time until EOF)."""
        chunk = self.read_chunk
        pieces: list[tuple[int, bytes]] = []
        inflight: deque[tuple[int, int, _Pending]] = deque()
        next_offset = offset
        eof_at: int | None = None

        async def issue(at: int, size: int) -> None:
            waiter = await self._submit(
                FXP.READ, encode_string(handle), at.to_bytes(8), size.to_bytes(4)
            )
            inflight.append((at, size, waiter))

        def limit() -> int | None:
            return end if eof_at is None else (eof_at if end is None else min(end, eof_at))

        while True:
            stop = limit()
            window = WINDOW if next_offset < hint else 1
            while (
                len(inflight) < window and (stop is None or next_offset < stop) and eof_at is None
            ):
                size = chunk if stop is None else min(chunk, stop - next_offset)
                await issue(next_offset, size)
                next_offset += size
            if not inflight:
                break
            at, size, waiter = inflight.popleft()
            kind, reader = await self._result(waiter)
            if kind == FXP.DATA:
                data = reader.string()
                if data:
                    pieces.append((at, data))
                if 0 < len(data) < size:
                    await issue(at + len(data), size - len(data))
                elif not data:
                    eof_at = at if eof_at is None else min(eof_at, at)
            elif kind == FXP.STATUS:
                status = self._status(reader)
                if status.code != FX.EOF:
                    self._raise_unless_ok(status, path)
                eof_at = at if eof_at is None else min(eof_at, at)
            else:
                raise SftpProtocolError(f"unexpected SFTP reply type {kind}")
        pieces.sort(key=lambda piece: piece[0])
        stop = limit()
        out: list[bytes | memoryview] = []
        position = offset
        for at, piece in pieces:
            if stop is not None and at >= stop:
                break
            if at != position:
                raise SftpProtocolError("SFTP read left a gap")
            kept: bytes | memoryview = piece
            if stop is not None and at + len(piece) > stop:
                kept = memoryview(piece)[: stop - at]
            out.append(kept)
            position += len(kept)
        return out

    async def write(self, path: str, data: bytes, *, append: bool = False) -> None:
        pflags = FXF.WRITE | FXF.CREAT | (FXF.APPEND if append else FXF.TRUNC)
        handle = await self.open(path, pflags)
        try:
            # With APPEND, OpenSSH opens O_APPEND: offsets are ignored, the order is kept.
            await self._write_range(handle, path, 0, data)
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_handle(handle)

    async def write_at(self, path: str, offset: int, data: bytes, *, truncate: bool) -> None:
        handle = await self.open(path, FXF.WRITE | FXF.CREAT)
        try:
            if truncate:
                status = await self._expect_ok(
                    FXP.FSETSTAT, path, encode_string(handle), encode_attrs(size=offset)
                )
                self._raise_unless_ok(status, path)
            await self._write_range(handle, path, offset, data)
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_handle(handle)

    async def _write_range(self, handle: bytes, path: str, offset: int, data: bytes) -> None:
        chunk = self.write_chunk
        view = memoryview(data)
        inflight: deque[_Pending] = deque()
        encoded_handle = encode_string(handle)
        position = 0
        while position < len(data) or inflight:
            while position < len(data) and len(inflight) < WINDOW:
                piece = view[position : position + chunk]
                waiter = await self._submit(
                    FXP.WRITE,
                    encoded_handle,
                    (offset + position).to_bytes(8),
                    len(piece).to_bytes(4),
                    piece.tobytes(),
                )
                inflight.append(waiter)
                position += len(piece)
            kind, reader = await self._result(inflight.popleft())
            if kind != FXP.STATUS:
                raise SftpProtocolError(f"unexpected SFTP reply type {kind}")
            self._raise_unless_ok(self._status(reader), path)


def _oserror(number: int, path: str) -> OSError:
    return OSError(number, os.strerror(number), path)


def _status_error(number: int, message: str, path: str) -> OSError:
    """The local ``strerror`` text (as the host reports it: "No such file or directory",
    not OpenSSH's "No such file"), except for an unexplained failure (``EIO``), where the
    server's own message says more."""
    if number == errno.EIO and message:
        return OSError(number, message, path)
    return OSError(number, os.strerror(number), path)
