"""The ssh Api's file operations, over SFTP (and a shell command where one does it
better: recursive ``remove``, ``copy``, ``file_checksum``). Semantics follow the host's
(``distant_server/host/fs_*.py``, ``dir_read.py``, ``metadata.py``, ``permissions.py``,
``ranges.py``); the differences SFTP forces are:

* atomic writes keep the replaced file's mode but not its owner (SFTP v3 has no
  ``fchown`` by name for us: the new file belongs to the ssh user);
* ``metadata.created`` is never known (SFTP v3 has no birth time);
* a path SFTP cannot name as UTF-8 is reported as the server sent it (decoded with
  ``surrogateescape``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import posixpath
import secrets
import shlex
import stat
from typing import Protocol, cast, runtime_checkable

import anyio

from distant_codec import (
    BinParts,
    DirEntry,
    Error,
    ErrorKind,
    FileType,
    Metadata,
    Permissions,
    SetPermissionsOptions,
    UnixMetadata,
)
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server import (
    MAX_RANGE_LENGTH,
    Api,
    ApiContext,
    ApiError,
    ReplyBudget,
    check_offset,
    check_sha256,
    decode_utf8,
    error_from_exception,
)

from .session import FileAttrs, SshSession

__all__ = ["SshFileOps", "atomic_write"]

CHECKSUM_READ_SIZE = 4 * 1024 * 1024
_IN_PLACE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTSUP})
_ALL_BITS = (
    "owner_read", "owner_write", "owner_exec",
    "group_read", "group_write", "group_exec",
    "other_read", "other_write", "other_exec",
)  # fmt: skip


def os_error(code: int, path: str, path2: str | None = None) -> OSError:
    if path2 is None:
        return OSError(code, errno_text(code), path)
    return OSError(code, errno_text(code), path, None, path2)


def errno_text(code: int) -> str:
    import os

    return os.strerror(code)


def named(exc: OSError, path: str) -> OSError:
    return OSError(exc.errno, exc.strerror, path) if exc.errno is not None else exc


def file_type(attrs: FileAttrs) -> FileType:
    """The host's mapping: dir, file, else symlink (also sockets, FIFOs, devices)."""
    if attrs.kind == "dir":
        return FileType.DIR
    if attrs.kind == "file":
        return FileType.FILE
    return FileType.SYMLINK


def command_error(what: str, path: str, err: bytes) -> ApiError:
    """A failed shell command's stderr as an error of the likeliest kind."""
    text = err.decode("utf-8", "replace").strip().splitlines()
    line = text[-1] if text else f"{what} failed"
    lowered = line.lower()
    kind = ErrorKind.OTHER
    if "no such file" in lowered:
        kind = ErrorKind.NOT_FOUND
    elif "permission denied" in lowered or "not permitted" in lowered:
        kind = ErrorKind.PERMISSION_DENIED
    elif "exists" in lowered:
        kind = ErrorKind.ALREADY_EXISTS
    return ApiError(kind, f"{line}: {path}" if path not in line else line)


async def _stat_or_none(session: SshSession, path: str) -> FileAttrs | None:
    try:
        return await session.stat(path)
    except FileNotFoundError:
        return None


async def resolve_link(session: SshSession, path: str) -> str:
    """Where the symlink ``path`` points (its final target, even if missing)."""
    try:
        return await session.realpath(path)
    except OSError:
        target = await session.readlink(path)
        return posixpath.normpath(posixpath.join(posixpath.dirname(path), target))


