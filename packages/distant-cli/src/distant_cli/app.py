"""The click application of ``distant`` (§12). Not on the fast path: :mod:`distant_cli.main`
only imports it for commands the fast path does not handle.

Every command body calls a plain function from :mod:`distant_cli.commands` and exits with
its return value; failures are raised and reported by :func:`run` (exit code 1).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from .commands import api as api_mod
from .commands import daemons, generate, info, manage
from .errors import CliError, report
from .options import (
    CONNECTION_ID,
    common_options,
    connection_option,
    format_option,
    get_globals,
    global_options,
    network_options,
)
from .session import Globals

__all__ = ["cli", "run"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _version_line() -> str:
    return f"distant {info.cli_version()} {info.FEATURES}"


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_line())
        ctx.exit(0)


@click.group(context_settings=CONTEXT)
@click.option("-q", "--quiet", is_flag=True, help="Quiet mode, suppresses all logging")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Print version")  # fmt: skip
@global_options
@click.pass_context
def cli(ctx: click.Context, quiet: bool) -> None:
    """Operate on remote machines through file and process operations."""
    g = ctx.ensure_object(Globals)
    if quiet:
        g.quiet = True
        g.log_level = g.log_level or "off"


def _done(code: int) -> None:
    raise SystemExit(code)


# -- connections ----------------------------------------------------------------------------


@cli.command("connect", context_settings=CONTEXT)
@click.argument("destination")
@click.option(
    "--options",
    default=None,
    metavar="OPTIONS",
    help='Options for the manager\'s plugin, e.g. key="value",key2="value2"',
)
@click.option("--new", is_flag=True, help="Always make a new connection (no reuse)")
@format_option
@common_options
def connect_command(destination: str, options: str | None, new: bool, fmt: str) -> None:
    """Requests that active manager connects to the server at the specified destination."""
    _done(manage.connect(get_globals(), destination, options, new=new))


@cli.command("launch", context_settings=CONTEXT)
@click.argument("destination")
@click.option(
    "--distant",
    "distant_bin",
    metavar="BIN",
    help="Path to the distant program on the remote machine",
)
@click.option(
    "--distant-bind-server", metavar="ssh|any|IP", help="Address the launched server binds to"
)
@click.option("--distant-args", metavar="ARGS", help="Additional arguments for the server")
@click.option(
    "--options",
    default=None,
    metavar="OPTIONS",
    help="Options for the manager's plugin facilitating the launch",
)
@format_option
@common_options
def launch_command(  # noqa: PLR0917 - one parameter per flag
    destination: str,
    distant_bin: str | None,
    distant_bind_server: str | None,
    distant_args: str | None,
    options: str | None,
    fmt: str,
) -> None:
    """Launches the server-portion of the binary on a remote machine."""
    _done(manage.launch(get_globals(), destination, options, distant_bin=distant_bin,
                        bind_server=distant_bind_server, distant_args=distant_args))  # fmt: skip


@cli.command("status", context_settings=CONTEXT)
@click.argument("id", type=CONNECTION_ID, required=False)
@format_option
@common_options
def status_command(id: int | None, fmt: str) -> None:
    """Shows the status of the manager and its connections."""
    _done(manage.status(get_globals(), id))


@cli.command("kill", context_settings=CONTEXT)
@click.argument("id", type=CONNECTION_ID, required=False)
@format_option
@common_options
def kill_command(id: int | None, fmt: str) -> None:
    """Kills a connection of the manager."""
    _done(manage.kill(get_globals(), id))


@cli.command("select", context_settings=CONTEXT)
@click.argument("id", type=CONNECTION_ID, required=False)
@format_option
@common_options
def select_command(id: int | None, fmt: str) -> None:
    """Selects the connection that commands use by default."""
    _done(manage.select(get_globals(), id))


# -- channel commands of this module --------------------------------------------------------


@cli.command("api", context_settings=CONTEXT)
@click.option(
    "--timeout",
    type=float,
    default=None,
    metavar="SECS",
    help="Seconds to wait for a response (parsed, not applied)",
)
@connection_option
@common_options
def api_command(timeout: float | None, connection: int | None) -> None:
    """Listens over stdin for JSON requests and prints responses as JSON lines."""
    g = get_globals()
    g.format = "json"
    if timeout is None:
        configured = g.setting("client", "api", "timeout")
        timeout = float(configured) if isinstance(configured, int | float) else None
    _done(api_mod.api(g, connection, timeout))


@cli.command("version", context_settings=CONTEXT)
@connection_option
@format_option
@common_options
def version_command(connection: int | None, fmt: str) -> None:
    """Retrieves the versions of the client and the server, and the server's capabilities."""
    _done(info.version(get_globals(), connection, fmt))


