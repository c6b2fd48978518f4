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
"""

from .auth_handler import AsyncAuthHandler, SyncHandlerAdapter
from .client import DEFAULT_MAILBOX_SIZE, Client, Mailbox
from .client_connection import Dialer, open_connection
from .connection import DEFAULT_HEARTBEAT, DEFAULT_SILENCE, Connection
from .errors import (
    AuthenticationError,
    ConnectionClosed,
    HandshakeError,
    IncompatibleVersion,
    NetError,
    ReconnectFailed,
    RequestTimeout,
    find_os_error,
)
from .framed import READ_SIZE, TRANSPORT_ERRORS, FramedTransport
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