async def atomic_write(session: SshSession, path: str, data: bytes) -> None:
    """Replace ``path``'s contents all or nothing: a temp file next to it, then rename."""
    target = path
    try:
        if (await session.lstat(path)).kind == "symlink":
            target = await resolve_link(session, path)
    except FileNotFoundError:
        pass
    existing = await _stat_or_none(session, target)
    if existing is not None:
        if existing.kind == "dir":
            raise os_error(errno.EISDIR, path)
        if existing.kind != "file":
            await session.write(target, data)
            return
    parent, name = posixpath.split(target)
    if not name:
        raise os_error(errno.EISDIR, path)
    stem = name.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "ignore")
    temp = posixpath.join(parent, f".{stem}.distant-{secrets.token_hex(8)}")
    try:
        await session.write(temp, data)
    except OSError as exc:
        if existing is not None and exc.errno in _IN_PLACE_ERRNOS:
            await session.write(target, data)
            return
        raise named(exc, path) from exc
    try:
        if existing is not None:
            await session.chmod(temp, stat.S_IMODE(existing.permissions))
        await session.rename(temp, target)
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(OSError):
                await session.remove(temp)
        if isinstance(exc, OSError):
            raise named(exc, path) from exc
        raise


@runtime_checkable
class PartsReader(Protocol):
    """A session that can hand a range over as the blocks it arrived in (both backends):
    the reply's packing then copies them once, straight into its frame
    (:class:`~distant_codec.envelope.BinParts`), instead of a join and then that copy."""

    async def read_parts(self, path: str, offset: int, length: int) -> BinParts: ...


def _at_eof(attrs: FileAttrs, offset: int, got: int, want: int) -> bool:
    """The host's ``eof`` rule (``distant_server.host.ranges._at_eof``) on SFTP attributes."""
    if got < want:
        return True
    if attrs.kind != "file" or (attrs.size == 0 and want > 0):
        return False
    return offset + got >= attrs.size


def _new_mode(perms: Permissions, current: int) -> int:
    if all(getattr(perms, name) is not None for name in _ALL_BITS):
        return perms.to_mode()
    return perms.apply_to(stat.S_IMODE(current))


