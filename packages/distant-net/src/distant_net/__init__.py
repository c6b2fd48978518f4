"""distant-net: encrypted distant connections on anyio (trio and asyncio).

* transports: TCP (with keepalive, port ranges), Unix sockets (mode set by umask at bind),
  and an in-memory stream pair;
* :class:`FramedTransport`: frames through a codec over one link;
* the connection bootstrap of §3.1 for both ends (version exchange, codec negotiation, key
  exchange, ConnectType, authentication, OTP), plus the counter-nonce extension cipher;
* :class:`Connection`: a logical connection with heartbeats, frame accounting, a bounded
  backup and replay across reconnects (§5.3-5.4);
* reconnect strategies; :func:`open_connection` for clients;
* a generic :class:`Client` (request/reply, streams by ``origin_id``, fire-and-forget,
  batches) and :class:`Server` (handler interface, per-connection state, concurrency,
  shutdown policies).

Names are imported on first use (PEP 562): the blocking client (:mod:`distant_net.blocking`)
is usable without importing anyio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth_handler import AsyncAuthHandler, SyncHandlerAdapter
    from .blocking import BlockingConnection, blocking_connect, connect_unix_blocking
    from .client import DEFAULT_MAILBOX_SIZE, Client, Mailbox
    from .client_connection import Dialer, open_connection
    from .connection import DEFAULT_HEARTBEAT, DEFAULT_SILENCE, Connection
    from .daemon import detach
    from .errors import (
        AuthenticationError,
        ConnectionClosed,
        HandshakeError,
        IncompatibleVersion,
        NetError,
        ReconnectFailed,
        ReplyTooLarge,
        RequestTimeout,
        find_os_error,
    )
    from .framed import READ_SIZE, TRANSPORT_ERRORS, FramedTransport, HandoffAttribute
    from .handshake import (
        EXTENDED_ENCRYPTION_TYPES,
        ClientSettings,
        NewConnection,
        Reconnection,
        ServerSettings,
        build_codec,
        client_connect,
        client_reconnect,
        server_accept,
    )
    from .memory import MemoryByteStream, memory_pipe, memory_stream_pair
    from .reconnect import (
        ExponentialBackoff,
        Fail,
        FibonacciBackoff,
        FixedInterval,
        ReconnectStrategy,
    )
    from .replay import DEFAULT_BACKUP_BYTES, ReplayBuffer, SyncState
    from .server import ConnectionInfo, Handler, RequestContext, Server
    from .shutdown import Shutdown
    from .sync import synchronize
    from .transport import (
        ANY_HOST,
        KeepAlive,
        TcpListener,
        UnixListener,
        connect_tcp,
        connect_unix,
        listen_tcp,
        listen_unix,
        parse_port_range,
    )

__all__ = [
    # errors
    "NetError",
    "ConnectionClosed",
    "HandshakeError",
    "IncompatibleVersion",
    "AuthenticationError",
    "ReconnectFailed",
    "RequestTimeout",
    "ReplyTooLarge",
    "find_os_error",
    # transports
    "ANY_HOST",
    "KeepAlive",
    "TcpListener",
    "UnixListener",
    "connect_tcp",
    "connect_unix",
    "listen_tcp",
    "listen_unix",
    "parse_port_range",
    "MemoryByteStream",
    "memory_pipe",
    "memory_stream_pair",
    # framing and bootstrap
    "READ_SIZE",
    "TRANSPORT_ERRORS",
    "FramedTransport",
    "HandoffAttribute",
    "EXTENDED_ENCRYPTION_TYPES",
    "ClientSettings",
    "ServerSettings",
    "NewConnection",
    "Reconnection",
    "build_codec",
    "client_connect",
    "client_reconnect",
    "server_accept",
    "AsyncAuthHandler",
    "SyncHandlerAdapter",
    # connections, replay, reconnect
    "DEFAULT_HEARTBEAT",
    "DEFAULT_SILENCE",
    "Connection",
    "DEFAULT_BACKUP_BYTES",
    "ReplayBuffer",
    "SyncState",
    "synchronize",
    "ReconnectStrategy",
    "Fail",
    "ExponentialBackoff",
    "FibonacciBackoff",
    "FixedInterval",
    "Dialer",
    "open_connection",
    # blocking client (no anyio)
    "BlockingConnection",
    "blocking_connect",
    "connect_unix_blocking",
    # daemons
    "detach",
    # client and server
    "DEFAULT_MAILBOX_SIZE",
    "Client",
    "Mailbox",
    "Server",
    "Handler",
    "RequestContext",
    "ConnectionInfo",
    "Shutdown",
]

_WHERE: dict[str, str] = {
    "detach": "daemon",
    "AsyncAuthHandler": "auth_handler",
    "SyncHandlerAdapter": "auth_handler",
    "DEFAULT_MAILBOX_SIZE": "client",
    "Client": "client",
    "Mailbox": "client",
    "Dialer": "client_connection",
    "open_connection": "client_connection",
    "DEFAULT_HEARTBEAT": "connection",
    "DEFAULT_SILENCE": "connection",
    "Connection": "connection",
    "AuthenticationError": "errors",
    "ConnectionClosed": "errors",
    "HandshakeError": "errors",
    "IncompatibleVersion": "errors",
    "NetError": "errors",
    "ReconnectFailed": "errors",
    "RequestTimeout": "errors",
    "ReplyTooLarge": "errors",
    "find_os_error": "errors",
    "READ_SIZE": "framed",
    "TRANSPORT_ERRORS": "framed",
    "FramedTransport": "framed",
    "HandoffAttribute": "framed",
    "EXTENDED_ENCRYPTION_TYPES": "negotiation",
    "ClientSettings": "handshake",
    "NewConnection": "handshake",
    "Reconnection": "handshake",
    "ServerSettings": "handshake",
    "build_codec": "negotiation",
    "client_connect": "handshake",
    "client_reconnect": "handshake",
    "server_accept": "handshake",
    "MemoryByteStream": "memory",
    "memory_pipe": "memory",
    "memory_stream_pair": "memory",
    "ExponentialBackoff": "reconnect",
    "Fail": "reconnect",
    "FibonacciBackoff": "reconnect",
    "FixedInterval": "reconnect",
    "ReconnectStrategy": "reconnect",
    "DEFAULT_BACKUP_BYTES": "replay",
    "ReplayBuffer": "replay",
    "SyncState": "replay",
    "ConnectionInfo": "server",
    "Handler": "server",
    "RequestContext": "server",
    "Server": "server",
    "Shutdown": "shutdown",
    "synchronize": "sync",
    "ANY_HOST": "transport",
    "KeepAlive": "transport",
    "TcpListener": "transport",
    "UnixListener": "transport",
    "connect_tcp": "transport",
    "connect_unix": "transport",
    "listen_tcp": "transport",
    "listen_unix": "transport",
    "parse_port_range": "transport",
    "BlockingConnection": "blocking",
    "blocking_connect": "blocking",
    "connect_unix_blocking": "blocking",
}


if not TYPE_CHECKING:  # type checkers see the imports above, not a catch-all __getattr__
    from distant_codec.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
