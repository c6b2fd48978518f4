"""The host implementation: every operation of the Api on this machine."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from distant_codec import PROTOCOL_VERSION
from distant_codec import requests as rq
from distant_codec.common import Version
from distant_codec.extensions import FS_RANGE_CAPABILITY
from distant_server.context import ApiContext
from distant_server.host.files import FileOps
from distant_server.host.process import ProcessOps
from distant_server.host.search import SearchOps
from distant_server.host.system import SystemOps
from distant_server.host.tunnels import TunnelOps
from distant_server.host.watch import WatchOps
from distant_server.listen import WatchSettings

__all__ = ["HostApi", "HOST_CAPABILITIES"]

HOST_CAPABILITIES = (
    "exec",
    "fs_io",
    "fs_perm",
    "fs_search",
    "fs_watch",
    "tcp_tunnel",
    "tcp_rev_tunnel",
    "sys_info",
    FS_RANGE_CAPABILITY,
)
"""Upstream's host capabilities (§7.5), plus the range-transfer extension."""


def _server_version() -> str:
    try:
        return f"{version('distant-server')}+distant-host"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+distant-host"


class HostApi(FileOps, ProcessOps, SearchOps, WatchOps, TunnelOps, SystemOps):
    """Files, processes, search, watch, tunnels and system info of this host."""

    def __init__(self, *, watch: WatchSettings | None = None) -> None:
        # The mixins take different settings, so each is initialised explicitly.
        SearchOps.__init__(self)
        WatchOps.__init__(self, watch or WatchSettings())
        TunnelOps.__init__(self)
        SystemOps.__init__(self)

    def capabilities(self) -> tuple[str, ...]:
        return HOST_CAPABILITIES

    async def version(self, ctx: ApiContext, req: rq.Version) -> Version:
        return Version(_server_version(), str(PROTOCOL_VERSION), self.capabilities())
