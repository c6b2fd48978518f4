"""Binding, printing the credentials, and serving until the shutdown policy fires."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from distant_net import Shutdown

__all__ = [
    "ListenOptions",
    "WatchSettings",
    "serve_until_shutdown",
    "credentials_block",
    "tune_gc",
]


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """The ``--watch-*`` flags (seconds)."""

    polling: bool = False
    poll_interval: float | None = None
    compare_contents: bool = False
    debounce_timeout: float = 0.5
    debounce_tick_rate: float | None = None


@dataclass(frozen=True, slots=True)
class ListenOptions:
    host: str
    ports: range
    shutdown: Shutdown
    key: bytes
    current_dir: str | None = None
    daemon: bool = False
    watch: WatchSettings = WatchSettings()
    log_file: str | None = None
    log_level: str = "info"

    def __repr__(self) -> str:  # the key is a secret
        return f"ListenOptions(host={self.host!r}, ports={self.ports!r}, key=<redacted>)"


def credentials_block(key: bytes, host: str, port: int) -> str:
    """The three lines ``server listen`` prints: ``\\r``, the URL, ``\\r`` (§8.1)."""
    from distant_codec import format_credentials

    return "\r\n" + format_credentials(key.hex(), host, port) + "\n" + "\r\n"


def serve_until_shutdown(options: ListenOptions, ready: Callable[[], None] | None) -> int:
    """Bind, print the credentials, call ``ready`` (daemon hand-off), serve; exit code."""
    import anyio

    tune_gc()
    return anyio.run(_serve, options, ready, backend="trio")


def tune_gc() -> None:
    """Collect less often: a server allocates a few short-lived objects per message, and
    the default threshold (700) made generation-0 collections about 7% of its time.
    Objects alive after start-up are frozen out of every collection."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


async def _serve(options: ListenOptions, ready: Callable[[], None] | None) -> int:
    from distant_auth import SecretKey
    from distant_net import listen_tcp

    from .host.api import HostApi
    from .server import make_server

    try:
        listener = await listen_tcp(options.host, options.ports)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    api = HostApi(watch=options.watch)
    server = make_server(api, SecretKey(options.key), shutdown=options.shutdown)
    sys.stdout.write(credentials_block(options.key, listener.host, listener.port))
    sys.stdout.flush()
    if ready is not None:
        ready()
    await server.serve(listener)
    return 0
