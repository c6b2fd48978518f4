"""The built-in ``distant`` plugin (§8.2): connect to a ``distant://`` server over TCP, and
launch a local ``distant-server listen`` for ``manager://`` / ``distant://`` launches.

Connections reconnect with exponential backoff and replay (distant-net). A server this
plugin launched is terminated and reaped when the connection to it ends, or when the
manager stops, so nothing is left behind (upstream issue 220).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import anyio.abc

from distant_auth import SecretKey
from distant_codec import Destination, find_credentials
from distant_net import AsyncAuthHandler, ExponentialBackoff, connect_tcp, open_connection

from .auth_relay import KeyAuthHandler
from .plugin import PluginError, ServerLink, connection_errors

__all__ = ["DistantPlugin", "LAUNCH_TIMEOUT", "CONNECT_TIMEOUT"]

log = logging.getLogger("distant_manager.distant")

CONNECT_TIMEOUT = 180.0
"""Seconds to establish a connection (§8.2)."""

LAUNCH_TIMEOUT = 15.0
"""Seconds a launched server has to print its credentials."""

_GLOBAL_HOSTS = {"0.0.0.0", "::", "[::]"}


@dataclass
class _Launched:
    process: anyio.abc.Process
    port: int
    exited: anyio.Event


class DistantPlugin:
    """Schemes ``distant`` and ``manager`` (launch only makes sense for both locally)."""

    name = "distant"
    schemes: tuple[str, ...] = ("distant", "manager")

    def __init__(self) -> None:
        self._launched: dict[int, _Launched] = {}  # by port: destinations carry no pid
        self._tg: anyio.abc.TaskGroup | None = None

    def bind(self, tg: anyio.abc.TaskGroup) -> None:
        """Give the plugin the manager's task group (for draining launched servers)."""
        self._tg = tg

    # -- connect -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connect(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> AsyncIterator[ServerLink]:
        if destination.port is None:
            raise PluginError(f"{destination.redacted()}: a distant destination needs a port")
        key_text = destination.password or options.get("key")
        handler = auth
        if key_text:
            try:
                key = SecretKey.from_hex(key_text.strip())
            except ValueError:
                raise PluginError("the key must be 64 hex digits (32 bytes)") from None
            handler = KeyAuthHandler(key, auth)
        host, port = destination.host, destination.port

        async def dial() -> anyio.abc.ByteStream:
            return await connect_tcp(host, port, timeout=CONNECT_TIMEOUT)

        established = False
        watched = self._launched.get(port) if _is_local(host) else None
        try:
            with connection_errors(f"{host}:{port}"):
                async with (
                    open_connection(
                        dial,
                        handler=handler,
                        strategy=ExponentialBackoff(),
                        connect_timeout=CONNECT_TIMEOUT,
                    ) as connection,
                    anyio.create_task_group() as tg,
                ):
                    established = True
                    if watched is not None:
                        # A server we launched that dies will not come back: end the
                        # connection now rather than retrying (its channels learn at once).
                        tg.start_soon(_close_when_exited, watched, connection)
                    yield connection
                    tg.cancel_scope.cancel()
        finally:
            # A server we launched ends with the connection to it (not with a failed try).
            launched = self._launched.get(port) if established and _is_local(host) else None
            if launched is not None:
                del self._launched[port]
                await _terminate(launched.process)

    # -- launch ------------------------------------------------------------------------------

    async def launch(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> Destination:
        """Start ``distant-server listen`` here and return its credentials (§8.2)."""
        bind = options.get("distant.bind_server") or "any"
        if bind == "ssh":
            bind = "any"
        cmd = _server_command(options.get("distant.bin"))
        cmd += ["--host", bind]
        if destination.port is not None:
            cmd += ["--port", str(destination.port)]
        cmd += shlex.split(options.get("distant.args", ""))
        log.info("launching %s", shlex.join(cmd))
        try:
            process = await anyio.open_process(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None,  # the manager's own stderr (its log when detached)
                start_new_session=True,
            )
        except OSError as exc:
            raise PluginError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
        try:
            credentials = await _read_credentials(process, LAUNCH_TIMEOUT)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _terminate(process)
            raise
        if credentials.port is None:  # pragma: no cover - find_credentials requires one
            await _terminate(process)
            raise PluginError("the launched server printed no port")
        launched = _Launched(process, credentials.port, anyio.Event())
        self._launched[credentials.port] = launched
        if self._tg is not None:
            self._tg.start_soon(_drain, launched)
        host = credentials.host
        if host in _GLOBAL_HOSTS:
            host = destination.host or "localhost"
        return Destination(
            host=host, scheme="distant", password=credentials.password, port=credentials.port
        )

    async def aclose(self) -> None:
        launched, self._launched = list(self._launched.values()), {}
        with anyio.CancelScope(shield=True):
            for item in launched:
                await _terminate(item.process)


def _server_command(binary: str | None) -> list[str]:
    """``<bin> server listen`` when a binary is named (upstream's form), else this Python's
    own ``distant-server listen``."""
    if binary:
        return [*shlex.split(binary), "server", "listen"]
    return [sys.executable, "-m", "distant_server", "listen"]


def _is_local(host: str) -> bool:
    return host in {"localhost", "127.0.0.1", "::1", "[::1]", *_GLOBAL_HOSTS}


async def _read_credentials(process: anyio.abc.Process, timeout: float) -> Destination:
    assert process.stdout is not None
    seen = ""
    try:
        with anyio.fail_after(timeout):
            async for chunk in process.stdout:
                seen += chunk.decode("utf-8", "replace")
                for line in seen.splitlines():
                    found = find_credentials(line.strip())
                    if found is not None:
                        return found
    except TimeoutError:
        raise PluginError(f"the launched server printed no credentials in {timeout:g} s") from None
    code = await process.wait()
    raise PluginError(f"the launched server exited with code {code} before it was ready")


async def _drain(launched: _Launched) -> None:
    """Keep reading the server's stdout so it can never block on a full pipe; then reap it
    and tell whoever watches that it exited."""
    process = launched.process
    assert process.stdout is not None
    try:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for _ in process.stdout:
                pass
        await process.wait()
    finally:
        launched.exited.set()


async def _close_when_exited(launched: _Launched, link: ServerLink) -> None:
    await launched.exited.wait()
    code = launched.process.returncode
    log.info("the launched server on port %d exited (code %s)", launched.port, code)
    await link.aclose(f"the server exited (code {code})")


async def _terminate(process: anyio.abc.Process) -> None:
    """SIGTERM, then SIGKILL after 5 s; always reaped."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with anyio.move_on_after(5):
            await process.wait()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
