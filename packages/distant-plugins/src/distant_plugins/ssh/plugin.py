"""The ``ssh`` plugin: ``connect ssh://…`` serves the distant API over an ssh connection,
``launch ssh://…`` starts a distant server over ssh and reports where to reach it.

**connect.** The destination gives host, user and port; the options (see
:mod:`.options`) the rest. The backend (``ssh.backend``: ``asyncssh``, the default, or
``openssh``) opens an :class:`~.session.SshSession`, and :class:`~.api.SshApi` on it is
served to the manager in-process (:func:`~distant_plugins.in_process.serve_api`). asyncssh
is asyncio-only, so with it the whole connection (opening the session and serving the API)
runs inside :func:`~.bridge.asyncio_loop`. When the ssh connection drops, the link is
closed at once, so the manager's channels learn it; when the manager ends the connection,
the ssh session is closed.

**launch.** Over a fresh ssh session: resolve the bind address, run the server command
(:mod:`.launch`), read its credentials, close the session (the server runs ``--daemon`` and
outlives it), and return ``distant://:KEY@SSH_HOST:PORT``: the host is always the ssh host,
which the user can reach (upstream replaces the bound address the same way). The manager's
client then connects to that destination through the built-in ``distant`` plugin.

**launch with ``ssh.tunnel=true``** (``tunnel=true``; our addition): no port but ssh's needs
to be open. The server binds ``127.0.0.1`` on the remote, and the launch returns an *ssh*
destination ``ssh://USER:KEY@SSH_HOST:SSH_PORT`` instead, so the follow-up connect comes
back to this plugin. Because that connect carries no options (the CLI connects to the
launched destination with none), the plugin remembers each tunnelled launch, by its key:
the ssh target and backend, the server's remote address, and the timeout. ``connect``
recognises such a destination by the key in its password slot, opens a new ssh session
(with the same options as the launch), and runs a distant-net connection to the server
through a ``direct-tcpip`` channel of it (``session.open_tcp``), authenticating with the
key; a lost channel is redialled through the same session, and a lost ssh connection ends
the link. A new ssh session per connection (rather than keeping the launch's) keeps each
session inside the asyncio loop of the task that uses it, and lets ``distant connect`` of
the same destination work again after a kill. A destination with a 64-hex-digit password
that this plugin did not launch (another manager, or one restarted since) is refused with a
clear error rather than tried as an ssh password.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import anyio.abc

from distant_auth import SecretKey
from distant_codec import Destination
from distant_manager import KeyAuthHandler, PluginError, ServerLink, connection_errors
from distant_net import (
    AsyncAuthHandler,
    ExponentialBackoff,
    open_connection,
)

from .launch import resolve_bind, server_command, start_server
from .options import (
    SshOptions,
    build_target,
    parse_launch_settings,
    parse_ssh_options,
)
from .session import SessionOpener, SshSession, SshTarget

__all__ = ["SshPlugin", "open_session", "TUNNEL_BIND"]

log = logging.getLogger("distant_plugins.ssh")

TUNNEL_BIND = "127.0.0.1"
"""Where a tunnelled launch binds the server on the remote host."""

_GLOBAL_HOSTS = {"0.0.0.0", "::"}


@dataclass(frozen=True, slots=True)
class _Tunnel:
    """A tunnelled launch: how to reach its server again."""

    backend: str
    target: SshTarget
    server_host: str
    server_port: int
    key: str
    timeout: float


class SshPlugin:
    """Scheme ``ssh``: connect (the distant API over ssh) and launch (a server over ssh)."""

    name = "ssh"
    schemes: tuple[str, ...] = ("ssh",)

    def __init__(self) -> None:
        self._tunnels: dict[str, _Tunnel] = {}

    # -- connect -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connect(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> AsyncIterator[ServerLink]:
        tunnel = self._tunnel_for(destination)
        if tunnel is not None:
            async with _connect_tunnel(tunnel, auth) as link:
                yield link
            return
        ssh_options = _parse(options)
        target = build_target(destination, ssh_options)
        from distant_plugins.in_process import serve_api

        from .api import SshApi

        async with (
            open_session(ssh_options.backend, target, auth) as session,
            serve_api(SshApi(session)) as link,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_close_when_lost, session, link)
            yield link
            tg.cancel_scope.cancel()

    def _tunnel_for(self, destination: Destination) -> _Tunnel | None:
        password = destination.password
        if not password:
            return None
        for key, tunnel in self._tunnels.items():
            if hmac.compare_digest(key.encode(), password.strip().lower().encode()):
                return tunnel
        if _looks_like_key(password):
            raise PluginError(
                f"{destination.redacted()} is a tunnelled launch this manager does not know "
                "(launched by another manager, or before a restart); launch it again"
            )
        log.info("ignoring the password in %s: ssh asks for it", destination.redacted())
        return None

    # -- launch ------------------------------------------------------------------------------

    async def launch(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> Destination:
        ssh_options = _parse(options)
        settings = parse_launch_settings(options)
        target = build_target(destination, ssh_options)
        async with open_session(ssh_options.backend, target, auth) as session:
            if ssh_options.tunnel:
                if settings.bind_server not in {"ssh", "any", TUNNEL_BIND}:
                    log.info(
                        "tunnelled launch: binding %s, not %s", TUNNEL_BIND, settings.bind_server
                    )
                bind = TUNNEL_BIND
            else:
                bind = await resolve_bind(session, settings.bind_server)
            launched = await start_server(session, server_command(settings, bind), settings.timeout)
        credentials = launched.credentials
        key = credentials.password or ""
        port = credentials.port
        if port is None:  # pragma: no cover - find_credentials requires a port
            raise PluginError("the launched server printed no port")
        if not ssh_options.tunnel:
            return Destination(host=destination.host, scheme="distant", password=key, port=port)
        server_host = credentials.host
        if server_host in _GLOBAL_HOSTS:
            server_host = TUNNEL_BIND
        self._tunnels[key.lower()] = _Tunnel(
            backend=ssh_options.backend,
            target=target,
            server_host=server_host,
            server_port=port,
            key=key,
            timeout=settings.timeout,
        )
        return Destination(
            host=destination.host,
            scheme="ssh",
            username=destination.username,
            password=key,
            port=destination.port,
        )

    async def aclose(self) -> None:
        """Forget the tunnelled launches (their servers run on, as upstream's do)."""
        self._tunnels.clear()


def _parse(options: dict[str, str]) -> SshOptions:
    parsed = parse_ssh_options(options)
    for note in parsed.notes:
        log.info("%s", note)
    return parsed


def _looks_like_key(text: str) -> bool:
    if len(text) != 64:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


@contextlib.asynccontextmanager
async def open_session(
    backend: str, target: SshTarget, auth: AsyncAuthHandler
) -> AsyncIterator[SshSession]:
    """An open session with ``backend`` for the context's life (closed on exit). With
    asyncssh the context runs inside an asyncio loop, so everything done with the session
    inside it may use asyncssh."""
    if backend == "openssh":
        from .openssh_backend import open_openssh_session

        async with _opened(open_openssh_session, target, auth) as session:
            yield session
        return
    from .asyncssh_backend import open_asyncssh_session
    from .bridge import asyncio_loop

    try:
        async with asyncio_loop(), _opened(open_asyncssh_session, target, auth) as session:
            yield session
    except BaseExceptionGroup as group:
        # trio-asyncio's loop is a nursery: it wraps what crosses it (a PluginError the
        # manager must show, a cancellation) in a group. Pass a lone exception on as is.
        inner = _lone_exception(group)
        if inner is None:
            raise
        raise inner from inner.__cause__


def _lone_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    found: BaseException = group
    while isinstance(found, BaseExceptionGroup):
        if len(found.exceptions) != 1:
            return None
        found = found.exceptions[0]
    return found


@contextlib.asynccontextmanager
async def _opened(
    opener: SessionOpener, target: SshTarget, auth: AsyncAuthHandler
) -> AsyncIterator[SshSession]:
    with connection_errors(f"{target.host}:{target.port or 22} over ssh"):
        session = await opener(target, auth)
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await session.aclose()


async def _close_when_lost(session: SshSession, link: ServerLink) -> None:
    """End the link as soon as the ssh connection is gone."""
    await session.wait_closed()
    if not link.closed:
        log.info("the ssh connection was lost")
        await link.aclose("the ssh connection was lost")


@contextlib.asynccontextmanager
async def _connect_tunnel(tunnel: _Tunnel, auth: AsyncAuthHandler) -> AsyncIterator[ServerLink]:
    handler = KeyAuthHandler(SecretKey.from_hex(tunnel.key), auth)
    where = f"{tunnel.server_host}:{tunnel.server_port} through ssh to {tunnel.target.host}"
    async with open_session(tunnel.backend, tunnel.target, auth) as session:

        async def dial() -> anyio.abc.ByteStream:
            # An OSError is a failed attempt to the reconnector; the link itself is ended
            # by _close_when_lost once the ssh connection is gone.
            if session.closed:
                raise OSError(errno.ENOTCONN, "the ssh connection was lost")
            return await session.open_tcp(tunnel.server_host, tunnel.server_port)

        with connection_errors(where):
            async with (
                open_connection(
                    dial,
                    handler=handler,
                    strategy=ExponentialBackoff(),
                    connect_timeout=tunnel.timeout,
                ) as connection,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(_close_when_lost, session, connection)
                yield connection
                tg.cancel_scope.cancel()
