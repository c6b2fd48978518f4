"""``distant manager listen``: bind the socket (§9.1) and serve until told to stop."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .paths import ACCESS_MODES, listen_socket_path

__all__ = ["ManagerListenOptions", "listen_manager", "serve_manager"]

log = logging.getLogger("distant_manager")


@dataclass
class ManagerListenOptions:
    socket_path: str | None = None
    user: bool = False
    access: str = "owner"
    daemon: bool = False
    plugins: dict[str, str] = field(default_factory=dict)
    """External plugins ``NAME=PATH`` (served by distant-plugins; see issue 6)."""
    log_file: str | None = None
    log_level: str | None = None
    extra_plugins: Sequence[Any] = ()
    """Plugin objects to register beside the built-in ``distant`` one."""

    @property
    def path(self) -> str:
        return listen_socket_path(self.socket_path, user=self.user)


def listen_manager(options: ManagerListenOptions) -> int:
    """Run the manager in this process (or detached, with ``daemon``); the exit code."""
    if options.access not in ACCESS_MODES:
        print(f"error: --access must be one of {', '.join(ACCESS_MODES)}", file=sys.stderr)
        return 1
    if options.daemon:
        from distant_net.daemon import detach

        return detach(lambda ready: _run(options, ready), name="manager")
    return _run(options, None)


def _run(options: ManagerListenOptions, ready: Callable[[], None] | None) -> int:
    import anyio

    return anyio.run(serve_manager, options, ready, backend="trio")


async def serve_manager(
    options: ManagerListenOptions, ready: Callable[[], None] | None = None
) -> int:
    """Bind and serve until SIGTERM/SIGINT; every connection is closed and every launched
    server stopped before returning."""
    import anyio

    from distant_auth import Verifier
    from distant_codec import MANAGER_REQUEST, MANAGER_RESPONSE
    from distant_net import Server, ServerSettings, listen_unix

    from .distant_plugin import DistantPlugin
    from .manager import Manager
    from .registry import PluginRegistry

    path = options.path
    try:
        listener = await listen_unix(path, mode=ACCESS_MODES[options.access])
    except OSError as exc:
        print(f"error: cannot listen on {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    distant = DistantPlugin()
    try:
        registry = PluginRegistry([distant, *options.extra_plugins])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        await listener.aclose()
        return 1
    log.info("manager listening on %s", path)
    try:
        async with anyio.create_task_group() as tg:
            distant.bind(tg)
            manager = Manager(registry, tg)
            server: Server[Any, Any, Any] = Server(
                manager,
                request_kind=MANAGER_REQUEST,
                response_kind=MANAGER_RESPONSE,
                settings=ServerSettings(verifier=Verifier.none),
                # A CLI never reconnects: a lost link ends its channels at once, and no
                # backup of sent frames is kept (it would hold up to 256 MiB per client).
                grace=0.0,
                replay_bytes=0,
            )
            await tg.start(server.serve, listener)
            if ready is not None:
                ready()
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                async for signum in sigs:
                    log.info("manager stopping on signal %d", signum)
                    break
            for connection_id in list(manager.connections):
                with contextlib.suppress(ValueError):
                    await manager.kill(connection_id)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for plugin in registry.plugins:
                await plugin.aclose()
            await listener.aclose()
    return 0
