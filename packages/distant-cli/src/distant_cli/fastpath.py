"""The fast path: one-shot commands parsed by hand, without importing click.

``distant fs exists PATH`` and its kind spend most of their time starting Python; click,
anyio, trio and the server are not needed to send one request over the blocking manager
socket (DESIGN.md, "The CLI starts fast"). :func:`run_fast` understands exactly the commands
of :data:`COMMANDS` with their flags, plus the global flags; for anything else, or anything
unusual (``--help``, an unknown flag, a bad value), it returns ``None`` and the click
application handles the command line, so both paths accept and reject the same input.

Handled: ``fs exists|metadata|read|write|make-dir|remove|copy|rename``, ``system-info`` and
``version``, with ``--connection ID``, ``--cache``, ``--unix-socket``, ``--config``,
``--log-level``, ``--log-file`` (and ``-f/--format`` for ``version``), and the global
``-q/--quiet``, ``--config``, ``--log-level``, ``--log-file`` before the command.

The config file is read only when ``--config`` is given or a default config file exists
(two ``stat`` calls otherwise), exactly as on the click path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "FastCommand", "parse", "run_fast"]

LOG_LEVELS = ("off", "error", "warn", "info", "debug", "trace")
_GLOBAL_VALUES = {"--config": "config", "--log-level": "log_level", "--log-file": "log_file"}
_NETWORK_VALUES = {"--cache": "cache", "--unix-socket": "unix_socket"}


def _int_at_least(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text, 10)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return convert


_U32 = _int_at_least(0, 2**32 - 1)
_DEPTH = _int_at_least(0, 2**64 - 1)


def _fmt(text: str) -> str:
    if text not in ("shell", "json"):
        raise ValueError(text)
    return text


class FastCommand:
    """What the fast path knows of one command (a plain class: a dataclass costs start-up
    time)."""

    __slots__ = ("flags", "function", "module", "optional", "required", "values")

    def __init__(
        self,
        module: str,
        function: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
        *,
        flags: dict[str, str] | None = None,
        values: dict[str, tuple[str, Callable[[str], Any]]] | None = None,
    ) -> None:
        self.module = module  # in distant_cli.commands
        self.function = function
        self.required = required
        self.optional = optional
        self.flags = flags or {}  # flag -> keyword
        self.values = values or {}  # option -> (keyword, converter)


COMMANDS: dict[tuple[str, ...], FastCommand] = {
    ("fs", "exists"): FastCommand("fs", "fs_exists", ("path",)),
    ("fs", "metadata"): FastCommand(
        "fs", "fs_metadata", ("path",),
        flags={"--canonicalize": "canonicalize", "--resolve-file-type": "resolve_file_type"},
    ),
    ("fs", "read"): FastCommand(
        "fs", "fs_read", ("path",),
        flags={"--absolute": "absolute", "--canonicalize": "canonicalize",
               "--include-root": "include_root"},
        values={"--depth": ("depth", _DEPTH)},
    ),
    ("fs", "write"): FastCommand(
        "fs", "fs_write", ("path",), ("data",), flags={"--append": "append"}
    ),
    ("fs", "make-dir"): FastCommand("fs", "fs_make_dir", ("path",), flags={"--all": "all"}),
    ("fs", "remove"): FastCommand("fs", "fs_remove", ("path",), flags={"--force": "force"}),
    ("fs", "copy"): FastCommand("fs", "fs_copy", ("src", "dst")),
    ("fs", "rename"): FastCommand("fs", "fs_rename", ("src", "dst")),
    ("system-info",): FastCommand("info", "system_info"),
    ("version",): FastCommand(
        "info", "version", values={"-f": ("fmt", _fmt), "--format": ("fmt", _fmt)}
    ),
}  # fmt: skip
"""Command path → how to parse and run it."""


class Parsed:
    __slots__ = ("command", "connection", "kwargs", "positionals", "settings")

    def __init__(
        self,
        command: FastCommand,
        settings: dict[str, Any],
        connection: int | None,
        positionals: list[str],
        kwargs: dict[str, Any],
    ) -> None:
        self.command = command
        self.settings = settings  # Globals fields
        self.connection = connection
        self.positionals = positionals
        self.kwargs = kwargs


def _split(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
        return name, value
    return arg, None


def parse(argv: Sequence[str]) -> Parsed | None:
    """The parsed command line, or ``None`` if the fast path does not handle it."""
    args = list(argv)
    settings: dict[str, Any] = {}
    i = 0
    # Global flags before the command.
    while i < len(args) and args[i].startswith("-"):
        name, value = _split(args[i])
        if name in ("-q", "--quiet") and value is None:
            settings["quiet"] = True
            i += 1
            continue
        if name not in _GLOBAL_VALUES:
            return None
        if value is None:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        if name == "--log-level" and value not in LOG_LEVELS:
            return None
        settings[_GLOBAL_VALUES[name]] = value
        i += 1
    command: FastCommand | None = None
    for path, candidate in COMMANDS.items():
        if tuple(args[i : i + len(path)]) == path:
            command = candidate
            i += len(path)
            break
    if command is None:
        return None
    connection: int | None = None
    positionals: list[str] = []
    kwargs: dict[str, Any] = {}
    only_positionals = False
    while i < len(args):
        arg = args[i]
        i += 1
        if only_positionals or not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        if arg == "--":
            only_positionals = True
            continue
        name, value = _split(arg)
        if name in command.flags:
            if value is not None:
                return None
            kwargs[command.flags[name]] = True
            continue
        known_value = (
            name in command.values
            or name in _GLOBAL_VALUES
            or name in _NETWORK_VALUES
            or name == "--connection"
        )
        if not known_value:
            return None  # --help, an unknown flag, a short-flag bundle...
        if value is None:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        try:
            if name == "--connection":
                connection = _U32(value)
            elif name in command.values:
                key, convert = command.values[name]
                kwargs[key] = convert(value)
            elif name in _GLOBAL_VALUES:
                if name == "--log-level" and value not in LOG_LEVELS:
                    return None
                settings[_GLOBAL_VALUES[name]] = value
            else:
                settings[_NETWORK_VALUES[name]] = value
        except ValueError:
            return None
    if (
        not len(command.required)
        <= len(positionals)
        <= len(command.required) + len(command.optional)
    ):
        return None
    return Parsed(command, settings, connection, positionals, kwargs)


def _resolve(command: FastCommand) -> Callable[..., int] | None:
    try:
        module = importlib.import_module(f"{__package__}.commands.{command.module}")
    except ImportError:
        return None  # not there (yet): click reports it
    function = getattr(module, command.function, None)
    return function if callable(function) else None


def run_fast(argv: Sequence[str]) -> int | None:
    """Run ``argv`` if the fast path handles it; ``None`` otherwise."""
    parsed = parse(argv)
    if parsed is None:
        return None
    function = _resolve(parsed.command)
    if function is None:
        return None
    from .errors import report
    from .session import Globals

    g = Globals(**parsed.settings)
    if g.quiet and not g.log_level:
        g.log_level = "off"
    g.format = parsed.kwargs.get("fmt", "shell")
    try:
        g.finalize("client")
        return int(function(g, parsed.connection, *parsed.positionals, **parsed.kwargs))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return report(exc, json_format=g.json)
