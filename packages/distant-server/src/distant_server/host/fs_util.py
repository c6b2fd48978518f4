"""Small helpers shared by the host filesystem operations (``host/files.py``).

Everything here but :func:`in_worker` is blocking and meant to run in a worker thread
(through :func:`in_worker`). OS errors always carry the path the user asked about, so
the dispatcher's description names it (``No such file or directory: /tmp/x``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.to_thread

from distant_codec import FileType

__all__ = [
    "file_type_of",
    "in_worker",
    "named",
    "os_error",
    "pwrite_all",
    "renamed_errors",
    "write_all",
]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def in_worker(fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking call in a worker thread.

    If the request is cancelled (its connection closed, the server stopping) the task
    stops waiting at once: a call stuck in the kernel (a FIFO nobody writes, a hung network
    filesystem) must not hold up the connection's teardown. The call itself then finishes,
    or stays blocked, in its (daemon) thread; its result is dropped.
    """
    return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)


def os_error(code: int, path: str, path2: str | None = None) -> OSError:
    """An ``OSError`` of the right subclass (``FileNotFoundError``...) naming ``path``."""
    if path2 is None:
        return OSError(code, os.strerror(code), path)
    return OSError(code, os.strerror(code), path, None, path2)


def named(exc: OSError, path: str) -> OSError:
    """``exc`` naming ``path`` (and nothing else), e.g. for errors about a temp file."""
    return os_error(exc.errno, path) if exc.errno is not None else exc


@contextmanager
def renamed_errors(path: str) -> Iterator[None]:
    """Re-raise OS errors that name no path, or another path, as errors about ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename == path and exc.filename2 is None:
            raise
        raise named(exc, path) from exc


def file_type_of(mode: int) -> FileType:
    """Upstream's mapping: a directory, a regular file, or else ``symlink`` (which also
    covers sockets, FIFOs and devices, as distant's host server reports them)."""
    if stat.S_ISDIR(mode):
        return FileType.DIR
    if stat.S_ISREG(mode):
        return FileType.FILE
    return FileType.SYMLINK


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte is written (writes can be partial)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - a regular file never accepts zero bytes
            raise OSError(errno.EIO, "write returned zero")
        view = view[written:]


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """``os.pwrite`` until every byte is written at ``offset``."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:  # pragma: no cover
            raise OSError(errno.EIO, "pwrite returned zero")
        view = view[written:]
        offset += written
