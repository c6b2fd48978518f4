"""TCP tunnels from the server host (§7.3 ``tunnel_*`` and ``status``).

The requests are implemented once, in :mod:`distant_server.tunnels`; this module is the
host's :class:`~distant_server.tunnels.TunnelNetwork`: ``tunnel_open`` connects from this
host with a TCP socket, ``tunnel_listen`` binds a listening socket on this host. An
accepted sub-tunnel is described with the peer's IP and port (what upstream reports).
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import ClassVar, Literal

import anyio
import anyio.abc

from distant_net import find_os_error
from distant_server.tunnels import (
    DEFAULT_CLOSE_TIMEOUT,
    AcceptedStream,
    NetworkTunnelOps,
    TunnelNetwork,
    TunnelTable,
    format_addr,
    tunnel_error,
)

__all__ = ["TCP_NETWORK", "TcpNetwork", "TunnelOps", "TunnelTable"]

log = logging.getLogger("distant_server.tunnels")

_TRANSIENT_ACCEPT_ERRNOS = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPROTO}
)

_Family = Literal[
    socket.AddressFamily.AF_UNSPEC, socket.AddressFamily.AF_INET, socket.AddressFamily.AF_INET6
]


class _TcpListener:
    """A listening socket; an accept that fails for lack of resources is retried."""

    def __init__(self, listener: anyio.abc.SocketListener) -> None:
        self._listener = listener
        self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))

    async def accept(self) -> AcceptedStream:
        while True:
            try:
                stream = await self._listener.accept()
            except (OSError, anyio.BrokenResourceError) as exc:
                found = find_os_error(exc)
                if found is None or found.errno not in _TRANSIENT_ACCEPT_ERRNOS:
                    raise
                log.warning("port %d: accept failed (retrying): %s", self.port, found)
                await anyio.sleep(0.1)
                continue
            peer = stream.extra(anyio.abc.SocketAttribute.remote_address)
            if isinstance(peer, tuple):
                return AcceptedStream(stream, str(peer[0]), int(peer[1]))
            return AcceptedStream(stream, str(peer), 0)  # pragma: no cover - TCP is (ip, port)

    async def aclose(self) -> None:
        await self._listener.aclose()


class TcpNetwork:
    """This host's TCP sockets."""

    async def connect(self, host: str, port: int) -> anyio.abc.ByteStream:
        try:
            return await anyio.connect_tcp(host, port)
        except OSError as exc:
            raise tunnel_error(exc, format_addr(host, port)) from exc

    async def listen(self, host: str, port: int) -> _TcpListener:
        """One listening socket on the first address of ``host`` that can be bound (as
        Rust's ``TcpListener::bind``); an empty host means every interface."""
        where = format_addr(host, port)
        if not host:
            candidates: list[tuple[str | None, _Family]] = [(None, socket.AF_UNSPEC)]
        else:
            try:
                infos = await anyio.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )
            except OSError as exc:
                raise tunnel_error(exc, where) from exc
            candidates = []
            for family, _type, _proto, _name, sockaddr in infos:
                inet: _Family = (
                    socket.AddressFamily.AF_INET6
                    if family == socket.AF_INET6
                    else socket.AddressFamily.AF_INET
                )
                candidate: tuple[str | None, _Family] = (str(sockaddr[0]), inet)
                if candidate not in candidates:
                    candidates.append(candidate)
        failure: OSError | None = None
        for local_host, family in candidates:
            try:
                multi = await anyio.create_tcp_listener(
                    local_host=local_host, local_port=port, family=family
                )
            except OSError as exc:
                failure = exc
                continue
            first, *extra = multi.listeners
            for other in extra:  # pragma: no cover - a literal address binds one socket
                await other.aclose()
            assert isinstance(first, anyio.abc.SocketListener)
            return _TcpListener(first)
        assert failure is not None
        raise tunnel_error(failure, where) from failure


TCP_NETWORK = TcpNetwork()


class TunnelOps(NetworkTunnelOps):
    """``tunnel_open``, ``tunnel_listen``, ``tunnel_write``, ``tunnel_close`` and ``status``
    on this host (see :class:`~distant_server.tunnels.NetworkTunnelOps`)."""

    TUNNEL_CAPABILITIES: ClassVar[tuple[str, ...]] = ("tcp_tunnel", "tcp_rev_tunnel")

    def __init__(self, *, close_timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        self.close_timeout = close_timeout

    def capabilities(self) -> tuple[str, ...]:
        return self.TUNNEL_CAPABILITIES

    def tunnel_network(self) -> TunnelNetwork:
        return TCP_NETWORK
