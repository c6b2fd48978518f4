"""The configuration file (§12.1): TOML whose values are defaults for command-line flags.

``--config PATH`` reads that file alone; otherwise ``/etc/distant/config.toml`` and then
``~/.config/distant/config.toml`` are merged (the user's file wins, table by table).
Flags and the environment (``DISTANT_UNIX_SOCKET``, ``DISTANT_CACHE``) always win over the
file. Reading is lazy and cheap: when no file exists nothing is parsed, and ``tomllib`` is
imported only when there is a file to read.

``distant generate config`` prints :data:`DEFAULT_CONFIG`, which reads back to the
defaults the commands use anyway.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import CliError

__all__ = [
    "DEFAULT_CONFIG",
    "default_config_paths",
    "load_config",
    "lookup",
]

Config = dict[str, Any]


def default_config_paths() -> list[str]:
    """The merged files, lowest priority first."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return ["/etc/distant/config.toml", os.path.join(base, "distant", "config.toml")]


def _read(path: str) -> Config:
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise CliError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"bad config file {path}: {exc}") from None


def _merge(into: Config, other: Config) -> Config:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def load_config(explicit: str | None) -> Config:
    """The configuration: ``explicit`` alone, else the merged default files ({} if none)."""
    if explicit:
        return _read(explicit)
    merged: Config = {}
    for path in default_config_paths():
        if os.path.isfile(path):
            _merge(merged, _read(path))
    return merged


def lookup(config: Config, *keys: str) -> Any:
    """``config[k1][k2]…`` or ``None`` when any level is missing."""
    node: Any = config
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


DEFAULT_CONFIG = """\
# distant configuration file (TOML).
#
# Read from --config PATH, or else merged from /etc/distant/config.toml and then
# ~/.config/distant/config.toml. Every value is a default for the command-line flag of the
# same name; a flag given on the command line (or DISTANT_UNIX_SOCKET / DISTANT_CACHE in the
# environment) always wins. Commented-out keys show the built-in default.

###############################################################################
# Client commands (connect, launch, api, fs, spawn, shell, ...)
###############################################################################
[client]
# Log file and level of client commands (off, error, warn, info, debug, trace).
# log_file = "~/.cache/distant/client.log"
# log_level = "info"

# Unix socket of the manager to talk to (default: the per-user socket, then the global one).
# unix_socket = "/run/user/1000/distant/user.distant.sock"

[client.api]
# Seconds to wait for a response (parsed but not applied, as upstream).
# timeout = 0.0

[client.connect]
# Options given to the manager's plugin, e.g. 'key="..."' or 'ssh.backend="openssh"'.
options = ""

[client.launch]
# Options given to the manager's plugin when launching.
options = ""

[client.launch.distant]
# Path of the distant binary to run on the remote machine (--distant).
# bin = "distant"
# Address the launched server binds to: ssh, any, or an IP (--distant-bind-server).
# bind_server = "ssh"
# Extra arguments for `distant server listen` (--distant-args).
# args = ""

###############################################################################
# distant generate
###############################################################################
[generate]
# log_file = "~/.cache/distant/generate.log"
# log_level = "info"

###############################################################################
# distant manager listen
###############################################################################
[manager]
# Who may use the manager socket: owner (0600), group (0660) or anyone (0666).
access = "owner"
# log_file = "~/.cache/distant/manager.log"
# log_level = "info"
# unix_socket = "/run/distant.sock"

# External plugins: scheme name = path of the plugin binary.
[manager.plugins]
# myscheme = "/usr/local/bin/distant-plugin-myscheme"

###############################################################################
# distant server listen
###############################################################################
[server]
# log_file = "~/.cache/distant/server.log"
# log_level = "info"

[server.listen]
# ssh, any, or an IP address.
host = "any"
# A port, or an inclusive range P1:P2; 0 lets the system pick.
port = "0"
# Bind IPv6 when host is "any".
use_ipv6 = false
# never, after=N or lonely=N (seconds).
shutdown = "never"
# Working directory of the server.
# current_dir = "/"
"""
"""What ``distant generate config`` prints."""