@cli.command("system-info", context_settings=CONTEXT)
@connection_option
@common_options
def system_info_command(connection: int | None) -> None:
    """Retrieves information about the remote system."""
    _done(info.system_info(get_globals(), connection))


# -- manager, server ------------------------------------------------------------------------


@cli.group("manager", context_settings=CONTEXT)
def manager_group() -> None:
    """Perform manager commands."""


@manager_group.command("listen", context_settings=CONTEXT)
@click.option(
    "--access",
    type=click.Choice(daemons.ACCESS),
    default=None,
    help="Who may use the socket: owner (0600), group (0660), anyone (0666)",
)
@click.option("--daemon", is_flag=True, help="Detach and run in the background")
@click.option("--user", is_flag=True, help="Listen on the per-user socket")
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="NAME=PATH",
    help="An external plugin for scheme NAME (repeatable)",
)
@network_options
@global_options
def manager_listen_command(
    access: str | None, daemon: bool, user: bool, plugins: tuple[str, ...]
) -> None:
    """Listen for incoming requests as a manager."""
    g = get_globals(section="manager")
    _done(daemons.manager_listen(g, access=access, daemon=daemon, user=user, plugins=plugins))


@manager_group.command("version", context_settings=CONTEXT)
@format_option
@common_options
def manager_version_command(fmt: str) -> None:
    """Retrieve the version of the manager."""
    _done(daemons.manager_version(get_globals(), fmt))


@cli.group("server", context_settings=CONTEXT)
def server_group() -> None:
    """Perform server commands."""


@server_group.command(
    "listen",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                      "help_option_names": []},
    add_help_option=False,
)  # fmt: skip
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def server_listen_command(args: tuple[str, ...]) -> None:
    """Listen for incoming requests as a server (the flags of `distant-server listen`)."""
    ctx = click.get_current_context()
    g = ctx.find_object(Globals) or Globals()  # the server sets up its own logging
    _done(daemons.server_listen(g, args))


# -- generate -------------------------------------------------------------------------------


@cli.group("generate", context_settings=CONTEXT)
def generate_group() -> None:
    """Generate configuration files or shell completion scripts."""


@generate_group.command("config", context_settings=CONTEXT)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout")
@global_options
def generate_config_command(output: str | None) -> None:
    """Print the default configuration file (TOML)."""
    get_globals(section="generate")
    _done(generate.generate_config(output))


@generate_group.command("completion", context_settings=CONTEXT)
@click.argument("shell", type=click.Choice(["bash", "elvish", "fish", "powershell", "zsh"],
                                           case_sensitive=False))  # fmt: skip
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout")
@global_options
def generate_completion_command(shell: str, output: str | None) -> None:
    """Print the shell completion script of SHELL."""
    get_globals(section="generate")
    _done(generate.generate_completion(shell, output))


# -- the channel commands of distant_cli.commands.{fs,copy,spawn,tunnel,terminal} -----------

_CHANNEL_COMMANDS: dict[str, tuple[str, ...]] = {
    "fs": ("fs_group",),
    "copy": ("copy_command",),
    "spawn": ("spawn_command", "shell_command", "ssh_command"),
    "tunnel": ("tunnel_group",),
}
"""Module of :mod:`distant_cli.commands` → the click commands it exports."""


def _register_channel_commands(group: click.Group) -> None:
    for module_name, names in _CHANNEL_COMMANDS.items():
        module = importlib.import_module(f"{__package__}.commands.{module_name}")
        for name in names:
            command = getattr(module, name)
            if command.name not in group.commands:
                group.add_command(command)


_register_channel_commands(cli)


# -- running --------------------------------------------------------------------------------


def run(argv: Sequence[str], g: Globals | None = None) -> int:
    """Run the click application on ``argv``; returns the exit code (§12.4: 0 or 1)."""
    g = g if g is not None else Globals()
    try:
        cli.main(args=list(argv), prog_name="distant", obj=g, standalone_mode=False,
                 complete_var="_DISTANT_COMPLETE")  # fmt: skip
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("Aborted!\n")
        return 1
    except click.ClickException as exc:
        exc.show()
        return 1
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        return report(exc, json_format=g.json)
    except Exception as exc:
        return report(exc, json_format=g.json)
    return 0
