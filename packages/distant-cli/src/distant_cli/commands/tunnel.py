"""``distant tunnel open|listen|close|list`` (§12.2): TCP tunnels the manager keeps
running after the command returns (managed tunnels)."""

from __future__ import annotations

from distant_cli.commands.formatting import (
    TunnelSpec,
    format_tunnel_closed,
    format_tunnel_listening,
    format_tunnel_opened,
    format_tunnel_table,
    parse_tunnel_spec,
)
from distant_cli.commands.remote import cli_errors, write_stdout
from distant_cli.errors import CliError
from distant_cli.session import Globals, connect_manager, resolve_connection

__all__ = ["tunnel_open", "tunnel_listen", "tunnel_close", "tunnel_list"]


def _spec(text: str) -> TunnelSpec:
    try:
        return parse_tunnel_spec(text)
    except ValueError as exc:
        raise CliError(f"Failed to parse tunnel spec: {exc}") from None


def _manager_error() -> tuple[type[BaseException], ...]:
    from distant_manager.blocking_client import ManagerError

    return (ManagerError,)


@cli_errors
def tunnel_open(g: Globals, connection: int | None, spec: str) -> int:
    """``tunnel open L:[HOST:]R``: listen on local port L (0 = any), forward each
    connection to HOST:R as seen from the server."""
    return _start(g, connection, spec, reverse=False)


@cli_errors
def tunnel_listen(g: Globals, connection: int | None, spec: str) -> int:
    """``tunnel listen R:[HOST:]L``: the server listens on port R (0 = any) and each
    connection is forwarded to HOST:L as seen from this machine."""
    return _start(g, connection, spec, reverse=True)


def _start(g: Globals, connection: int | None, spec: str, *, reverse: bool) -> int:
    parsed = _spec(spec)
    with connect_manager(g) as client:
        cid = resolve_connection(g, client, connection)
        start = client.reverse_tunnel if reverse else client.forward_tunnel
        try:
            tid, port = start(cid, parsed.bind_port, parsed.host, parsed.peer_port)
        except _manager_error() as exc:
            raise CliError(
                f"Failed to start {'reverse' if reverse else 'forward'} tunnel "
                f"{parsed.bind_port}:{parsed.host}:{parsed.peer_port}: {exc}"
            ) from None
    formatted = (format_tunnel_listening if reverse else format_tunnel_opened)(tid, port, parsed)
    write_stdout(formatted.encode())
    return 0


@cli_errors
def tunnel_close(g: Globals, connection: int | None, tunnel_id: int) -> int:
    """``tunnel close ID``."""
    with connect_manager(g) as client:
        try:
            client.close_managed_tunnel(tunnel_id)
        except _manager_error() as exc:
            raise CliError(f"Failed to close tunnel {tunnel_id}: {exc}") from None
    write_stdout(format_tunnel_closed(tunnel_id).encode())
    return 0


@cli_errors
def tunnel_list(g: Globals, connection: int | None = None) -> int:
    """``tunnel list``: every managed tunnel (all connections)."""
    with connect_manager(g) as client:
        try:
            tunnels = client.list_managed_tunnels()
        except _manager_error() as exc:
            raise CliError(f"Failed to list managed tunnels: {exc}") from None
    rows = [(t.id, str(t.direction), t.bind_port, t.remote_host, t.remote_port) for t in tunnels]
    write_stdout(format_tunnel_table(rows).encode())
    return 0


def __getattr__(name: str) -> object:
    """``tunnel_group``, the click group, imported on first use."""
    if name == "tunnel_group":
        from distant_cli.commands.tunnel_click import tunnel_group

        return tunnel_group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
