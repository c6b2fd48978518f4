"""Reaching the manager from a CLI process: socket paths, auto-start, and the connection
a channel command talks to (§9.1, §12.5).

Everything here is blocking and imports no anyio: one-shot commands stay fast.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from distant_auth import AuthHandler
from distant_manager.blocking_client import (
    BlockingChannel,
    BlockingManagerClient,
    ManagerUnavailable,
)
from distant_manager.paths import candidate_socket_paths

from .cache import read_selected, write_selected
from .config import load_config, lookup
from .errors import CliError

__all__ = ["Globals", "connect_manager", "resolve_connection", "open_channel"]

AUTO_START_DELAYS = (0.1, 0.2, 0.4, 0.8, 0.5)
"""Retry delays after auto-starting a manager, as upstream (§9.1)."""


class Globals:
    """The global flags every command shares.

    ``format`` is the command's ``-f/--format`` (errors of ``json`` commands are printed
    as JSON on stdout). :meth:`finalize` fills what the flags left unset from the
    environment (``DISTANT_UNIX_SOCKET``, ``DISTANT_CACHE``) and then the config file's
    ``[<section>]`` table, and sets up logging; commands call it before doing any work.

    A plain class rather than a dataclass: importing ``dataclasses`` (and ``inspect``)
    costs the fast path about 5 ms.
    """

    def __init__(
        self,
        *,
        config: str | None = None,
        log_level: str | None = None,
        log_file: str | None = None,
        cache: str | None = None,
        unix_socket: str | None = None,
        quiet: bool = False,
        format: str = "shell",
    ) -> None:
        self.config = config
        self.log_level = log_level
        self.log_file = log_file
        self.cache = cache
        self.unix_socket = unix_socket
        self.quiet = quiet
        self.format = format
        self._config_data: dict[str, Any] | None = None
        self._finalized = False

    def __repr__(self) -> str:
        return (
            f"Globals(config={self.config!r}, unix_socket={self.unix_socket!r}, "
            f"cache={self.cache!r}, format={self.format!r})"
        )

    def socket_paths(self) -> list[str]:
        return candidate_socket_paths(self.unix_socket)

    @property
    def json(self) -> bool:
        return self.format == "json"

    def config_data(self) -> dict[str, Any]:
        """The configuration file(s), read on first use."""
        if self._config_data is None:
            self._config_data = load_config(self.config)
        return self._config_data

    def setting(self, *keys: str) -> Any:
        """A value of the configuration (``None`` if absent)."""
        return lookup(self.config_data(), *keys)

    def finalize(self, section: str = "client") -> Globals:
        """Defaults from the environment and the config, then logging (idempotent)."""
        if self._finalized:
            return self
        self._finalized = True
        if not self.unix_socket:
            self.unix_socket = os.environ.get("DISTANT_UNIX_SOCKET") or None
        if not self.cache:
            self.cache = os.environ.get("DISTANT_CACHE") or None
        if not self.unix_socket:
            value = self.setting(section, "unix_socket")
            self.unix_socket = str(value) if value else None
        if not self.log_file:
            value = self.setting(section, "log_file")
            self.log_file = str(value) if value else None
        if not self.log_level:
            value = self.setting(section, "log_level")
            self.log_level = str(value) if value else None
        if self.log_file or self.log_level:
            from .logs import setup_logging

            setup_logging(self.log_level, self.log_file)
        return self


def connect_manager(
    g: Globals, *, auto_start: bool = True, auth: AuthHandler | None = None
) -> BlockingManagerClient:
    """A client of the running manager; starts one (``manager listen --daemon``) if none
    answers and ``auto_start`` is set."""
    try:
        return BlockingManagerClient.connect(g.socket_paths(), auth)
    except ManagerUnavailable:
        if not auto_start:
            where = " or ".join(g.socket_paths())
            raise CliError(f"no manager is running at {where}") from None
    _start_manager(g)
    last: ManagerUnavailable | None = None
    for delay in AUTO_START_DELAYS:
        time.sleep(delay)
        try:
            return BlockingManagerClient.connect(g.socket_paths(), auth)
        except ManagerUnavailable as exc:
            last = exc
    raise CliError(f"started a manager, but it does not answer: {last}")


def _start_manager(g: Globals) -> None:
    """Run ``distant manager listen --daemon`` with the same socket flags; it detaches."""
    import subprocess

    cmd = [sys.executable, "-m", "distant_cli", "manager", "listen", "--daemon"]
    if g.unix_socket:
        cmd += ["--unix-socket", g.unix_socket]
    else:
        # The first path clients try (quirk §15.9: upstream binds the global one here).
        cmd += ["--user"]
    if g.config:
        cmd[3:3] = ["--config", g.config]
    subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env=os.environ.copy(),
    )


def resolve_connection(g: Globals, client: BlockingManagerClient, explicit: int | None) -> int:
    """The connection a channel command uses (§12.5): ``--connection``; else the cached
    selection if the manager still has it; else the only connection (then cached)."""
    connections = client.list()
    if explicit is not None:
        if explicit not in connections:
            raise CliError(f"no connection with id {explicit}", hint="see `distant status`")
        return explicit
    selected = read_selected(g.cache)
    if selected and selected in connections:
        return selected
    if len(connections) == 1:
        (only,) = connections
        write_selected(g.cache, only)
        return only
    if not connections:
        raise CliError(
            "no active connections",
            hint="connect with `distant connect` or `distant launch manager://localhost`",
        )
    raise CliError(
        f"{len(connections)} connections and none selected",
        hint="pick one with `distant select` or pass --connection",
    )


def open_channel(
    g: Globals, explicit: int | None, *, auto_start: bool = True
) -> tuple[BlockingManagerClient, BlockingChannel, int]:
    """Manager client, a channel to the resolved connection, and its id."""
    client = connect_manager(g, auto_start=auto_start)
    try:
        cid = resolve_connection(g, client, explicit)
        return client, client.open_channel(cid), cid
    except BaseException:
        client.close()
        raise
