"""Tar helpers for the Docker archive API, and the path stat it reports.

``GET /containers/{id}/archive`` answers a tar of a path (a file, or a directory tree) and
its ``X-Docker-Container-Path-Stat`` header: ``{name, size, mode, mtime, linkTarget}``, where
``mode`` is Go's ``os.FileMode`` (type bits at the top, permission bits at the bottom) and
``linkTarget`` the absolute path a symlink resolves to. ``PUT`` extracts a tar into a
directory, which is how files and directories are written without any tool in the container.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from distant_codec import FileType

__all__ = [
    "PathStat",
    "parse_stat_header",
    "file_tar",
    "dirs_tar",
    "single_member",
    "ChunkReader",
    "tar_entries",
]

# Go's os.FileMode type bits.
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_DEVICE = 1 << 26
_MODE_PIPE = 1 << 25
_MODE_SOCKET = 1 << 24
_MODE_SETUID = 1 << 23
_MODE_SETGID = 1 << 22
_MODE_CHARDEV = 1 << 21
_MODE_STICKY = 1 << 20
_MODE_IRREGULAR = 1 << 19
_NOT_REGULAR = _MODE_DIR | _MODE_SYMLINK | _MODE_DEVICE | _MODE_PIPE | _MODE_SOCKET
_NOT_REGULAR |= _MODE_CHARDEV | _MODE_IRREGULAR


@dataclass(frozen=True, slots=True)
class PathStat:
    """What the engine says about a path (the path itself: links are not followed)."""

    name: str
    size: int
    mode: int
    mtime: str
    link_target: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _MODE_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & _MODE_SYMLINK)

    @property
    def is_file(self) -> bool:
        return not self.mode & _NOT_REGULAR

    @property
    def file_type(self) -> FileType:
        """dir, file, or symlink (other kinds count as symlink, as upstream's host does)."""
        if self.is_dir:
            return FileType.DIR
        if self.is_file:
            return FileType.FILE
        return FileType.SYMLINK

    @property
    def permissions(self) -> int:
        """The Unix mode bits: permissions plus setuid/setgid/sticky."""
        bits = self.mode & 0o777
        if self.mode & _MODE_SETUID:
            bits |= 0o4000
        if self.mode & _MODE_SETGID:
            bits |= 0o2000
        if self.mode & _MODE_STICKY:
            bits |= 0o1000
        return bits

    @property
    def modified(self) -> int | None:
        """``mtime`` (RFC 3339, nanoseconds) as whole Unix seconds."""
        text = self.mtime
        if not text:
            return None
        try:  # the engine reports UTC: "2024-01-02T03:04:05.123456789Z"
            stamp = datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
        except ValueError:
            return None
        seconds = int(stamp.timestamp())
        return seconds if seconds >= 0 else None


def parse_stat_header(value: str) -> PathStat:
    """Decode ``X-Docker-Container-Path-Stat`` (base64 JSON)."""
    data = json.loads(base64.b64decode(value))
    return PathStat(
        name=str(data.get("name", "")),
        size=int(data.get("size", 0)),
        mode=int(data.get("mode", 0)),
        mtime=str(data.get("mtime", "")),
        link_target=str(data.get("linkTarget", "")),
    )


def file_tar(name: str, data: bytes, mode: int = 0o644) -> bytes:
    """A tar holding one regular file ``name`` (owned by root, modified now)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def dirs_tar(names: Iterable[str], mode: int = 0o755) -> bytes:
    """A tar holding the directories ``names`` (parents first)."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            info.mtime = now
            tar.addfile(info)
    return buf.getvalue()


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the SDK's streamed body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def single_member(chunks: Iterable[bytes]) -> tuple[tarfile.TarInfo, bytes]:
    """The first member of a streamed tar and, for a regular file, its contents."""
    reader = io.BufferedReader(ChunkReader(chunks), 1 << 16)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isreg() else None
            return info, (f.read() if f is not None else b"")
    raise FileNotFoundError("empty archive")


def tar_entries(chunks: Iterable[bytes]) -> Iterator[tarfile.TarInfo]:
    """Every member of a streamed tar (contents skipped, never held)."""
    reader = io.BufferedReader(ChunkReader(chunks), 1 << 16)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        yield from tar
