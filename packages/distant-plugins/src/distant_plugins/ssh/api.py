"""``SshApi``: the distant API over one SSH connection (an :class:`SshSession`).

It answers every request it can, with the host's semantics where SSH allows:

* files and directories over SFTP, plus the ``fs_range`` extension (:mod:`.api_files`);
* processes over exec channels, with a PTY where asked (:mod:`.api_process`);
* search through the remote tools (``rg``, ``grep``, ``find``;
  :mod:`distant_plugins.command_search`);
* watch through a remote ``inotifywait`` when present, else ``unsupported``
  (:mod:`.api_watch`);
* forward tunnels over ``direct-tcpip``, reverse ones over ``tcpip-forward``
  (:mod:`.api_tunnels`);
* ``system_info`` (from ``uname``, ``pwd``, ``id`` and ``$SHELL`` on the remote host) and
  ``version`` with the capabilities actually available.

It is written against :class:`~.session.SshSession` only, so the asyncssh and openssh
backends behave alike. What the remote host offers (a shell, ``sha256sum``,
``inotifywait``, the search tools) is probed once, on first need, with one command.
"""

from __future__ import annotations

import shlex
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

import anyio

from distant_codec import PROTOCOL_VERSION, SystemInfo, Version
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import FS_RANGE_CAPABILITY
from distant_codec.extensions import ExtendedResponse as Response
from distant_plugins.command_search import CommandSearcher, probe_tools
from distant_server import ApiContext

from .api_files import SshFileOps
from .api_process import SshProcessOps
from .api_tunnels import SshTunnelOps
from .api_watch import SshWatchOps
from .session import SshSession

__all__ = ["SshApi", "rust_arch", "rust_os"]

_ARCH = {
    "x86_64": "x86_64", "amd64": "x86_64", "i386": "x86", "i486": "x86", "i586": "x86",
    "i686": "x86", "aarch64": "aarch64", "arm64": "aarch64", "armv8l": "arm",
    "ppc": "powerpc", "ppc64": "powerpc64", "ppc64le": "powerpc64", "s390x": "s390x",
    "riscv64": "riscv64", "mips": "mips", "mips64": "mips64", "loongarch64": "loongarch64",
    "sparc64": "sparc64", "sun4u": "sparc64", "sun4v": "sparc64",
}  # fmt: skip
_OS = {
    "linux": "linux", "darwin": "macos", "freebsd": "freebsd", "openbsd": "openbsd",
    "netbsd": "netbsd", "dragonfly": "dragonfly", "sunos": "solaris", "aix": "aix",
}  # fmt: skip

_PROBE = (
    'for t in sha256sum inotifywait; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done; '
    'echo "@@"; uname -s; uname -m; pwd; id -un; echo "$SHELL"'
)


def rust_arch(machine: str) -> str:
    """``std::env::consts::ARCH`` for ``uname -m``."""
    name = machine.strip().lower()
    if name in _ARCH:
        return _ARCH[name]
    return "arm" if name.startswith("arm") else name or "unknown"


def rust_os(kernel: str) -> str:
    """``std::env::consts::OS`` for ``uname -s``."""
    name = kernel.strip().lower()
    if name.startswith(("cygwin", "mingw", "msys")):
        return "windows"
    return _OS.get(name, name or "unknown")


def _server_version() -> str:
    try:
        return f"{package_version('distant-plugins')}+distant-ssh"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+distant-ssh"


class SshApi(SshFileOps, SshProcessOps, SshWatchOps, SshTunnelOps):
    """The distant API over ``session`` (see the module doc)."""

    def __init__(self, session: SshSession) -> None:
        self.session = session
        self._probed = False
        self._probe_lock = anyio.Lock()
        self._system: SystemInfo | None = None
        self._searcher: CommandSearcher | None = None
        self.has_shell = True
        self.has_sha256sum = False
        self.has_inotifywait = False

    # -- probing --------------------------------------------------------------------------

    async def _run_argv(self, argv: list[str]) -> tuple[int | None, bytes, bytes]:
        return await self.session.run(shlex.join(argv))

    async def probe(self) -> None:
        """Learn once what the remote host offers (tools, system facts)."""
        async with self._probe_lock:
            if self._probed:
                return
            try:
                code, out, _err = await self.session.run(_PROBE)
            except OSError:
                code, out = None, b""
            text = out.decode("utf-8", "replace")
            tools, _sep, facts = text.partition("@@\n")
            found = set(tools.split())
            self.has_shell = code is not None and "@@" in text
            self.has_sha256sum = "sha256sum" in found
            self.has_inotifywait = "inotifywait" in found
            lines = [*facts.split("\n"), "", "", "", "", ""]
            self._system = SystemInfo(
                family="unix",
                os=rust_os(lines[0]),
                arch=rust_arch(lines[1]),
                current_dir=lines[2],
                main_separator="/",
                username=lines[3],
                shell=lines[4] or "/bin/sh",
            )
            tools_found = await probe_tools(self._run_argv) if self.has_shell else frozenset()
            self._searcher = CommandSearcher(self._run_argv, tools_found)
            self._probed = True

    # -- capabilities, version, system ------------------------------------------------------

    def capabilities(self) -> tuple[str, ...]:
        caps = ["fs_io", "fs_perm", "tcp_tunnel", "tcp_rev_tunnel", "sys_info", FS_RANGE_CAPABILITY]
        if self.has_shell or not self._probed:
            caps.insert(0, "exec")
        if self._searcher is not None and self._searcher.tools:
            caps.insert(3, "fs_search")
        if self.has_inotifywait:
            caps.insert(3, "fs_watch")
        return tuple(caps)

    async def version(self, ctx: ApiContext, req: rq.Version) -> Version:
        await self.probe()
        return Version(_server_version(), str(PROTOCOL_VERSION), self.capabilities())

    async def system_info(self, ctx: ApiContext, req: rq.SystemInfo) -> SystemInfo:
        await self.probe()
        assert self._system is not None
        return self._system

    # -- search and watch need the probe ----------------------------------------------------

    async def _searcher_ready(self) -> CommandSearcher:
        await self.probe()
        assert self._searcher is not None
        return self._searcher

    async def search(self, ctx: ApiContext, req: rq.Search) -> Response:
        return await (await self._searcher_ready()).search(ctx, req)

    async def cancel_search(self, ctx: ApiContext, req: rq.CancelSearch) -> Response:
        return await (await self._searcher_ready()).cancel_search(ctx, req)

    async def watch(self, ctx: ApiContext, req: rq.Watch) -> rs.Ok:
        await self.probe()
        return await super().watch(ctx, req)

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> ex.Checksum:
        await self.probe()
        return await super().file_checksum(ctx, req)

    async def remove(self, ctx: ApiContext, req: rq.Remove) -> rs.Ok:
        if req.force:
            await self.probe()
        return await super().remove(ctx, req)

    async def copy(self, ctx: ApiContext, req: rq.Copy) -> rs.Ok:
        await self.probe()
        return await super().copy(ctx, req)
