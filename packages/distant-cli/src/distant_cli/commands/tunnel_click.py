"""The click form of ``distant tunnel ...``; the work is done by :mod:`.tunnel`."""

from __future__ import annotations

import click

from distant_cli.commands import tunnel
from distant_cli.options import common_options, connection_option, get_globals

__all__ = ["tunnel_group"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _done(code: int) -> None:
    raise SystemExit(code)


@click.group("tunnel", context_settings=CONTEXT)
def tunnel_group() -> None:
    """Manage TCP tunnels kept open by the manager."""


@tunnel_group.command("open", context_settings=CONTEXT)
@click.argument("spec", metavar="LOCAL_PORT:[HOST:]REMOTE_PORT")
@connection_option
@common_options
def open_command(spec: str, connection: int | None) -> None:
    """Forward a local port to HOST:REMOTE_PORT as seen from the server (0 = any port)."""
    _done(tunnel.tunnel_open(get_globals(), connection, spec))


@tunnel_group.command("listen", context_settings=CONTEXT)
@click.argument("spec", metavar="REMOTE_PORT:[HOST:]LOCAL_PORT")
@connection_option
@common_options
def listen_command(spec: str, connection: int | None) -> None:
    """Listen on the server's REMOTE_PORT and forward to HOST:LOCAL_PORT from here."""
    _done(tunnel.tunnel_listen(get_globals(), connection, spec))


@tunnel_group.command("close", context_settings=CONTEXT)
@click.argument("tunnel_id", metavar="ID", type=click.IntRange(0, 2**32 - 1))
@common_options
def close_command(tunnel_id: int) -> None:
    """Close the managed tunnel ID."""
    _done(tunnel.tunnel_close(get_globals(), None, tunnel_id))


@tunnel_group.command("list", context_settings=CONTEXT)
@common_options
def list_command() -> None:
    """List the managed tunnels."""
    _done(tunnel.tunnel_list(get_globals(), None))
