"""``distant copy SRC DST [-r]``: files and directories between this machine and the
server (§12.2). The remote side is the one prefixed with ``:``; a bare ``:`` is the
server's current directory. As with ``cp``/``scp``, a destination that is an existing
directory receives the source inside it.

Transfers stream through the ``fs_range`` extension when the server advertises it:
pipelined chunks of :data:`CHUNK_SIZE`, at most :data:`WINDOW` in flight, so memory stays
constant whatever the file size. Both sides appear atomically: a download is written to a
temporary file next to the destination and renamed over it; an upload is written to a
temporary remote name and renamed by the server. Servers without the extension (a Rust
server) get whole-file ``file_read``/``file_write``, as upstream does.

A progress line is drawn on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import stat
import sys
import tempfile
import time
from dataclasses import dataclass

from distant_cli.commands.formatting import format_bytes
from distant_cli.commands.remote import Remote, RemoteError, check, cli_errors
from distant_cli.errors import CliError
from distant_cli.session import Globals
from distant_codec import Error, FileType, SystemInfo, Version, extensions, requests, responses

__all__ = ["copy", "CHUNK_SIZE", "WINDOW", "parse_transfer_paths", "Transfer"]

CHUNK_SIZE = 2 * 1024 * 1024
"""Bytes per ranged request."""

WINDOW = 6
"""Ranged requests in flight at once."""

USE_RANGES = True
"""Use the ``fs_range`` extension when the server has it (tests turn it off)."""

WHOLE_FILE_LIMIT = 12 * 1024 * 1024
"""Without ``fs_range``: the largest file moved in one ``file_read``/``file_write`` (a frame
holds at most 16 MiB). Larger uploads go as ``file_write`` + ``file_append`` chunks to a
temporary name, larger downloads stream through ``cat`` on a Unix server."""


@dataclass(frozen=True)
class Transfer:
    """A parsed ``copy``: which side is remote and the two paths."""

    upload: bool
    local: str
    remote: str


def parse_transfer_paths(src: str, dst: str) -> Transfer:
    """Exactly one of ``src``/``dst`` must be remote (``:`` prefix)."""
    src_remote, dst_remote = src.startswith(":"), dst.startswith(":")
    if src_remote and dst_remote:
        raise CliError("Both paths are remote. Use `distant fs copy` for remote-to-remote copies")
    if not src_remote and not dst_remote:
        raise CliError(
            "Both paths are local. Use your system's cp command, or prefix a remote path with `:`"
        )
    if dst_remote:
        return Transfer(True, src, dst[1:])
    return Transfer(False, dst, src[1:])


def _file_name(path: str) -> str:
    """The last component of a local or remote path (either separator)."""
    trimmed = path.rstrip("/\\") or path
    name = trimmed.replace("\\", "/").rsplit("/", 1)[-1]
    return name or trimmed


def _join(base: str, rel: str, sep: str) -> str:
    if base.endswith((sep, "/")):
        return base + rel
    return f"{base}{sep}{rel}"


# -- progress --------------------------------------------------------------------------------


class Progress:
    """A one-line progress report on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.files = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def start(self, label: str, total: int | None) -> None:
        self.label, self.total = label, total
        self.draw(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self.draw()

    def draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-6)
        text = f"{self.label} {format_bytes(self.done)}"
        if self.total:
            text += f" / {format_bytes(self.total)} ({min(100, self.done * 100 // self.total)}%)"
        text += f"  {format_bytes(int(self.done / elapsed))}/s"
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()

    def finish(self, message: str) -> None:
        if not self.enabled:
            return
        sys.stderr.write(f"\r\x1b[2K{message}\n")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


# -- the engine ------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


