"""One container as the docker SDK sees it, with every call off the event loop.

The SDK is synchronous: each call runs in a worker thread under this engine's own
:class:`anyio.CapacityLimiter` (so docker calls never exhaust anyio's default thread pool),
and long-lived streams (exec sockets) do not hold a thread at all (see :mod:`.exec`).
Engine errors become ``OSError`` with an errno (404 → ``ENOENT``...) or ``ApiError``, which
the dispatcher maps to the protocol's error kinds.
"""

from __future__ import annotations

import errno
import functools
import posixpath
import tarfile
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from distant_codec import ErrorKind
from distant_server import ApiError

from .archive import PathStat, parse_stat_header, single_member, tar_entries

__all__ = ["Engine", "engine_error", "default_path", "MAX_LINKS"]

T = TypeVar("T")

MAX_LINKS = 40
"""How many symlinks a path may go through before it is a loop (``ELOOP``), as Linux."""

STAT_HEADER = "X-Docker-Container-Path-Stat"


def engine_error(exc: Exception, path: str = "") -> Exception:
    """An SDK exception as an ``OSError`` naming ``path`` (or an ``ApiError``)."""
    status = getattr(exc, "status_code", None)
    explanation = str(getattr(exc, "explanation", "") or exc)
    lowered = explanation.lower()
    if status == 404 or "no such file" in lowered or "could not find the file" in lowered:
        return FileNotFoundError(errno.ENOENT, "No such file or directory", path or None)
    if "not a directory" in lowered:
        return NotADirectoryError(errno.ENOTDIR, "Not a directory", path or None)
    if "permission denied" in lowered or "read-only" in lowered or status == 403:
        return PermissionError(errno.EACCES, f"Permission denied ({explanation})", path or None)
    if status == 409:
        return ApiError(ErrorKind.NOT_CONNECTED, f"container is not running: {explanation}")
    return ApiError(ErrorKind.OTHER, f"docker: {explanation}")


class Engine:
    """The docker SDK client and one container, by id."""

    def __init__(self, client: Any, container_id: str, *, threads: int = 16) -> None:
        self.client = client
        self.api: Any = client.api
        self.container_id = container_id
        self._limiter: anyio.CapacityLimiter | None = None
        self._threads = threads

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        return self._limiter

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread."""
        return await anyio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=self.limiter
        )

    # -- container -------------------------------------------------------------------------

    async def inspect(self) -> dict[str, Any]:
        info: dict[str, Any] = await self.call(self.api.inspect_container, self.container_id)
        return info

    # -- paths -----------------------------------------------------------------------------

    def _stat_sync(self, path: str) -> PathStat:
        url = self.api._url("/containers/{0}/archive", self.container_id)
        response = self.api.head(url, params={"path": path})
        if response.status_code == 404:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if response.status_code >= 400:
            raise engine_error(_HttpError(response.status_code, response.reason), path)
        header = response.headers.get(STAT_HEADER)
        if not header:
            raise ApiError(ErrorKind.OTHER, f"docker: no path stat for {path}")
        return parse_stat_header(header)

    async def stat(self, path: str) -> PathStat:
        """The path itself (a symlink is reported as one); ``ENOENT`` when missing."""
        return await self.call(self._stat_sync, path)

    async def resolve(self, path: str) -> tuple[str, PathStat]:
        """The path with symlinks followed, and its stat."""
        current = path
        for _ in range(MAX_LINKS):
            st = await self.stat(current)
            if not st.is_symlink:
                return current, st
            target = st.link_target or ""
            if not target:
                break
            current = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)

    def _read_file_sync(self, path: str) -> tuple[tarfile.TarInfo, bytes]:
        try:
            chunks, _ = self.api.get_archive(self.container_id, path)
        except Exception as exc:
            raise engine_error(exc, path) from None
        return single_member(chunks)

    async def read_file(self, path: str) -> bytes:
        """The contents of the regular file at ``path`` (symlinks followed)."""
        real, st = await self.resolve(path)
        if st.is_dir:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
        info, data = await self.call(self._read_file_sync, real)
        if not info.isreg():
            raise ApiError(ErrorKind.INVALID_INPUT, f"not a regular file: {path}")
        return data

    def _list_sync(self, path: str) -> list[tarfile.TarInfo]:
        try:
            chunks, _ = self.api.get_archive(self.container_id, path)
        except Exception as exc:
            raise engine_error(exc, path) from None
        return list(tar_entries(chunks))

    async def list_tree(self, path: str) -> list[tarfile.TarInfo]:
        """Every entry of the tree at ``path`` as the archive lists it (root first)."""
        return await self.call(self._list_sync, path)

    def _put_sync(self, directory: str, data: bytes) -> None:
        try:
            ok = self.api.put_archive(self.container_id, directory, data)
        except Exception as exc:
            raise engine_error(exc, directory) from None
        if not ok:
            raise ApiError(ErrorKind.OTHER, f"docker: could not write into {directory}")

    async def put(self, directory: str, data: bytes) -> None:
        """Extract the tar ``data`` into ``directory`` (which must exist)."""
        await self.call(self._put_sync, directory, data)

    # -- short commands --------------------------------------------------------------------

    def _run_sync(
        self, argv: list[str], workdir: str | None, environment: dict[str, str] | None
    ) -> tuple[int | None, bytes, bytes]:
        env = [f"{k}={v}" for k, v in (environment or {}).items()] or None
        try:
            exec_id = self.api.exec_create(
                self.container_id, argv, stdout=True, stderr=True, workdir=workdir, environment=env
            )["Id"]
            out, err = self.api.exec_start(exec_id, demux=True)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:
            raise engine_error(exc) from None
        return (int(code) if code is not None else None), out or b"", err or b""

    async def run(
        self,
        argv: list[str],
        *,
        workdir: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> tuple[int | None, bytes, bytes]:
        """Run ``argv`` (no shell) to completion: exit code, stdout, stderr. A cancelled
        caller stops waiting; the command itself runs on to its end in the container."""
        return await anyio.to_thread.run_sync(
            functools.partial(self._run_sync, argv, workdir, environment),
            limiter=self.limiter,
            abandon_on_cancel=True,
        )

    async def exists_in_path(self, names: list[str], path_dirs: list[str]) -> frozenset[str]:
        """Which of ``names`` are found in one of ``path_dirs`` (by the archive stat, so
        this works in a container without a shell)."""
        return frozenset(await self.find_in_path(names, path_dirs))

    async def find_in_path(self, names: list[str], path_dirs: list[str]) -> dict[str, str]:
        """Each of ``names`` found in ``path_dirs``, with its path in the first directory
        that has it."""
        found: dict[str, str] = {}

        async def check(name: str) -> None:
            for directory in path_dirs:
                candidate = posixpath.join(directory, name)
                try:
                    await self.resolve(candidate)
                except (OSError, ApiError):
                    continue
                found[name] = candidate
                return

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(check, name)
        return found


class _HttpError(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(f"{status_code} {reason}")
        self.status_code = status_code
        self.explanation = reason


def default_path(env: list[str] | None) -> list[str]:
    """The directories of ``PATH`` in a container's ``Config.Env``."""
    for item in env or []:
        if item.startswith("PATH="):
            return [d for d in item[5:].split(":") if d]
    return ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
