"""``manager listen``, ``manager version`` and ``server listen`` (§8.1, §9.1, §12.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distant_cli.errors import CliError
from distant_cli.output import print_json, print_out
from distant_cli.session import Globals, connect_manager

__all__ = ["manager_listen", "manager_version", "server_listen", "server_listen_args"]

ACCESS = ("owner", "group", "anyone")


def _manager_plugins(g: Globals, flags: Sequence[str]) -> list[Any]:
    """The plugins ``manager listen`` registers beside ``distant``: the built-in ones and the
    external plugins of ``plugins.toml``, ``[manager.plugins]`` and ``--plugin`` flags. A bad
    registration or a scheme claimed twice is an error here, before anything is bound or
    detached."""
    from distant_manager import DistantPlugin, PluginRegistry
    from distant_plugins import (
        PluginConfigError,
        build_external_plugins,
        builtin_plugins,
        load_plugin_specs,
    )

    try:
        specs = load_plugin_specs(g.config, flags, g.setting("manager", "plugins"))
    except PluginConfigError as exc:
        raise CliError(str(exc)) from None
    plugins: list[Any] = [*builtin_plugins(), *build_external_plugins(specs)]
    try:
        PluginRegistry([DistantPlugin(), *plugins])  # only to check the schemes
    except ValueError as exc:
        raise CliError(f"cannot register the plugins: {exc}") from None
    return plugins


def manager_listen(
    g: Globals,
    *,
    access: str | None = None,
    daemon: bool = False,
    user: bool = False,
    plugins: Sequence[str] = (),
) -> int:
    """Run the manager daemon (blocking) on ``--unix-socket``, the user or the global path."""
    g.finalize("manager")
    access = access or str(g.setting("manager", "access") or "owner")
    if access not in ACCESS:
        raise CliError(f"bad access {access!r}: expected one of {', '.join(ACCESS)}")
    try:
        from distant_manager.listen import ManagerListenOptions, listen_manager
    except ImportError as exc:  # pragma: no cover - the manager package is incomplete
        raise CliError(f"the manager daemon is not available: {exc}") from None
    extra_plugins = _manager_plugins(g, plugins)
    options = ManagerListenOptions(
        socket_path=g.unix_socket,
        user=user,
        access=access,
        daemon=daemon,
        log_file=g.log_file,
        log_level=g.log_level,
        extra_plugins=extra_plugins,
    )
    return int(listen_manager(options) or 0)


def manager_version(g: Globals, fmt: str = "shell") -> int:
    """The version of the running manager."""
    client = connect_manager(g)
    try:
        version = client.version()
    finally:
        client.close()
    if fmt == "json":
        print_json({"version": version})
    else:
        print_out(version)
    return 0


_LISTEN_DEFAULTS = (
    ("host", "--host"),
    ("port", "--port"),
    ("shutdown", "--shutdown"),
    ("current_dir", "--current-dir"),
)


def server_listen_args(g: Globals, args: Sequence[str]) -> list[str]:
    """``args`` plus the ``[server.listen]`` and ``[server]`` config values for flags the
    user did not give."""
    out = list(args)
    if any(a in ("-h", "--help") for a in out):
        return out
    given = {a.split("=", 1)[0] for a in out if a.startswith("-")}
    extra: list[str] = []
    for key, flag in _LISTEN_DEFAULTS:
        value = g.setting("server", "listen", key)
        if value is not None and flag not in given:
            extra += [flag, str(value)]
    if g.setting("server", "listen", "use_ipv6") is True and not given & {"-6", "--use-ipv6"}:
        extra.append("--use-ipv6")
    for key, flag in (("log_file", "--log-file"), ("log_level", "--log-level")):
        value = getattr(g, key) or g.setting("server", key)
        if value and flag not in given:
            extra += [flag, str(value)]
    return extra + out


def server_listen(g: Globals, args: Sequence[str]) -> int:
    """``distant server listen ARGS``: exactly ``distant-server listen ARGS``."""
    from distant_server.cli import main as server_main

    try:
        return int(server_main(["listen", *server_listen_args(g, args)]) or 0)
    except SystemExit as exc:  # argparse: --help exits 0, a usage error 2 (we use 1)
        code = exc.code
        if code is None or code == 0:
            return 0
        return 1 if isinstance(code, int) else _print_exit(code)


def _print_exit(message: object) -> int:
    import sys

    sys.stderr.write(f"{message}\n")
    return 1
