"""What the ssh Api needs from an SSH connection, whichever backend provides it.

Two backends implement :class:`SshSession`: ``asyncssh`` (in-process, the default) and
``openssh`` (the system ``ssh`` binary through a ControlMaster, so every ``~/.ssh/config``
directive applies). :class:`~distant_plugins.ssh.api.SshApi` is written against this
interface only, so both backends answer the same requests the same way.

Paths are remote paths as ``str``. File operations raise ``OSError`` with the right
``errno`` (``ENOENT``, ``EACCES``, ``EEXIST``, ``ENOTDIR``, ``EISDIR``, ``ENOTEMPTY``...)
so the dispatcher maps them to the distant error kinds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import anyio.abc

from distant_net import AsyncAuthHandler

__all__ = [
    "FileAttrs",
    "RemoteProcess",
    "SshSession",
    "SshTarget",
    "SessionOpener",
    "ReverseForward",
]


@dataclass(frozen=True, slots=True)
class FileAttrs:
    """SFTP attributes (v3). ``kind`` is ``"file"``, ``"dir"``, ``"symlink"`` or ``"other"``;
    ``permissions`` is the full ``st_mode``; times are seconds since the epoch."""

    kind: str
    size: int = 0
    permissions: int = 0
    uid: int | None = None
    gid: int | None = None
    atime: int | None = None
    mtime: int | None = None


@dataclass(frozen=True, slots=True)
class SshTarget:
    """Where and how to connect: the destination plus the ``ssh.*`` options of the connect
    and launch seeds (the ``ssh.`` prefix already removed by the plugin)."""

    host: str
    port: int | None = None
    user: str | None = None
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    proxy_command: str | None = None
    user_known_hosts_files: tuple[str, ...] = ()
    verbose: bool = False
    connect_timeout: float = 180.0
    extra: dict[str, str] = field(default_factory=dict)
    """Options the plugin does not interpret (passed on as ``-o Key=Value`` by openssh)."""


class RemoteProcess(Protocol):
    """A command running over an exec channel."""

    @property
    def stdout(self) -> AsyncIterator[bytes]:
        """Output chunks until EOF (with a PTY: the terminal's combined output)."""
        ...

    @property
    def stderr(self) -> AsyncIterator[bytes]:
        """Error output chunks until EOF (empty at once with a PTY)."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def resize(self, rows: int, cols: int) -> None:
        """Change the PTY size (no-op without a PTY)."""
        ...

    async def kill(self) -> None:
        """End the process (signal, then closing the channel); idempotent."""
        ...

    async def wait(self) -> int | None:
        """The exit code once it has ended; ``None`` when killed by a signal or unknown."""
        ...


class ReverseForward(Protocol):
    """A remote listener (``tcpip-forward``); ``port`` is the bound remote port."""

    port: int

    async def aclose(self) -> None: ...


class SshSession(Protocol):
    """One authenticated SSH connection with an SFTP channel."""

    backend: str
    """``"asyncssh"`` or ``"openssh"``."""

    @property
    def closed(self) -> bool: ...

    async def wait_closed(self) -> None:
        """Returns when the connection is lost (or closed)."""
        ...

    # -- SFTP -------------------------------------------------------------------------------
    async def stat(self, path: str) -> FileAttrs: ...

    async def lstat(self, path: str) -> FileAttrs: ...

    async def realpath(self, path: str) -> str: ...

    async def readlink(self, path: str) -> str: ...

    async def read(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of ``path`` from ``offset``; ``length=None`` reads to the end. Large reads
        are pipelined (several SFTP reads in flight)."""
        ...

    async def write(self, path: str, data: bytes, *, append: bool = False) -> None:
        """Create/truncate (or append to) ``path`` and write ``data``, pipelined."""
        ...

    async def write_at(self, path: str, offset: int, data: bytes, *, truncate: bool) -> None:
        """Write ``data`` at ``offset`` without truncating (creating the file if missing);
        ``truncate=True`` first truncates the file to ``offset``."""
        ...

    async def listdir(self, path: str) -> list[tuple[str, FileAttrs]]:
        """Entries of a directory (no ``.``/``..``), with their lstat attributes."""
        ...

    async def mkdir(self, path: str, mode: int = 0o777) -> None: ...

    async def rmdir(self, path: str) -> None: ...

    async def remove(self, path: str) -> None:
        """Unlink a file or symlink."""
        ...

    async def rename(self, src: str, dst: str) -> None:
        """POSIX rename (replaces ``dst``; ``posix-rename@openssh.com`` where available)."""
        ...

    async def chmod(self, path: str, mode: int) -> None: ...

    # -- processes ---------------------------------------------------------------------------
    async def exec(
        self,
        command: str,
        *,
        env: dict[str, str] | None = None,
        pty: tuple[int, int] | None = None,
        term: str = "xterm-256color",
    ) -> RemoteProcess:
        """Run ``command`` through the remote user's shell; ``pty`` is ``(rows, cols)``."""
        ...

    async def run(
        self, command: str, *, input: bytes | None = None
    ) -> tuple[int | None, bytes, bytes]:
        """Run to completion: ``(exit code, stdout, stderr)``."""
        ...

    # -- TCP ---------------------------------------------------------------------------------
    async def open_tcp(self, host: str, port: int) -> anyio.abc.ByteStream:
        """A ``direct-tcpip`` channel from the remote side to ``host:port``."""
        ...

    async def listen_tcp(
        self,
        host: str,
        port: int,
        on_connection: Callable[[anyio.abc.ByteStream, str, int], Awaitable[None]],
    ) -> ReverseForward:
        """``tcpip-forward`` on the remote ``host:port`` (0 = any free port); each accepted
        connection is handed to ``on_connection(stream, peer_host, peer_port)`` in its own
        task, and the stream is closed when that returns."""
        ...

    async def aclose(self) -> None: ...


class SessionOpener(Protocol):
    """How a backend connects. Host-key checks against known_hosts happen here: an unknown
    or changed key is relayed to the user with ``auth.on_verification`` (never accepted
    silently), passwords, keyboard-interactive prompts and key passphrases with
    ``auth.on_challenge``. Failures raise ``distant_manager.PluginError`` with a clear text."""

    async def __call__(self, target: SshTarget, auth: AsyncAuthHandler) -> SshSession: ...
