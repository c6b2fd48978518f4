"""``metadata``: what upstream's host server reports about a path.

* The path itself is examined (``lstat``): a symlink reports ``file_type: symlink``, its own
  length and times, unless ``resolve_file_type``, which replaces only the file type by its
  target's.
* ``canonicalize`` adds ``canonicalized_path`` (``realpath``; the path must resolve).
* ``readonly`` is Rust's ``Permissions::readonly`` on Unix: no write bit for anyone
  (``mode & 0o222 == 0``).
* ``accessed``/``modified`` are whole Unix seconds (omitted for times before 1970).
  ``created`` is the birth time: ``st_birthtime`` where Python has it (BSD, macOS), else
  Linux ``statx(STATX_BTIME)`` as Rust does; omitted when the filesystem does not record it
  (e.g. ``/proc``).
* ``unix`` carries the nine permission bits; ``windows`` is never sent.
"""

from __future__ import annotations

import ctypes
import functools
import os
import stat
import struct
import sys
import threading
from typing import Any

from distant_codec import Metadata, UnixMetadata
from distant_codec import requests as rq
from distant_server.api import Api
from distant_server.context import ApiContext

from .fs_util import file_type_of

__all__ = ["MetadataOps", "birth_time", "read_metadata"]

_NS = 1_000_000_000


def _seconds(ns: int) -> int | None:
    return ns // _NS if ns >= 0 else None


# -- Linux statx (glibc >= 2.28) -------------------------------------------------------

_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_BTIME = 0x800
_STATX_SIZE = 256  # sizeof(struct statx)
_STATX_BTIME_OFFSET = 80  # stx_btime: struct statx_timestamp {s64 tv_sec; u32 tv_nsec; ...}


@functools.cache
def _load_statx() -> Any:
    """libc's ``statx``, or None (not Linux, or a libc without it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


_statx_buffers = threading.local()
_U32 = struct.Struct("=I")
_I64 = struct.Struct("=q")


def birth_time(path: str, st: os.stat_result) -> int | None:
    """The birth time of ``path`` itself (links not followed) in Unix seconds, if known."""
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        return int(birth) if birth >= 0 else None
    statx = _load_statx()
    if statx is None:
        return None
    buf = getattr(_statx_buffers, "buf", None)
    if buf is None:  # one buffer per thread, reused: this runs on every metadata request
        buf = _statx_buffers.buf = ctypes.create_string_buffer(_STATX_SIZE)
    if statx(_AT_FDCWD, os.fsencode(path), _AT_SYMLINK_NOFOLLOW, _STATX_BTIME, buf) != 0:
        return None
    mask: int = _U32.unpack_from(buf, 0)[0]
    if not mask & _STATX_BTIME:
        return None
    seconds: int = _I64.unpack_from(buf, _STATX_BTIME_OFFSET)[0]
    return seconds if seconds >= 0 else None


def read_metadata(path: str, canonicalize: bool, resolve_file_type: bool) -> Metadata:
    st = os.lstat(path)
    canonical: str | None = None
    if canonicalize:
        os.stat(path)  # a broken or looping link fails here, naming the path
        canonical = os.path.realpath(path)
    mode_for_type = st.st_mode
    if resolve_file_type and stat.S_ISLNK(st.st_mode):
        mode_for_type = os.stat(path).st_mode
    return Metadata(
        canonicalized_path=canonical,
        file_type=file_type_of(mode_for_type),
        len=st.st_size,
        readonly=(st.st_mode & 0o222) == 0,
        accessed=_seconds(st.st_atime_ns),
        created=birth_time(path, st),
        modified=_seconds(st.st_mtime_ns),
        unix=UnixMetadata.from_mode(st.st_mode),
    )


class MetadataOps(Api):
    """``metadata``."""

    async def metadata(self, ctx: ApiContext, req: rq.Metadata) -> Metadata:
        # Inline, not in a worker thread: a stat takes microseconds, the thread hop about
        # 100 us (far more under load). The price: a hung network mount would stall the
        # event loop for as long as its stat does.
        return read_metadata(req.path, req.canonicalize, req.resolve_file_type)