class SshFileOps(Api):
    """Files and directories over SFTP."""

    session: SshSession
    has_shell: bool = True
    has_sha256sum: bool = False

    # -- whole files ----------------------------------------------------------------------

    async def file_read(self, ctx: ApiContext, req: rq.FileRead) -> rs.Blob:
        return rs.Blob(await self.session.read(req.path))

    async def file_read_text(self, ctx: ApiContext, req: rq.FileReadText) -> rs.Text:
        return rs.Text(decode_utf8(await self.session.read(req.path), req.path))

    async def file_write(self, ctx: ApiContext, req: rq.FileWrite) -> rs.Ok:
        await atomic_write(self.session, req.path, bytes(req.data))
        return rs.Ok()

    async def file_write_text(self, ctx: ApiContext, req: rq.FileWriteText) -> rs.Ok:
        await atomic_write(self.session, req.path, req.text.encode("utf-8"))
        return rs.Ok()

    async def file_append(self, ctx: ApiContext, req: rq.FileAppend) -> rs.Ok:
        await self.session.write(req.path, bytes(req.data), append=True)
        return rs.Ok()

    async def file_append_text(self, ctx: ApiContext, req: rq.FileAppendText) -> rs.Ok:
        await self.session.write(req.path, req.text.encode("utf-8"), append=True)
        return rs.Ok()

    # -- directories ----------------------------------------------------------------------

    async def dir_read(self, ctx: ApiContext, req: rq.DirRead) -> rs.DirEntries:
        session = self.session
        root_attrs = await session.stat(req.path)
        root = await session.realpath(req.path)
        entries: list[DirEntry] = []
        errors: list[Error] = []
        if req.include_root:
            entries.append(DirEntry(root, file_type(root_attrs), 0))
        if root_attrs.kind != "dir":
            return rs.DirEntries(tuple(entries), ())
        max_depth = req.depth or None
        prefix = root if root.endswith("/") else root + "/"

        async def listing(directory: str) -> list[tuple[str, FileAttrs]]:
            found = await session.listdir(directory)
            return sorted(found, key=lambda e: e[0].encode("utf-8", "surrogateescape"))

        try:
            first = await listing(root)
        except OSError as exc:
            raise named(exc, req.path) from exc
        stack: list[tuple[str, list[tuple[str, FileAttrs]], int]] = [(root, first, 1)]
        while stack:
            directory, children, level = stack[-1]
            if not children:
                stack.pop()
                continue
            name, attrs = children.pop(0)
            full = posixpath.join(directory, name)
            out = full
            if req.canonicalize:
                try:
                    await session.stat(full)
                    out = await session.realpath(full)
                except OSError as exc:
                    errors.append(error_from_exception(exc))
                    out = ""
            if out:
                if not req.absolute and out.startswith(prefix):
                    out = out[len(prefix) :]
                entries.append(DirEntry(out, file_type(attrs), level))
            if attrs.kind == "dir" and (max_depth is None or level < max_depth):
                try:
                    grandchildren = await listing(full)
                except OSError as exc:
                    errors.append(error_from_exception(exc))
                    continue
                stack.append((full, grandchildren, level + 1))
        return rs.DirEntries(tuple(entries), tuple(errors))

    async def _mkdir_all(self, path: str) -> None:
        try:
            await self.session.mkdir(path)
            return
        except FileExistsError:
            if (await self.session.stat(path)).kind == "dir":
                return
            raise
        except FileNotFoundError:
            parent = posixpath.dirname(path.rstrip("/"))
            if not parent or parent == path:
                raise
        await self._mkdir_all(parent)
        try:
            await self.session.mkdir(path)
        except FileExistsError:
            if (await self.session.stat(path)).kind != "dir":
                raise

    async def dir_create(self, ctx: ApiContext, req: rq.DirCreate) -> rs.Ok:
        if req.all:
            await self._mkdir_all(req.path)
        else:
            await self.session.mkdir(req.path)
        return rs.Ok()

    async def _remove_tree(self, path: str) -> None:
        """SFTP fallback of ``rm -rf`` (no shell)."""
        for name, attrs in await self.session.listdir(path):
            child = posixpath.join(path, name)
            if attrs.kind == "dir":
                await self._remove_tree(child)
            else:
                await self.session.remove(child)
        await self.session.rmdir(path)

    async def remove(self, ctx: ApiContext, req: rq.Remove) -> rs.Ok:
        attrs = await self.session.lstat(req.path)
        if attrs.kind != "dir":
            await self.session.remove(req.path)
        elif not req.force:
            await self.session.rmdir(req.path)
        elif self.has_shell:
            code, _out, err = await self.session.run(f"rm -rf -- {shlex.quote(req.path)}")
            if code != 0:
                raise command_error("rm", req.path, err)
        else:
            await self._remove_tree(req.path)
        return rs.Ok()

    async def copy(self, ctx: ApiContext, req: rq.Copy) -> rs.Ok:
        session = self.session
        src_attrs = await session.stat(req.src)
        if src_attrs.kind == "dir":
            real_src = await session.realpath(req.src)
            dst_attrs = await _stat_or_none(session, req.dst)
            real_dst = await session.realpath(req.dst) if dst_attrs is not None else None
            if real_dst is None:
                parent = await _stat_or_none(session, posixpath.dirname(req.dst) or ".")
                if parent is not None:
                    base = await session.realpath(posixpath.dirname(req.dst) or ".")
                    real_dst = posixpath.join(base, posixpath.basename(req.dst))
            if real_dst is not None and (
                real_dst == real_src or real_dst.startswith(real_src.rstrip("/") + "/")
            ):
                raise ApiError(
                    ErrorKind.INVALID_INPUT,
                    f"cannot copy a directory into itself: {req.src} -> {req.dst}",
                )
            src, dst = shlex.quote(req.src.rstrip("/") + "/."), shlex.quote(req.dst)
            command = f"mkdir -p -- {dst} && cp -RL -- {src} {dst}"
        else:
            dst_attrs = await _stat_or_none(session, req.dst)
            if dst_attrs is not None and dst_attrs.kind == "dir":
                raise os_error(errno.EISDIR, req.dst)
            if not self.has_shell:
                data = await session.read(req.src)
                await session.write(req.dst, data)
                await session.chmod(req.dst, stat.S_IMODE(src_attrs.permissions))
                return rs.Ok()
            command = f"cp -L -- {shlex.quote(req.src)} {shlex.quote(req.dst)}"
        code, _out, err = await session.run(command)
        if code != 0:
            raise command_error("cp", req.src, err)
        if src_attrs.kind != "dir":
            await session.chmod(req.dst, stat.S_IMODE(src_attrs.permissions))
        return rs.Ok()

    async def rename(self, ctx: ApiContext, req: rq.Rename) -> rs.Ok:
        await self.session.rename(req.src, req.dst)
        return rs.Ok()

    async def exists(self, ctx: ApiContext, req: rq.Exists) -> rs.Exists:
        try:
            await self.session.stat(req.path)
        except (FileNotFoundError, NotADirectoryError):
            return rs.Exists(False)
        return rs.Exists(True)

    # -- metadata and permissions ---------------------------------------------------------

    async def metadata(self, ctx: ApiContext, req: rq.Metadata) -> Metadata:
        attrs = await self.session.lstat(req.path)
        canonical: str | None = None
        if req.canonicalize:
            await self.session.stat(req.path)
            canonical = await self.session.realpath(req.path)
        kind_attrs = attrs
        if req.resolve_file_type and attrs.kind == "symlink":
            kind_attrs = await self.session.stat(req.path)
        return Metadata(
            canonicalized_path=canonical,
            file_type=file_type(kind_attrs),
            len=attrs.size,
            readonly=(attrs.permissions & 0o222) == 0,
            accessed=attrs.atime if attrs.atime is not None and attrs.atime >= 0 else None,
            created=None,
            modified=attrs.mtime if attrs.mtime is not None and attrs.mtime >= 0 else None,
            unix=UnixMetadata.from_mode(attrs.permissions),
        )

    async def _chmod(self, path: str, perms: Permissions) -> None:
        attrs = await self.session.stat(path)
        mode = _new_mode(perms, attrs.permissions)
        if mode != stat.S_IMODE(attrs.permissions):
            await self.session.chmod(path, mode)

    async def set_permissions(self, ctx: ApiContext, req: rq.SetPermissions) -> rs.Ok:
        await self._set_permissions(req.path, req.permissions, req.options)
        return rs.Ok()

    async def _set_permissions(
        self, path: str, perms: Permissions, options: SetPermissionsOptions
    ) -> None:
        session = self.session
        if options.follow_symlinks:
            await session.stat(path)
            path = await session.realpath(path)
        root_is_link = (await session.lstat(path)).kind == "symlink"
        failures: list[OSError] = []
        if not (root_is_link and options.exclude_symlinks):
            try:
                await self._chmod(path, perms)
            except OSError as exc:
                failures.append(exc)
        if options.recursive and not root_is_link and (await session.stat(path)).kind == "dir":
            seen = {await session.realpath(path)}
            pending = [path]
            while pending:
                directory = pending.pop()
                try:
                    children = await session.listdir(directory)
                except OSError as exc:
                    failures.append(exc)
                    continue
                for name, attrs in children:
                    child = posixpath.join(directory, name)
                    is_link = attrs.kind == "symlink"
                    if is_link and not options.follow_symlinks:
                        continue
                    is_dir = attrs.kind == "dir"
                    if is_link:
                        try:
                            is_dir = (await session.stat(child)).kind == "dir"
                        except OSError as exc:
                            failures.append(exc)
                            continue
                    if not (is_link and options.exclude_symlinks):
                        try:
                            await self._chmod(child, perms)
                        except OSError as exc:
                            failures.append(exc)
                    if is_dir:
                        real = await session.realpath(child) if is_link else child
                        if real not in seen:
                            seen.add(real)
                            pending.append(child)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            first = error_from_exception(failures[0])
            lines = "\n".join(f"* {error_from_exception(e).description}" for e in failures)
            raise ApiError(first.kind, lines)

    # -- fs_range -------------------------------------------------------------------------

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> ex.FileChunk:
        check_offset(req.offset, req.path)
        want = min(req.length, MAX_RANGE_LENGTH)
        budget = ctx.connection.resource(ReplyBudget)
        await budget.acquire(want)
        try:
            data, eof = await self._read_chunk(req.path, req.offset, want)
        except BaseException:
            budget.release(want)
            raise

        async def give_back() -> None:
            budget.release(want)

        ctx.after_reply(give_back)
        digest = None
        if req.checksum:
            hasher = hashlib.sha256()
            for part in data.parts if isinstance(data, BinParts) else (data,):
                hasher.update(part)
            digest = hasher.hexdigest()
        field = data.as_field() if isinstance(data, BinParts) else data
        return ex.FileChunk(req.offset, field, eof, digest)

    async def _read_chunk(self, path: str, offset: int, want: int) -> tuple[bytes | BinParts, bool]:
        """``want`` bytes at ``offset`` and the host's ``eof`` for them
        (``distant_server.host.ranges``), mostly without a stat.

        One byte more than asked is read: when it comes back, the file goes on (``eof``
        false, as the host says for any full read that does not reach a regular file's
        size); a read shorter than ``want`` ends the file (true, as the host says for any
        short read). Only a read of exactly ``want`` bytes, or ``want == 0``, needs the stat
        to tell (true at the end of a regular file; false for ``/proc``-like files of size 0
        and for non-regular files). A failed read needs none: the backends already turn a
        generic SFTP failure on a directory into ``EISDIR`` (the host's ``_open_file``
        check), and otherwise the read's error is the host's too (``test_api_ranges.py``
        compares the two answer for answer).

        A full read is returned as a view of all but its last byte, not a copy: the reply's
        packing (``Response.to_bytes``) copies it once into the frame anyway. A session that
        can (:class:`PartsReader`) gives the SFTP blocks unjoined, so that packing is the
        only copy.
        """
        session = self.session
        data: bytes | BinParts = b""
        if want and isinstance(session, PartsReader):
            data = await session.read_parts(path, offset, want + 1)
        elif want:
            data = await session.read(path, offset, want + 1)
        got = len(data)
        if got > want:
            if isinstance(data, BinParts):
                return data.prefix(want), False
            return cast(bytes, memoryview(data)[:want]), False
        if got < want:
            return data, True
        attrs = await self.session.stat(path)
        if attrs.kind == "dir":
            raise os_error(errno.EISDIR, path)
        return data, _at_eof(attrs, offset, got, want)

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> rs.Ok:
        check_offset(req.offset, req.path)
        data = bytes(req.data)
        check_sha256(data, req.sha256, req.path)
        await self.session.write_at(req.path, req.offset, data, truncate=req.truncate)
        return rs.Ok()

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> ex.Checksum:
        attrs = await self.session.stat(req.path)
        if attrs.kind == "dir":
            raise os_error(errno.EISDIR, req.path)
        if self.has_sha256sum and attrs.kind == "file":
            code, out, _err = await self.session.run(f"sha256sum -- {shlex.quote(req.path)}")
            fields = out.split()
            if code == 0 and fields:
                digest = fields[0].lstrip(b"\\").decode("ascii", "replace")
                if len(digest) == 64:
                    return ex.Checksum(digest, attrs.size)
        hasher = hashlib.sha256()
        offset = 0
        while True:
            chunk = await self.session.read(req.path, offset, CHECKSUM_READ_SIZE)
            if not chunk:
                break
            hasher.update(chunk)
            offset += len(chunk)
            if len(chunk) < CHECKSUM_READ_SIZE:
                break
        return ex.Checksum(hasher.hexdigest(), offset)
