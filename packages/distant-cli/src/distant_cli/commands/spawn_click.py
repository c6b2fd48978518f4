"""The click forms of ``distant spawn``, ``shell`` and ``ssh``; the work is done by
:mod:`.spawn`."""

from __future__ import annotations

import click

from distant_cli.commands import spawn
from distant_cli.options import common_options, connection_option, get_globals

__all__ = ["spawn_command", "shell_command", "ssh_command"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PROCESS_CONTEXT = {**CONTEXT, "ignore_unknown_options": True, "allow_interspersed_args": False}
"""The command starts at the first positional argument (or after ``--``): everything from
there on belongs to it, options included."""
PREDICT = click.Choice(["off", "adaptive", "on", "fast", "fast-adaptive"])


def _done(code: int) -> None:
    raise SystemExit(code)


def _process_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in (
        click.option("--current-dir", metavar="DIR",
                     help="Alternative current directory for the remote process"),
        click.option("--environment", metavar="MAP",
                     help='Environment variables, e.g. KEY="value",KEY2="value2"'),
        click.option("--predict", type=PREDICT, default=None,
                     help="Local echo prediction mode (accepted; not used)"),
    ):  # fmt: skip
        f = option(f)
    return f


@click.command("spawn", context_settings=PROCESS_CONTEXT)
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
@click.option("--lsp", is_flag=False, flag_value="", default=None, metavar="[SCHEME]",
              help="Treat the process as an LSP server: translate file:// URIs to SCHEME:// "
              "(default distant) and back")  # fmt: skip
@click.option("--pty", is_flag=True, help="Spawn the process on a pseudo-terminal")
@click.option("--shell", "shell_", is_flag=False, flag_value="", default=None,
              metavar="[SHELL]",
              help="Run the command through SHELL (default: the server's shell)")  # fmt: skip
@click.option("-c", "--cmd", "cmd_str", metavar="STR",
              help="The command line as one string (instead of CMD...)")  # fmt: skip
@_process_options
@connection_option
@common_options
def spawn_command(
    *,
    cmd: tuple[str, ...],
    lsp: str | None,
    pty: bool,
    shell_: str | None,
    cmd_str: str | None,
    current_dir: str | None,
    environment: str | None,
    predict: str | None,
    connection: int | None,
) -> None:
    """Spawn a process on the remote machine: `distant spawn -- CMD [ARGS...]`."""
    _done(
        spawn.spawn(
            get_globals(),
            connection,
            cmd,
            cmd_str=cmd_str,
            pty=pty,
            lsp=lsp,
            shell=shell_,
            current_dir=current_dir,
            environment=environment,
            predict=predict,
        )
    )


@click.command("shell", context_settings=PROCESS_CONTEXT)
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
@_process_options
@connection_option
@common_options
def shell_command(
    *,
    cmd: tuple[str, ...],
    current_dir: str | None,
    environment: str | None,
    predict: str | None,
    connection: int | None,
) -> None:
    """Run an interactive shell (or CMD) on the remote machine, on a pseudo-terminal."""
    _done(
        spawn.shell(
            get_globals(),
            connection,
            cmd or None,
            current_dir=current_dir,
            environment=environment,
            predict=predict,
        )
    )


@click.command("ssh", context_settings=PROCESS_CONTEXT)
@click.argument("destination")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
@click.option("--options", metavar="MAP", help="Options for the ssh plugin of the manager")
@click.option("--new", is_flag=True, help="Always make a new connection (no reuse)")
@_process_options
@common_options
def ssh_command(
    *,
    destination: str,
    cmd: tuple[str, ...],
    options: str | None,
    new: bool,
    current_dir: str | None,
    environment: str | None,
    predict: str | None,
) -> None:
    """Connect over ssh (`ssh://` is added) and run a shell, or CMD, on a pseudo-terminal."""
    _done(
        spawn.ssh(
            get_globals(),
            destination,
            cmd or None,
            options=options,
            current_dir=current_dir,
            environment=environment,
            predict=predict,
            new=new,
        )
    )
