"""``DockerApi``: the distant API on one container, through the docker SDK.

Files go through the archive API (they work in a container with no shell), processes
through ``docker exec``, search through ``rg``/``grep``/``find`` in the container
(:mod:`distant_plugins.command_search`), forward tunnels through ``socat``/``nc``. What a
container can do is probed once, on first use: every tool is looked up in the container's
``PATH`` through the archive stat (no exec needed). ``version.capabilities`` advertises only
what this container supports; an operation it cannot do answers ``unsupported`` saying
what is missing. The ``fs_range`` extension goes through ``dd``/``sha256sum`` in the
container (:mod:`.ranges`) and is advertised only when they are there. Not supported at
all: ``watch``/``unwatch``, ``tunnel_listen``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio

from distant_codec import PROTOCOL_VERSION, ErrorKind, SystemInfo, Version
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec.extensions import ExtendedResponse as Response
from distant_plugins.command_search import SEARCH_TOOLS, CommandSearcher
from distant_server import Api, ApiContext, ApiError

from .engine import Engine, default_path
from .files import FILE_TOOLS, DockerFiles
from .process import DockerProcesses
from .ranges import RANGE_TOOLS, DockerRanges, range_capable
from .tunnels import TUNNEL_TOOLS, DockerTunnels

__all__ = ["DockerApi", "PROBED_TOOLS"]

PROBED_TOOLS = ("sh", *SEARCH_TOOLS, *TUNNEL_TOOLS, *FILE_TOOLS, *RANGE_TOOLS)

_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "x86", "arm": "arm", "ppc64le": "powerpc64"}


def _server_version() -> str:
    try:
        return f"{version('distant-plugins')}+docker"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+docker"


class _Parts:
    def __init__(
        self, engine: Engine, tools: frozenset[str], info: dict[str, Any], shell: str | None
    ) -> None:
        self.tools = tools
        self.info = info
        self.files = DockerFiles(engine, tools)
        self.ranges = DockerRanges(engine, self.files, tools)
        config = info.get("Config", {}) or {}
        self.processes = DockerProcesses(
            engine, shell, default_path(config.get("Env")), config.get("WorkingDir") or "/"
        )
        self.tunnels = DockerTunnels(engine, tools)
        self.searcher: CommandSearcher | None = None
        if tools & set(SEARCH_TOOLS):
            self.searcher = CommandSearcher(engine.run, tools & frozenset(SEARCH_TOOLS))


class DockerApi(Api):
    """The distant API on the container ``container`` (id or name) of a docker client."""

    def __init__(self, client: Any, container: str) -> None:
        self.engine = Engine(client, container)
        self._parts: _Parts | None = None
        self._lock: anyio.Lock | None = None

    async def probe(self) -> frozenset[str]:
        """Inspect the container and find its tools (once); returns the tools found."""
        return (await self._ready()).tools

    async def _ready(self) -> _Parts:
        if self._parts is not None:
            return self._parts
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._parts is None:
                info = await self.engine.inspect()
                path = default_path(info.get("Config", {}).get("Env"))
                found = await self.engine.find_in_path(list(PROBED_TOOLS), path)
                self._parts = _Parts(self.engine, frozenset(found), info, found.get("sh"))
        return self._parts

    def _capabilities(self, parts: _Parts) -> tuple[str, ...]:
        caps = ["exec", "fs_io"]
        if "chmod" in parts.tools:
            caps.append("fs_perm")
        if parts.searcher is not None:
            caps.append("fs_search")
        if parts.tunnels.available:
            caps.append("tcp_tunnel")
        caps.append("sys_info")
        if range_capable(parts.tools):
            caps.append(ex.FS_RANGE_CAPABILITY)
        return tuple(caps)

    def capabilities(self) -> tuple[str, ...]:
        if self._parts is None:
            return ("exec", "fs_io", "sys_info")
        return self._capabilities(self._parts)

    async def version(self, ctx: ApiContext, req: rq.Version) -> Response:
        parts = await self._ready()
        return Version(_server_version(), str(PROTOCOL_VERSION), self._capabilities(parts))

    async def system_info(self, ctx: ApiContext, req: rq.SystemInfo) -> Response:
        parts = await self._ready()
        config = parts.info.get("Config", {}) or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        platform = str(parts.info.get("Platform") or "linux")
        arch = await self._arch()
        return SystemInfo(
            family="windows" if platform == "windows" else "unix",
            os=platform,
            arch=arch,
            current_dir=config.get("WorkingDir") or "/",
            main_separator="\\" if platform == "windows" else "/",
            username=config.get("User") or "root",
            shell=env.get("SHELL") or "/bin/sh",
        )

    async def _arch(self) -> str:
        try:
            image = await self.engine.call(
                self.engine.api.inspect_image, (await self._ready()).info.get("Image", "")
            )
            name = str(image.get("Architecture") or "")
        except Exception:
            name = ""
        if not name:
            try:
                name = str((await self.engine.call(self.engine.client.version)).get("Arch", ""))
            except Exception:
                name = ""
        return _ARCH.get(name, name or "unknown")

    # -- files -----------------------------------------------------------------------------

    async def _files(self) -> DockerFiles:
        return (await self._ready()).files

    async def file_read(self, ctx: ApiContext, req: rq.FileRead) -> Response:
        return await (await self._files()).file_read(req)

    async def file_read_text(self, ctx: ApiContext, req: rq.FileReadText) -> Response:
        return await (await self._files()).file_read_text(req)

    async def file_write(self, ctx: ApiContext, req: rq.FileWrite) -> Response:
        return await (await self._files()).file_write(req)

    async def file_write_text(self, ctx: ApiContext, req: rq.FileWriteText) -> Response:
        return await (await self._files()).file_write_text(req)

    async def file_append(self, ctx: ApiContext, req: rq.FileAppend) -> Response:
        return await (await self._files()).file_append(req)

    async def file_append_text(self, ctx: ApiContext, req: rq.FileAppendText) -> Response:
        return await (await self._files()).file_append_text(req)

    async def dir_read(self, ctx: ApiContext, req: rq.DirRead) -> Response:
        return await (await self._files()).dir_read(req)

    async def dir_create(self, ctx: ApiContext, req: rq.DirCreate) -> Response:
        return await (await self._files()).dir_create(req)

    async def remove(self, ctx: ApiContext, req: rq.Remove) -> Response:
        return await (await self._files()).remove(req)

    async def copy(self, ctx: ApiContext, req: rq.Copy) -> Response:
        return await (await self._files()).copy(req)

    async def rename(self, ctx: ApiContext, req: rq.Rename) -> Response:
        return await (await self._files()).rename(req)

    async def exists(self, ctx: ApiContext, req: rq.Exists) -> Response:
        return await (await self._files()).exists(req)

    async def metadata(self, ctx: ApiContext, req: rq.Metadata) -> Response:
        return await (await self._files()).metadata(req)

    async def set_permissions(self, ctx: ApiContext, req: rq.SetPermissions) -> Response:
        return await (await self._files()).set_permissions(req)

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> Response:
        return await (await self._ready()).ranges.file_read_range(ctx, req)

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> Response:
        return await (await self._ready()).ranges.file_write_range(ctx, req)

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> Response:
        return await (await self._ready()).ranges.file_checksum(ctx, req)

    # -- search ----------------------------------------------------------------------------

    async def _searcher(self) -> CommandSearcher:
        searcher = (await self._ready()).searcher
        if searcher is None:
            raise _no_search()
        return searcher

    async def search(self, ctx: ApiContext, req: rq.Search) -> Response:
        return await (await self._searcher()).search(ctx, req)

    async def cancel_search(self, ctx: ApiContext, req: rq.CancelSearch) -> Response:
        return await (await self._searcher()).cancel_search(ctx, req)

    # -- processes -------------------------------------------------------------------------

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> Response:
        return await (await self._ready()).processes.proc_spawn(ctx, req)

    async def proc_kill(self, ctx: ApiContext, req: rq.ProcKill) -> Response:
        return await (await self._ready()).processes.proc_kill(ctx, req)

    async def proc_stdin(self, ctx: ApiContext, req: rq.ProcStdin) -> Response:
        return await (await self._ready()).processes.proc_stdin(ctx, req)

    async def proc_resize_pty(self, ctx: ApiContext, req: rq.ProcResizePty) -> Response:
        return await (await self._ready()).processes.proc_resize_pty(ctx, req)

    # -- tunnels ---------------------------------------------------------------------------

    async def tunnel_open(self, ctx: ApiContext, req: rq.TunnelOpen) -> Response:
        return await (await self._ready()).tunnels.tunnel_open(ctx, req)

    async def tunnel_write(self, ctx: ApiContext, req: rq.TunnelWrite) -> Response:
        return await (await self._ready()).tunnels.tunnel_write(ctx, req)

    async def tunnel_close(self, ctx: ApiContext, req: rq.TunnelClose) -> Response:
        return await (await self._ready()).tunnels.tunnel_close(ctx, req)

    async def status(self, ctx: ApiContext, req: rq.Status) -> Response:
        return await (await self._ready()).tunnels.status(ctx, req)


def _no_search() -> Exception:
    return ApiError(
        ErrorKind.UNSUPPORTED,
        "search is unsupported in this container: it has none of rg, grep or find",
    )
