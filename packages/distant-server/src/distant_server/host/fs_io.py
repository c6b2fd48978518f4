"""Whole-file reads, atomic writes and appends: ``file_read``, ``file_read_text``,
``file_write``, ``file_write_text``, ``file_append``, ``file_append_text``.

**Writes are atomic** (DESIGN.md): the data goes to a temporary file in the target's
directory (``.<name>.distant-<random>``), which is fsynced, given the existing file's mode
(and owner, where allowed) and then renamed over the target. A failed or interrupted write
never truncates the target, and the temporary file is removed.

Details:

* A symlink is written through: the file it points to is replaced, the link stays.
* A new file gets mode ``0o666 & ~umask`` (the kernel applies the umask, as for any
  ``open(O_CREAT)``), exactly as upstream's ``fs::write``.
* Targets that are not regular files (``/dev/null``, a FIFO) are written in place, and so
  are existing files whose directory refuses new files (``/proc``, ``/sys``, or a directory
  the server may not write to although the file itself is writable): there the atomic
  route is impossible and upstream's plain write is what the user asked for.
* Renaming breaks hard links: the target path gets a new inode, as with any atomic save.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import decode_utf8

from .fs_util import in_worker, named, os_error, write_all

__all__ = ["FileIoOps", "append_file", "atomic_write", "read_file", "read_text"]

_OPEN_FLAGS = os.O_CLOEXEC
_TEMP_ATTEMPTS = 100
# Creating the temp file failed in a way that says "this directory takes no new files"
# although the target exists: fall back to writing the target in place.
_IN_PLACE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT, errno.EOPNOTSUPP})


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str) -> str:
    return decode_utf8(read_file(path), path)


def append_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, 0o666)
    try:
        write_all(fd, data)
    except OSError as exc:
        raise named(exc, path) from exc
    finally:
        os.close(fd)


def write_in_place(path: str, data: bytes, shown: str | None = None) -> None:
    """Upstream's plain ``fs::write`` (truncate, then write); errors name ``shown``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _OPEN_FLAGS, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise named(exc, shown or path) from exc


def _create_temp(parent: str, name: str) -> tuple[int, str]:
    """A new, empty temp file next to the target, created with mode 0o666 & ~umask."""
    # keep ".<stem>.distant-<8 hex>" within NAME_MAX (255 bytes)
    stem = os.fsdecode(os.fsencode(name)[:200])
    for _ in range(_TEMP_ATTEMPTS):
        temp = os.path.join(parent, f".{stem}.distant-{secrets.token_hex(4)}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o666)
        except FileExistsError:
            continue
        return fd, temp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", parent)


def atomic_write(path: str, data: bytes) -> None:
    """Replace the contents of ``path`` with ``data``, all or nothing (see the module doc)."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise named(exc, path) from exc
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            raise os_error(errno.EISDIR, path)
        if not stat.S_ISREG(existing.st_mode):
            write_in_place(target, data, path)
            return
    parent, name = os.path.split(target)
    if not name:  # "dir/": open(O_CREAT) of such a path fails the same way
        raise os_error(errno.EISDIR, path)
    try:
        fd, temp = _create_temp(parent or ".", name)
    except OSError as exc:
        if existing is not None and exc.errno in _IN_PLACE_ERRNOS:
            write_in_place(target, data, path)
            return
        raise named(exc, path) from exc
    try:
        try:
            if existing is not None:
                _copy_ownership_and_mode(fd, existing)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise named(exc, path) from exc
        raise


def _copy_ownership_and_mode(fd: int, existing: os.stat_result) -> None:
    """Give the temp file the replaced file's owner (when allowed) and permission bits."""
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) != (existing.st_uid, existing.st_gid):
        # Not ours to give away (not root, not the owner): the file keeps the writer's.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, existing.st_uid, existing.st_gid)
    # After chown, which clears set-id bits, so those survive too.
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))


class FileIoOps(Api):
    """Whole-file reads, atomic writes and appends."""

    async def file_read(self, ctx: ApiContext, req: rq.FileRead) -> rs.Blob:
        return rs.Blob(await in_worker(read_file, req.path))

    async def file_read_text(self, ctx: ApiContext, req: rq.FileReadText) -> rs.Text:
        return rs.Text(await in_worker(read_text, req.path))

    async def file_write(self, ctx: ApiContext, req: rq.FileWrite) -> rs.Ok:
        await in_worker(atomic_write, req.path, req.data)
        return rs.Ok()

    async def file_write_text(self, ctx: ApiContext, req: rq.FileWriteText) -> rs.Ok:
        data = req.text.encode("utf-8")
        await in_worker(atomic_write, req.path, data)
        return rs.Ok()

    async def file_append(self, ctx: ApiContext, req: rq.FileAppend) -> rs.Ok:
        await in_worker(append_file, req.path, req.data)
        return rs.Ok()

    async def file_append_text(self, ctx: ApiContext, req: rq.FileAppendText) -> rs.Ok:
        await in_worker(append_file, req.path, req.text.encode("utf-8"))
        return rs.Ok()
