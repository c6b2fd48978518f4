"""L0 byte transports: TCP (the server) and Unix sockets (the manager), on anyio.

Every stream is a :class:`~distant_net.socket_stream.SocketByteStream`: an anyio socket stream with
uniform edge-case semantics on both backends.

* :func:`connect_tcp` / :func:`listen_tcp` return socket streams with ``TCP_NODELAY`` and
  TCP keepalive (:class:`KeepAlive`) set. :func:`listen_tcp` binds one socket on the first
  bindable port of a range (``--port P1:P2``, PROTOCOL.md §8.1) and reports the bound IP and port.
* :func:`connect_unix` / :func:`listen_unix` serve the manager socket (PROTOCOL.md §9.1): parent
  directories are created, a stale socket file is replaced, a live one is "address in use", and
  the socket's mode is set by the umask at bind time, never by a later chmod (so there is no
  window in which the socket is more open than requested).

The in-memory transport used by tests lives in :mod:`distant_net.memory`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskGroup

from distant_net.errors import find_os_error
from distant_net.socket_stream import SocketByteStream

__all__ = [
    "ANY_HOST",
    "KeepAlive",
    "TcpListener",
    "UnixListener",
    "configure_tcp_socket",
    "connect_tcp",
    "connect_unix",
    "listen_tcp",
    "listen_unix",
    "parse_port_range",
]

#: The host name that means "every interface" (``0.0.0.0``, or ``::`` with IPv6).
ANY_HOST: Final = "any"

_BACKLOG: Final = 1024


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """TCP keepalive settings: probe after ``idle`` seconds of silence, every ``interval``
    seconds, and drop the connection after ``count`` unanswered probes (30 + 10 * 3 = 60 s)."""

    idle: int = 30
    interval: int = 10
    count: int = 3

    def __post_init__(self) -> None:
        for name in ("idle", "interval", "count"):
            if getattr(self, name) < 1:
                raise ValueError(f"KeepAlive.{name} must be at least 1")


def _keepalive(keepalive: KeepAlive | bool | None) -> KeepAlive | None:
    if keepalive is True:
        return KeepAlive()
    if keepalive is False or keepalive is None:
        return None
    return keepalive


def configure_tcp_socket(sock: socket.socket, keepalive: KeepAlive | bool | None = True) -> None:
    """Set ``TCP_NODELAY`` and, unless ``keepalive`` is false, ``SO_KEEPALIVE`` with the
    probe timings that the platform supports (``TCP_KEEPIDLE``/``TCP_KEEPALIVE``,
    ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    settings = _keepalive(keepalive)
    if settings is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # Looked up by name: which of these exist depends on the platform (macOS calls the idle
    # time TCP_KEEPALIVE).
    idle_option = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    for option, value in (
        (idle_option, settings.idle),
        (getattr(socket, "TCP_KEEPINTVL", None), settings.interval),
        (getattr(socket, "TCP_KEEPCNT", None), settings.count),
    ):
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _raw_socket(stream: SocketStream) -> socket.socket:
    return stream.extra(SocketAttribute.raw_socket)


async def _configured(stream: SocketStream, keepalive: KeepAlive | bool | None) -> SocketStream:
    try:
        configure_tcp_socket(_raw_socket(stream), keepalive)
    except BaseException:
        await anyio.aclose_forcefully(stream)
        raise
    return SocketByteStream(stream)


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


#: accept() errors that concern one connection only: skip it and accept the next.
_ACCEPT_SKIP: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
#: accept() errors from exhausted resources: wait a little for some to be freed, then go on.
_ACCEPT_BACKOFF: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_BACKOFF_SECONDS: Final = 0.1


async def _serve(
    accept: Callable[[], Awaitable[SocketStream]],
    handler: Callable[[SocketStream], Any],
    task_group: TaskGroup | None,
) -> None:
    """The accept loop of both listeners. A server must outlive a bad connection and a moment
    of fd exhaustion, so those accept() errors are ridden out (anyio reports them as
    BrokenResourceError caused by the OSError); any other error ends the loop."""
    async with AsyncExitStack() as stack:
        if task_group is None:
            task_group = await stack.enter_async_context(anyio.create_task_group())
        while True:
            try:
                stream = await accept()
            except (OSError, anyio.BrokenResourceError) as exc:
                error = find_os_error(exc)
                if error is None:
                    raise
                if error.errno in _ACCEPT_SKIP:
                    continue
                if error.errno in _ACCEPT_BACKOFF:
                    await anyio.sleep(_ACCEPT_BACKOFF_SECONDS)
                    continue
                raise
            task_group.start_soon(handler, stream)


# ---------------------------------------------------------------------------------------------
# TCP
# ---------------------------------------------------------------------------------------------


async def connect_tcp(
    host: str,
    port: int,
    *,
    # The timeout covers resolution and every attempt; the spec's connect timeout is 180 s.
    timeout: float | None = None,
    keepalive: KeepAlive | bool = True,
) -> SocketStream:
    """Connect to ``host:port``, trying every resolved address (anyio's happy eyeballs).

    Raises :class:`TimeoutError` after ``timeout`` seconds, or an :class:`OSError` naming the
    destination with the errno of the first failed attempt (so a refused connection is a
    :class:`ConnectionRefusedError`).
    """
    try:
        with anyio.fail_after(timeout):
            stream = await anyio.connect_tcp(host, port)
    except TimeoutError:
        raise TimeoutError(
            errno.ETIMEDOUT, f"connecting to {_format_host(host)}:{port} timed out"
        ) from None
    except OSError as exc:
        first = find_os_error(exc)
        if first is None:
            raise
        # A resolution failure stays a socket.gaierror; errno picks the OSError subclass
        # (ECONNREFUSED -> ConnectionRefusedError, ...).
        error_type = socket.gaierror if isinstance(first, socket.gaierror) else OSError
        raise error_type(
            first.errno, f"cannot connect to {_format_host(host)}:{port}: {first.strerror}"
        ) from exc
    return await _configured(stream, keepalive)


def parse_port_range(ports: int | range | tuple[int, int] | str) -> range:
    """Normalise a port specification to a ``range``.

    ``int`` is one port (``0``: the OS picks); ``(P1, P2)`` and the string ``"P1:P2"`` are
    inclusive ranges; a ``range`` is taken as is; ``"P"`` is one port.
    """
    if isinstance(ports, str):
        first, sep, last = ports.partition(":")
        try:
            result = range(int(first), int(last) + 1) if sep else range(int(first), int(first) + 1)
        except ValueError:
            raise ValueError(f"invalid port or port range: {ports!r}") from None
    elif isinstance(ports, range):
        result = ports
    elif isinstance(ports, tuple):
        first_port, last_port = ports
        result = range(first_port, last_port + 1)
    else:
        result = range(ports, ports + 1)
    if len(result) == 0:
        raise ValueError(f"empty port range: {ports!r}")
    if min(result) < 0 or max(result) > 65535:
        raise ValueError(f"port out of range 0-65535: {ports!r}")
    return result


def _describe_ports(ports: range) -> str:
    if len(ports) == 1:
        return str(ports[0])
    if ports.step == 1:
        return f"{ports[0]}:{ports[-1]}"
    return repr(ports)


async def _bind_addresses(host: str, ipv6: bool) -> list[tuple[socket.AddressFamily, str]]:
    """The (family, IP) candidates to bind for ``host``."""
    if host.lower() in (ANY_HOST, ""):
        return [(socket.AF_INET6, "::")] if ipv6 else [(socket.AF_INET, "0.0.0.0")]
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        return [(family, str(address))]
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    infos = await anyio.getaddrinfo(host, 0, family=family, type=socket.SOCK_STREAM)
    candidates: list[tuple[socket.AddressFamily, str]] = []
    for info_family, *_, sockaddr in infos:
        candidate = (socket.AddressFamily(info_family), str(sockaddr[0]))
        if candidate not in candidates:
            candidates.append(candidate)
    return candidates


def _bind_tcp(family: socket.AddressFamily, ip: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # "::" accepts IPv4 too (dual stack), like the original's bind of [::].
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if ip == "::" else 1)
        sock.bind((ip, port))
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


class TcpListener(anyio.abc.Listener[SocketStream]):
    """A TCP listener bound to one address; accepted streams get :func:`configure_tcp_socket`."""

    def __init__(self, listener: SocketListener, keepalive: KeepAlive | bool | None) -> None:
        self._listener = listener
        self._keepalive = _keepalive(keepalive)
        sockname = listener.extra(SocketAttribute.local_address)
        assert isinstance(sockname, tuple)
        self._host = str(sockname[0])
        self._port = int(sockname[1])

    @property
    def host(self) -> str:
        """The bound IP address, e.g. ``0.0.0.0``, ``::`` or ``127.0.0.1``."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when 0 was asked for)."""
        return self._port

    @property
    def keepalive(self) -> KeepAlive | None:
        return self._keepalive

    async def accept(self) -> SocketStream:
        """Wait for the next connection (one that resets before its options are set is
        dropped, and the wait goes on)."""
        while True:
            stream = await self._listener.accept()
            try:
                return await _configured(stream, self._keepalive)
            except OSError:
                continue

    async def serve(
        self, handler: Callable[[SocketStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        """Accept connections forever, running ``handler(stream)`` for each in ``task_group``
        (a new one by default). See :func:`_serve` for the errors it rides out."""
        await _serve(self.accept, handler, task_group)

    async def aclose(self) -> None:
        await self._listener.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._listener.extra_attributes

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {_format_host(self._host)}:{self._port}>"


async def listen_tcp(
    host: str = ANY_HOST,
    ports: int | range | tuple[int, int] | str = 0,
    *,
    ipv6: bool = False,
    keepalive: KeepAlive | bool = True,
) -> TcpListener:
    """Listen on the first bindable port of ``ports`` (see :func:`parse_port_range`).

    ``host`` is ``"any"`` (``0.0.0.0``, or ``::`` — dual stack — when ``ipv6``), an IP address,
    or a name resolved in the family that ``ipv6`` selects. Raises :class:`OSError` with
    ``EADDRINUSE`` naming the range when no port is bindable.
    """
    port_range = parse_port_range(ports)
    candidates = await _bind_addresses(host, ipv6)
    if not candidates:
        raise OSError(errno.EADDRNOTAVAIL, f"no address to bind for host {host!r}")
    last_error: OSError | None = None
    in_use: OSError | None = None
    for port in port_range:
        for family, ip in candidates:
            try:
                sock = _bind_tcp(family, ip, port)
            except OSError as exc:
                last_error = exc
                if exc.errno == errno.EADDRINUSE:
                    in_use = exc
                continue
            try:
                listener = await SocketListener.from_socket(sock)
            except BaseException:
                sock.close()
                raise
            return TcpListener(listener, keepalive)
    assert last_error is not None
    where = ", ".join(_format_host(ip) for _, ip in candidates)
    if in_use is not None:
        raise OSError(
            errno.EADDRINUSE,
            f"address in use: no bindable port in {_describe_ports(port_range)} on {where}",
        ) from in_use
    raise OSError(
        last_error.errno,
        f"cannot bind {where} port {_describe_ports(port_range)}: {last_error.strerror}",
    ) from last_error


# ---------------------------------------------------------------------------------------------
# Unix sockets
# ---------------------------------------------------------------------------------------------


async def connect_unix(path: str | os.PathLike[str]) -> SocketStream:
    """Connect to the Unix socket at ``path``; an :class:`OSError` names the path (a missing
    socket is :class:`FileNotFoundError`, a stale one :class:`ConnectionRefusedError`)."""
    path = os.fspath(path)
    try:
        return SocketByteStream(await anyio.connect_unix(path))
    except OSError as exc:
        first = find_os_error(exc)
        if first is None:
            raise
        raise OSError(first.errno, f"cannot connect to {path}: {first.strerror}") from exc


def _socket_is_live(path: str) -> bool:
    """Whether something accepts connections on the socket file at ``path`` (never blocks).

    Only a refused connection proves the file stale; an error that says nothing either way
    (such as EACCES) is raised rather than guessed at.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        result = probe.connect_ex(path)
    finally:
        probe.close()
    # EAGAIN: a listener whose backlog is full is still alive.
    if result in (0, errno.EAGAIN, errno.EINPROGRESS, errno.EWOULDBLOCK):
        return True
    if result in (errno.ECONNREFUSED, errno.ENOENT):
        return False
    raise OSError(result, f"cannot tell whether {path} is in use: {os.strerror(result)}")


def _address_in_use(path: str) -> OSError:
    return OSError(errno.EADDRINUSE, f"address in use: {path}")


def _remove_stale(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise OSError(errno.EEXIST, f"exists and is not a socket: {path}")
    if _socket_is_live(path):
        raise _address_in_use(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _bind_unix(path: str, mode: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        # The umask is process-wide, so it is changed only around the bind() syscall itself:
        # the socket file is born with exactly `mode`.
        previous = os.umask(0o777 & ~mode)
        try:
            sock.bind(path)
        finally:
            os.umask(previous)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


class UnixListener(anyio.abc.Listener[SocketStream]):
    """A listener on a Unix socket file, which it removes when closed (if it is still ours)."""

    def __init__(self, listener: SocketListener, path: str, identity: tuple[int, int]) -> None:
        self._listener = listener
        self._path = path
        self._identity = identity
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    async def accept(self) -> SocketStream:
        """Wait for the next connection."""
        return SocketByteStream(await self._listener.accept())

    async def serve(
        self, handler: Callable[[SocketStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        """Accept connections forever, running ``handler(stream)`` for each in ``task_group``
        (a new one by default). See :func:`_serve` for the errors it rides out."""
        await _serve(self.accept, handler, task_group)

    def _unlink(self) -> None:
        try:
            st = os.lstat(self._path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._unlink()
        await self._listener.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._listener.extra_attributes

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path}>"


async def listen_unix(
    path: str | os.PathLike[str], *, mode: int = 0o600, make_parents: bool = True
) -> UnixListener:
    """Listen on a Unix socket at ``path`` whose file mode is ``mode`` (0600 owner, 0660 group,
    0666 anyone), set by the umask at bind time.

    Parent directories are created (``make_parents``). A stale socket file (nothing answers a
    connect) is replaced; a live one raises ``OSError(EADDRINUSE, "address in use: <path>")``;
    any other kind of file there raises ``EEXIST``.
    """
    if mode & ~0o777:
        raise ValueError(f"mode must be permission bits only, got {oct(mode)}")
    path = os.fspath(path)
    if make_parents:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    try:
        sock = _bind_unix(path, mode)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _address_in_use(path) from exc
        raise
    try:
        st = os.lstat(path)
        listener = await SocketListener.from_socket(sock)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return UnixListener(listener, path, (st.st_dev, st.st_ino))
