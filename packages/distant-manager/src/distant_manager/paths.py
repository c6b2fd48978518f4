"""Where the manager listens (§9.1), and the socket modes of ``--access``."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile

__all__ = [
    "ACCESS_MODES",
    "global_socket_path",
    "user_socket_path",
    "candidate_socket_paths",
    "listen_socket_path",
]

ACCESS_MODES: dict[str, int] = {"owner": 0o600, "group": 0o660, "anyone": 0o666}
"""``--access`` → the mode the socket gets (through the umask at bind)."""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def global_socket_path() -> str:
    if sys.platform == "darwin":
        return os.path.join(os.environ.get("TMPDIR", tempfile.gettempdir()), "distant.sock")
    if "bsd" in sys.platform:
        return "/var/run/distant.sock"
    return "/run/distant.sock"


def user_socket_path() -> str:
    user = _user()
    if sys.platform == "darwin":
        base = os.environ.get("TMPDIR", tempfile.gettempdir())
        return os.path.join(base, f"{user}.distant.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "distant", f"{user}.distant.sock")
    return os.path.join(tempfile.gettempdir(), f"{user}.distant.sock")


def candidate_socket_paths(override: str | None = None) -> list[str]:
    """Where clients look: the override alone, else [user path, global path]."""
    if override:
        return [override]
    return [user_socket_path(), global_socket_path()]


def listen_socket_path(override: str | None = None, *, user: bool = False) -> str:
    """Where ``manager listen`` binds: the override, else the user or the global path."""
    if override:
        return override
    return user_socket_path() if user else global_socket_path()
