"""Click options shared by every command (§12.1), for the click application.

The flags that every command accepts (``--config``, ``--log-level``, ``--log-file``,
``--cache``, ``--unix-socket``, ``--windows-pipe``) are not passed to the command
functions: their callbacks store them in the :class:`~distant_cli.session.Globals` of the
click context, which commands get with :func:`get_globals` (already finalized: environment
and config defaults applied, logging set up). ``-f/--format`` and ``--connection`` are
passed as parameters (``fmt`` and ``connection``); ``-f`` also records the format in the
globals, so that errors of ``--format json`` commands are printed as JSON.

Usage in a command module::

    @click.command("exists")
    @click.argument("path")
    @connection_option
    @common_options
    def exists_command(path: str, connection: int | None) -> None:
        raise SystemExit(fs_exists(get_globals(), connection, path))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .logs import LOG_LEVELS
from .session import Globals

__all__ = [
    "CONNECTION_ID",
    "get_globals",
    "global_options",
    "network_options",
    "cache_option",
    "common_options",
    "connection_option",
    "format_option",
]

F = TypeVar("F", bound=Callable[..., Any])

CONNECTION_ID = click.IntRange(0, 2**32 - 1)
"""A connection id (u32)."""


def get_globals(ctx: click.Context | None = None, section: str = "client") -> Globals:
    """The globals of this invocation, finalized for the config ``section``."""
    ctx = ctx or click.get_current_context()
    g = ctx.find_object(Globals)
    if g is None:
        g = ctx.ensure_object(Globals)
    return g.finalize(section)


def _raw_globals(ctx: click.Context) -> Globals:
    g = ctx.find_object(Globals)
    return g if g is not None else ctx.ensure_object(Globals)


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(_raw_globals(ctx), attr, value)
        return value

    return callback


def _apply(f: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def global_options(f: F) -> F:
    """``--config``, ``--log-level``, ``--log-file`` (also accepted after the command)."""
    return _apply(
        f,
        [
            click.option("--config", "config", metavar="CONFIG_PATH", expose_value=False,
                         callback=_store("config"),
                         help="Configuration file to load instead of the default paths"),
            click.option("--log-level", type=click.Choice(LOG_LEVELS), expose_value=False,
                         callback=_store("log_level"),
                         help="Log level to use throughout the application"),
            click.option("--log-file", metavar="LOG_FILE", expose_value=False,
                         callback=_store("log_file"), help="Path to file to use for logging"),
        ],
    )  # fmt: skip


def network_options(f: F) -> F:
    """``--unix-socket`` (default: $DISTANT_UNIX_SOCKET) and ``--windows-pipe``."""
    return _apply(
        f,
        [
            click.option("--unix-socket", metavar="UNIX_SOCKET", expose_value=False,
                         callback=_store("unix_socket"),
                         help="Override the path to the Unix socket used by the manager "
                         "(default: $DISTANT_UNIX_SOCKET)"),
            click.option("--windows-pipe", metavar="WINDOWS_PIPE", expose_value=False,
                         help="Override the name of the local named Windows pipe used by "
                         "the manager (windows-only; ignored here)"),
        ],
    )  # fmt: skip


def cache_option(f: F) -> F:
    """``--cache`` (default: $DISTANT_CACHE, else ~/.cache/distant/cache.toml)."""
    return click.option("--cache", metavar="CACHE", expose_value=False, callback=_store("cache"),
                        help="Location to store cached data (default: $DISTANT_CACHE or "
                        "~/.cache/distant/cache.toml)")(f)  # fmt: skip


def common_options(f: F) -> F:
    """Every flag a client command accepts besides its own."""
    return cache_option(network_options(global_options(f)))


def connection_option(f: F) -> F:
    """``--connection ID``, passed as ``connection: int | None``."""
    return click.option("--connection", type=CONNECTION_ID, default=None, metavar="ID",
                        help="Specify a connection being managed")(f)  # fmt: skip


def _store_format(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        _raw_globals(ctx).format = value
    return value


def format_option(f: F) -> F:
    """``-f/--format shell|json``, passed as ``fmt: str``."""
    return click.option("-f", "--format", "fmt", type=click.Choice(["shell", "json"]),
                        default="shell", show_default=True, callback=_store_format,
                        is_eager=True, help="Output and authentication format")(f)  # fmt: skip
