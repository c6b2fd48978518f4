"""``distant version`` and ``distant system-info`` (§12.2). Fast-path safe."""

from __future__ import annotations

import shutil

from distant_cli.main import FEATURES
from distant_cli.output import print_json, print_out, rust_debug, rust_debug_char
from distant_cli.rpc import call
from distant_cli.session import Globals
from distant_codec import PROTOCOL_VERSION, SystemInfo, Version
from distant_codec import requests as rq

__all__ = [
    "FEATURES",
    "KNOWN_CAPABILITIES",
    "cli_version",
    "capability_grid",
    "version",
    "system_info",
]

KNOWN_CAPABILITIES = (
    "exec",
    "fs_io",
    "fs_perm",
    "fs_search",
    "fs_watch",
    "sys_info",
    "tcp_rev_tunnel",
    "tcp_tunnel",
)
"""What a 0.21 client knows about (upstream's ``Version::capabilities()``)."""


def cli_version() -> str:
    """The version of this CLI: the distant-cli package version (``distant_cli.__version__``,
    which hatch also uses for the package metadata)."""
    from distant_cli import __version__

    return __version__


def capability_grid(server: tuple[str, ...], *, width: int | None = None) -> str:
    """``+cap``/``-cap`` for every capability known here or announced by the server, sorted,
    in an ASCII table of up to four columns (fewer on a narrow terminal)."""
    names = sorted(set(KNOWN_CAPABILITIES) | set(server))
    cells = [("+" if name in server else "-") + name for name in names]
    if not cells:
        return ""
    cell_width = max(len(c) for c in cells)
    if width is None:
        width = shutil.get_terminal_size((4 * (cell_width + 3) + 1, 24)).columns
    cols = max(1, min(4, (width - 1) // (cell_width + 3)))
    rows = [cells[i : i + cols] for i in range(0, len(cells), cols)]
    ncols = min(cols, len(cells))
    widths = [max(len(r[c]) for r in rows if c < len(r)) for c in range(ncols)]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [border]
    for row in rows:
        padded = [row[c] if c < len(row) else "" for c in range(ncols)]
        lines.append("|" + "|".join(f" {v:<{widths[c]}} " for c, v in enumerate(padded)) + "|")
        lines.append(border)
    return "\n".join(lines)


def version(g: Globals, connection: int | None, fmt: str = "shell") -> int:
    """``distant version``: the client's and the server's versions and capabilities."""
    reply = call(g, connection, rq.Version(), Version)
    if fmt == "json":
        print_json(reply.to_json())
        return 0
    print_out(f"Client: {cli_version()}+distant (Protocol {PROTOCOL_VERSION})")
    print_out(f"Server: {reply.server_version} (Protocol {reply.protocol_version})")
    print_out("Capabilities supported (+) or not (-):")
    print_out(capability_grid(tuple(reply.capabilities)))
    return 0


def system_info(g: Globals, connection: int | None) -> int:
    """``distant system-info``: facts about the remote host."""
    info = call(g, connection, rq.SystemInfo(), SystemInfo)
    print_out(
        f"Family: {rust_debug(info.family)}\n"
        f"Operating System: {rust_debug(info.os)}\n"
        f"Arch: {rust_debug(info.arch)}\n"
        f"Cwd: {rust_debug(info.current_dir)}\n"
        f"Path Sep: {rust_debug_char(info.main_separator)}\n"
        f"Username: {rust_debug(info.username)}\n"
        f"Shell: {rust_debug(info.shell)}"
    )
    return 0
