"""The click form of ``distant copy``; the work is done by :mod:`.copy`."""

from __future__ import annotations

import click

from distant_cli.commands import copy
from distant_cli.options import common_options, connection_option, get_globals

__all__ = ["copy_command"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command("copy", context_settings=CONTEXT)
@click.argument("src")
@click.argument("dst")
@click.option("-r", "--recursive", is_flag=True, help="Copy directories recursively")
@connection_option
@common_options
def copy_command(src: str, dst: str, recursive: bool, connection: int | None) -> None:
    """Copies files between this machine and the remote one.

    Prefix the remote path with `:` (exactly one side), e.g. `distant copy ./a.txt :/tmp/`
    or `distant copy :/var/log/app.log .`; a bare `:` is the server's current directory.
    """
    raise SystemExit(copy.copy(get_globals(), connection, src, dst, recursive))
