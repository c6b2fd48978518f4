"""The distant manager daemon: plugin registry, connections, channels (id rewriting of
§9.4), the auth relay, managed tunnels, the built-in ``distant`` plugin, and clients.

Names are imported on first use (PEP 562): :class:`BlockingManagerClient` is usable
without importing anyio, which keeps one-shot CLI commands fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth_relay import AuthWaiters, KeyAuthHandler, RelayAuthHandler
    from .blocking_client import (
        BlockingChannel,
        BlockingManagerClient,
        ChannelClosed,
        ManagerError,
        ManagerUnavailable,
    )
    from .channel_wire import BIN_PAYLOADS
    from .client import ManagerClient
    from .connections import ChannelSink, ManagedConnection
    from .distant_plugin import DistantPlugin
    from .listen import ManagerListenOptions, listen_manager, serve_manager
    from .manager import MANAGER_VERSION, ClientState, Manager
    from .paths import (
        ACCESS_MODES,
        candidate_socket_paths,
        global_socket_path,
        listen_socket_path,
        user_socket_path,
    )
    from .plugin import Plugin, PluginError, ServerLink, connection_errors
    from .registry import PluginRegistry

__all__ = [
    # clients
    "BlockingManagerClient",
    "BlockingChannel",
    "ManagerClient",
    "ManagerError",
    "ManagerUnavailable",
    "ChannelClosed",
    "BIN_PAYLOADS",
    # the daemon
    "Manager",
    "ClientState",
    "MANAGER_VERSION",
    "ManagerListenOptions",
    "listen_manager",
    "serve_manager",
    "ManagedConnection",
    "ChannelSink",
    "AuthWaiters",
    "RelayAuthHandler",
    "KeyAuthHandler",
    # plugins
    "Plugin",
    "PluginError",
    "connection_errors",
    "PluginRegistry",
    "ServerLink",
    "DistantPlugin",
    # paths
    "ACCESS_MODES",
    "candidate_socket_paths",
    "global_socket_path",
    "listen_socket_path",
    "user_socket_path",
]

_WHERE: dict[str, str] = {
    "BlockingManagerClient": "blocking_client",
    "BlockingChannel": "blocking_client",
    "ManagerError": "blocking_client",
    "ManagerUnavailable": "blocking_client",
    "ChannelClosed": "blocking_client",
    "ManagerClient": "client",
    "BIN_PAYLOADS": "channel_wire",
    "Manager": "manager",
    "ClientState": "manager",
    "MANAGER_VERSION": "manager",
    "ManagerListenOptions": "listen",
    "listen_manager": "listen",
    "serve_manager": "listen",
    "ManagedConnection": "connections",
    "ChannelSink": "connections",
    "AuthWaiters": "auth_relay",
    "RelayAuthHandler": "auth_relay",
    "KeyAuthHandler": "auth_relay",
    "Plugin": "plugin",
    "PluginError": "plugin",
    "connection_errors": "plugin",
    "PluginRegistry": "registry",
    "ServerLink": "plugin",
    "DistantPlugin": "distant_plugin",
    "ACCESS_MODES": "paths",
    "candidate_socket_paths": "paths",
    "global_socket_path": "paths",
    "listen_socket_path": "paths",
    "user_socket_path": "paths",
}


if not TYPE_CHECKING:  # type checkers see the imports above, not a catch-all __getattr__
    from distant_codec.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