class _Copier:
    def __init__(self, remote: Remote, info: SystemInfo, ranged: bool, progress: Progress) -> None:
        self.remote = remote
        self.sep = info.main_separator or "/"
        self.cwd = info.current_dir
        self.unix = info.family.lower() != "windows"
        self.ranged = ranged
        self.progress = progress
        self.umask = _umask()

    # -- remote helpers --------------------------------------------------------------------

    def remote_metadata(self, path: str) -> responses.Metadata | None:
        reply = self.remote.batch([requests.Metadata(path, False, True)])[0]
        return None if isinstance(reply, Error) else reply

    def remote_is_dir(self, path: str) -> bool:
        meta = self.remote_metadata(path)
        return meta is not None and meta.file_type == FileType.DIR

    # -- uploads ---------------------------------------------------------------------------

    def upload(self, local: str, remote: str, recursive: bool) -> None:
        remote = remote or self.cwd
        try:
            st = os.stat(local)
        except OSError as exc:
            raise CliError(f"Failed to read {local}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            if not recursive:
                raise CliError(f"{local} is a directory (use -r to copy recursively)")
            self.upload_dir(local, remote)
            return
        if self.remote_is_dir(remote):
            remote = _join(remote, _file_name(local), self.sep)
        self.progress.start(f"Uploading {_file_name(local)}", st.st_size)
        self.upload_file(local, remote, st.st_size)
        self.progress.finish(f"Uploaded {_file_name(local)} ({format_bytes(self.progress.done)})")

    def upload_file(self, local: str, remote: str, size: int) -> None:
        try:
            fd = os.open(local, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise CliError(f"Failed to read {local}: {exc.strerror or exc}") from None
        try:
            if size <= (CHUNK_SIZE if self.ranged else WHOLE_FILE_LIMIT):
                data = _read_all(fd, local)
                try:
                    self.remote.call(requests.FileWrite(remote, data))
                except RemoteError as exc:
                    raise CliError(f"Failed to write remote file {remote}: {exc}") from None
                self.progress.advance(len(data))
            elif self.ranged:
                self._upload_ranged(fd, local, remote)
            else:
                self._upload_appending(fd, local, remote)
        finally:
            os.close(fd)

    def _remote_temp(self, remote: str) -> str:
        """A temporary name next to ``remote``."""
        folder, _, name = remote.rpartition(self.sep)
        temp_name = f".{name}.distant-{secrets.token_hex(6)}.part"
        if folder or remote.startswith(self.sep):
            return f"{folder}{self.sep}{temp_name}"
        return temp_name

    def _upload_appending(self, fd: int, local: str, remote: str) -> None:
        """Without ``fs_range``: ``file_write`` then ``file_append`` chunks, one at a time
        (appends must land in order), to a temporary name renamed at the end."""
        temp = self._remote_temp(remote)
        created = False
        try:
            offset = 0
            while True:
                data = _pread(fd, CHUNK_SIZE, offset, local)
                if offset and not data:
                    break
                request = (
                    requests.FileAppend(temp, data) if created else requests.FileWrite(temp, data)
                )
                try:
                    self.remote.call(request)
                except RemoteError as exc:
                    raise CliError(f"Failed to write remote file {remote}: {exc}") from None
                created = True
                offset += len(data)
                self.progress.advance(len(data))
                if len(data) < CHUNK_SIZE:
                    break
            try:
                self.remote.call(requests.Rename(temp, remote))
            except RemoteError as exc:
                raise CliError(f"Failed to write remote file {remote}: {exc}") from None
            created = False
        finally:
            if created:
                self._abandon({}, temp)

    def _upload_ranged(self, fd: int, local: str, remote: str) -> None:
        temp = self._remote_temp(remote)
        pending: dict[str, int] = {}
        created = False
        try:
            # The first chunk creates (and truncates) the file on its own: later chunks are
            # written concurrently by the server and must not race the truncation.
            first = _pread(fd, CHUNK_SIZE, 0, local)
            self.remote.call(extensions.FileWriteRange(temp, 0, first, True))
            created = True
            self.progress.advance(len(first))
            offset = len(first)
            eof = len(first) < CHUNK_SIZE
            while not eof or pending:
                while not eof and len(pending) < WINDOW:
                    data = _pread(fd, CHUNK_SIZE, offset, local)
                    if not data:
                        eof = True
                        break
                    rid = self.remote.send_one(extensions.FileWriteRange(temp, offset, data))
                    pending[rid] = len(data)
                    offset += len(data)
                if not pending:
                    break
                origin, msg = self.remote.receive()
                n = pending.pop(origin, None)
                if n is None:
                    continue
                try:
                    check(msg.items[0])
                except RemoteError as exc:
                    raise CliError(f"Failed to write remote file {remote}: {exc}") from None
                self.progress.advance(n)
            try:
                self.remote.call(requests.Rename(temp, remote))
            except RemoteError as exc:
                raise CliError(f"Failed to write remote file {remote}: {exc}") from None
            created = False
        finally:
            if created:
                self._abandon(pending, temp)

    def _abandon(self, pending: dict[str, int], temp: str) -> None:
        """Best effort after a failed upload: let the writes in flight land, then remove
        the temporary file (a write still in flight could otherwise recreate it)."""
        with contextlib.suppress(Exception):
            while pending:
                origin, _msg = self.remote.receive()
                pending.pop(origin, None)
            self.remote.batch([requests.Remove(temp, False)])

    def upload_dir(self, local: str, remote: str) -> None:
        name = _file_name(os.path.abspath(local))
        base = _join(remote, name, self.sep) if self.remote_is_dir(remote) else remote
        dirs: list[str] = []
        files: list[tuple[str, str, int]] = []
        for root, dirnames, filenames in os.walk(local):
            dirnames.sort()
            rel_root = os.path.relpath(root, local)
            for d in dirnames:
                rel = os.path.normpath(os.path.join(rel_root, d))
                dirs.append(rel)
            for f in sorted(filenames):
                rel = os.path.normpath(os.path.join(rel_root, f))
                path = os.path.join(local, rel)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    raise CliError(f"Failed to read {path}: {exc.strerror or exc}") from None
                if stat.S_ISREG(st.st_mode):
                    files.append((path, rel, st.st_size))
        total = sum(size for _, _, size in files)
        self.progress.start(f"Uploading {name} ({len(files)} files)", total)
        creates = [requests.DirCreate(base, True)]
        creates += [
            requests.DirCreate(_join(base, rel.replace(os.sep, self.sep), self.sep), True)
            for rel in dirs
        ]
        for reply, req in zip(self.remote.batch(creates, sequence=True), creates, strict=True):
            if isinstance(reply, Error):
                raise CliError(f"Failed to create remote directory {req.path}: {reply.description}")
        for path, rel, size in files:
            self.upload_file(path, _join(base, rel.replace(os.sep, self.sep), self.sep), size)
        self.progress.finish(
            f"Uploaded {name} ({len(files)} files, {format_bytes(self.progress.done)})"
        )

    # -- downloads -------------------------------------------------------------------------

    def download(self, remote: str, local: str, recursive: bool) -> None:
        remote = remote or self.cwd
        reply = self.remote.batch([requests.Metadata(remote, False, True)])[0]
        if isinstance(reply, Error):
            raise CliError(f"Failed to read remote path {remote}: {reply.description}")
        name = _file_name(remote)
        if reply.file_type == FileType.DIR:
            if not recursive:
                raise CliError(f"{remote} is a directory (use -r to copy recursively)")
            self.download_dir(remote, local)
            return
        if os.path.isdir(local):
            local = os.path.join(local, name)
        self.progress.start(f"Downloading {name}", reply.len)
        self.download_file(remote, local, reply.len)
        self.progress.finish(f"Downloaded {name} ({format_bytes(self.progress.done)})")

    def download_file(self, remote: str, local: str, size_hint: int) -> None:
        folder = os.path.dirname(local) or "."
        try:  # as cp and scp do, a missing parent directory is an error (not created)
            fd, temp = tempfile.mkstemp(
                prefix=f".{os.path.basename(local)}.", suffix=".distant-part", dir=folder
            )
        except OSError as exc:
            raise CliError(f"Failed to write {local}: {exc.strerror or exc}") from None
        try:
            try:
                if self.ranged:
                    size = self._download_ranged(fd, remote, size_hint)
                elif self.unix and self._remote_size(remote, size_hint) > WHOLE_FILE_LIMIT:
                    size = self._download_via_cat(fd, remote)
                else:
                    blob = self.remote.call(requests.FileRead(remote))
                    _pwrite_all(fd, blob.data, 0)
                    size = len(blob.data)
                    self.progress.advance(size)
            except RemoteError as exc:
                raise CliError(f"Failed to read remote file {remote}: {exc}") from None
            try:
                os.ftruncate(fd, size)
                os.fchmod(fd, _target_mode(local, self.umask))
                os.close(fd)
                fd = -1
                os.replace(temp, local)
            except OSError as exc:
                raise CliError(f"Failed to write {local}: {exc.strerror or exc}") from None
            temp = ""
        finally:
            if fd >= 0:
                os.close(fd)
            if temp:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def _remote_size(self, remote: str, size_hint: int) -> int:
        if size_hint:
            return size_hint
        meta = self.remote_metadata(remote)
        return meta.len if meta is not None else 0

    def _download_via_cat(self, fd: int, remote: str) -> int:
        """Without ``fs_range``, a file too big for one ``file_read``: the output of
        ``cat FILE`` on the server, streamed."""
        rid = self.remote.send_one(requests.ProcSpawn(shlex.join(["cat", "--", remote])))
        errors = b""
        size = 0
        while True:
            for item in self.remote.receive_for(rid).items:
                if isinstance(item, Error):
                    raise RemoteError(item)
                if isinstance(item, responses.ProcStdout):
                    try:
                        _pwrite_all(fd, item.data, size)
                    except OSError as exc:
                        raise CliError(f"Failed to write local file: {exc.strerror}") from None
                    size += len(item.data)
                    self.progress.advance(len(item.data))
                elif isinstance(item, responses.ProcStderr):
                    errors += item.data
                elif isinstance(item, responses.ProcDone):
                    if not item.success:
                        message = errors.decode("utf-8", "replace").strip() or "cat failed"
                        raise CliError(f"Failed to read remote file {remote}: {message}")
                    return size

    def _download_ranged(self, fd: int, remote: str, size_hint: int) -> int:
        """Fetch ``remote`` into ``fd`` with pipelined range reads; returns its size.

        Requests go out up to ``size_hint`` (at least one at a time), and keep the pipe full
        beyond it as long as chunks come back full without ``eof``; the first ``eof`` gives
        the size, and requests past it just come back empty."""
        pending: dict[str, tuple[int, int]] = {}
        next_offset = 0
        horizon = max(size_hint, 1)
        end: int | None = None
        while True:
            while end is None and len(pending) < WINDOW and (next_offset < horizon or not pending):
                rid = self.remote.send_one(
                    extensions.FileReadRange(remote, next_offset, CHUNK_SIZE)
                )
                pending[rid] = (next_offset, CHUNK_SIZE)
                next_offset += CHUNK_SIZE
            if not pending:
                break
            origin, msg = self.remote.receive()
            request = pending.pop(origin, None)
            if request is None:
                continue
            chunk = check(msg.items[0])
            offset, want = request
            got = len(chunk.data)
            if got:
                try:
                    _pwrite_all(fd, chunk.data, offset)
                except OSError as exc:
                    raise CliError(f"Failed to write local file: {exc.strerror or exc}") from None
                self.progress.advance(got)
            if chunk.eof:
                end = offset + got if end is None else min(end, offset + got)
            elif got < want:  # a short chunk that is not the end: fetch the rest of it
                rid = self.remote.send_one(
                    extensions.FileReadRange(remote, offset + got, want - got)
                )
                pending[rid] = (offset + got, want - got)
            else:
                horizon = max(horizon, offset + got + WINDOW * CHUNK_SIZE)
        return end or 0

    def download_dir(self, remote: str, local: str) -> None:
        name = _file_name(remote)
        base = os.path.join(local, name) if os.path.isdir(local) else local
        listing = self.remote.call(requests.DirRead(remote, 0, False, False, False))
        is_windows = self.sep == "\\"

        def local_rel(rel: str) -> str:
            return rel.replace("\\", "/") if is_windows else rel

        entries = sorted(listing.entries, key=lambda e: e.path)
        files = [e for e in entries if e.file_type == FileType.FILE]
        self.progress.start(f"Downloading {name} ({len(files)} files)", None)
        try:
            os.makedirs(base, exist_ok=True)
            for e in entries:
                if e.file_type == FileType.DIR:
                    os.makedirs(os.path.join(base, local_rel(e.path)), exist_ok=True)
        except OSError as exc:
            raise CliError(f"Failed to create directory {exc.filename}: {exc.strerror}") from None
        for e in files:
            self.download_file(
                _join(remote, e.path, self.sep), os.path.join(base, local_rel(e.path)), 0
            )
        self.progress.finish(
            f"Downloaded {name} ({len(files)} files, {format_bytes(self.progress.done)})"
        )


def _read_all(fd: int, path: str) -> bytes:
    parts: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError as exc:
            raise CliError(f"Failed to read {path}: {exc.strerror or exc}") from None
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _pread(fd: int, n: int, offset: int, path: str) -> bytes:
    try:
        data = os.pread(fd, n, offset)
        while 0 < len(data) < n:  # top up short reads; a short read at the end is EOF
            more = os.pread(fd, n - len(data), offset + len(data))
            if not more:
                break
            data += more
        return data
    except OSError as exc:
        raise CliError(f"Failed to read {path}: {exc.strerror or exc}") from None


def _target_mode(path: str, umask: int) -> int:
    """An existing file keeps its mode; a new one gets ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~umask


@cli_errors
def copy(g: Globals, connection: int | None, src: str, dst: str, recursive: bool = False) -> int:
    """``copy SRC DST [-r]``: one side prefixed with ``:`` is on the server."""
    transfer = parse_transfer_paths(src, dst)
    with Remote(g, connection) as remote:
        info_reply, version_reply = remote.batch([requests.SystemInfo(), requests.Version()])
        info: SystemInfo = check(info_reply)
        ranged = (
            USE_RANGES
            and isinstance(version_reply, Version)
            and (extensions.FS_RANGE_CAPABILITY in version_reply.capabilities)
        )
        progress = Progress(enabled=not g.quiet and sys.stderr is not None and sys.stderr.isatty())
        copier = _Copier(remote, info, ranged, progress)
        try:
            if transfer.upload:
                copier.upload(transfer.local, transfer.remote, recursive)
            else:
                copier.download(transfer.remote, transfer.local, recursive)
        except BaseException:
            progress.clear()
            raise
    return 0


def __getattr__(name: str) -> object:
    """``copy_command``, the click command, imported on first use."""
    if name == "copy_command":
        from distant_cli.commands.copy_click import copy_command

        return copy_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
