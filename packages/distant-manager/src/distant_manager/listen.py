"""``distant manager listen``: bind the socket (§9.1) and serve until told to stop."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .paths import ACCESS_MODES, listen_socket_path

__all__ = ["ManagerListenOptions", "listen_manager", "serve_manager"]

log = logging.getLogger("distant_manager")

MANAGER_MAX_ITEM_SIZE = 64 * 1024 * 1024
"""The largest frame between the manager and its local clients."""

SHUTDOWN_TIMEOUT = 30.0
"""Seconds the manager gives its connections (and launched servers) to close on exit."""


@dataclass
class ManagerListenOptions:
    socket_path: str | None = None
    user: bool = False
    access: str = "owner"
    daemon: bool = False
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
    _configure_logging(options.log_file, options.log_level)
    if options.daemon:
        from distant_net.daemon import detach

        return detach(lambda ready: _run(options, ready), name="manager")
    return _run(options, None)


_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
           "debug": logging.DEBUG, "trace": logging.DEBUG}  # fmt: skip


def _configure_logging(log_file: str | None, log_level: str | None) -> None:
    """``--log-file``/``--log-level`` (default: warnings to stderr)."""
    name = (log_level or "warn").lower()
    if name == "off":
        logging.disable(logging.CRITICAL)
        return
    logging.basicConfig(
        filename=log_file,
        level=_LEVELS.get(name, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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
                # Local clients may take a server's largest reply even re-wrapped as an
                # int array for a channel without bin payloads (about twice the size).
                max_item_size=MANAGER_MAX_ITEM_SIZE,
            )
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                await tg.start(server.serve, listener)
                if ready is not None:
                    ready()
                async for signum in sigs:
                    log.info("manager stopping on signal %d", signum)
                    break
            with anyio.move_on_after(SHUTDOWN_TIMEOUT):
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
