"""The ``--options`` of ``connect ssh://…`` and ``launch ssh://…`` (connect and launch seeds).

ssh options carry an optional ``ssh.`` prefix (``backend`` and ``ssh.backend`` are the same
key); the launch settings are ``distant.bin``, ``distant.bind_server``, ``distant.args``
(mirrors of ``--distant``, ``--distant-bind-server`` and ``--distant-args``) and ``timeout``
(milliseconds, no prefix). Our additions:

* ``ssh.tunnel`` (prefix optional; boolean, default false): launch binds the server to the
  remote loopback and the manager reaches it through the ssh connection (a ``direct-tcpip``
  channel), so no port but ssh's must be open. See :mod:`distant_plugins.ssh.plugin`.

Values: booleans are ``true/false/yes/no/1/0`` (any case); file lists are comma-separated
(``identity_files="a,b"``) and ``~`` is expanded; ``ssh.backend`` is ``asyncssh`` (default)
or ``openssh``; the seed's ``ssh2`` and ``libssh`` are accepted and mean ``asyncssh``. Any
other key is kept in :attr:`SshOptions.extra` (the openssh backend passes it to ``ssh`` as
``-o Key=Value``). A bad value raises :class:`~distant_manager.PluginError` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from distant_codec import Destination
from distant_manager import PluginError

from .session import SshTarget

__all__ = [
    "BACKENDS",
    "BACKEND_ALIASES",
    "DEFAULT_BACKEND",
    "DEFAULT_LAUNCH_TIMEOUT",
    "CONNECT_TIMEOUT",
    "SshOptions",
    "LaunchSettings",
    "parse_ssh_options",
    "parse_launch_settings",
    "parse_bool",
    "build_target",
]

BACKENDS = ("asyncssh", "openssh")
DEFAULT_BACKEND = "asyncssh"
BACKEND_ALIASES = {"ssh2": "asyncssh", "libssh": "asyncssh"}
"""The seed's backend names (upstream's Rust libraries); both mean our in-process client."""

CONNECT_TIMEOUT = 180.0
"""Seconds to establish the ssh connection (as for distant:// connections, §8.2)."""

DEFAULT_LAUNCH_TIMEOUT = 15.0
"""Seconds a launched server has to report its credentials (upstream's default)."""

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}

# Keys the plugin interprets (without the ``ssh.`` prefix); the rest go to ``extra``.
_SSH_KEYS = {
    "backend",
    "identity_files",
    "identities_only",
    "proxy_command",
    "user_known_hosts_files",
    "verbose",
    "tunnel",
}
# Not ssh options at all: launch settings, and keys the manager or other plugins use.
_NOT_SSH = {"timeout", "key"}


@dataclass(frozen=True, slots=True)
class SshOptions:
    """The ssh part of the options, validated."""

    backend: str = DEFAULT_BACKEND
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    proxy_command: str | None = None
    user_known_hosts_files: tuple[str, ...] = ()
    verbose: bool = False
    tunnel: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """Things worth a log line (e.g. a backend alias was mapped)."""


@dataclass(frozen=True, slots=True)
class LaunchSettings:
    """How ``launch`` starts the remote server."""

    bin: str | None = None
    """``--distant``: the remote command (None: ``distant``, else ``distant-server``)."""
    bind_server: str = "ssh"
    """``ssh``, ``any`` or an IP address."""
    args: str = ""
    """``--distant-args``, appended to the remote command line as given."""
    timeout: float = DEFAULT_LAUNCH_TIMEOUT
    """Seconds to wait for the credentials (and, tunnelled, to connect)."""


def _ssh_key(key: str) -> str:
    key = key.strip()
    return key[4:] if key.lower().startswith("ssh.") else key


def parse_bool(key: str, value: str) -> bool:
    """``true/false/yes/no/1/0`` (any case, surrounding blanks ignored)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PluginError(f"option {key}: expected true/false/yes/no/1/0, not {value!r}")


def _file_list(value: str) -> tuple[str, ...]:
    return tuple(os.path.expanduser(part.strip()) for part in value.split(",") if part.strip())


def parse_ssh_options(options: Mapping[str, str]) -> SshOptions:
    """The ssh options among ``options`` (``ssh.`` prefix optional; the prefixed spelling
    wins when both are given)."""
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    # Unprefixed first, so that ``ssh.x`` overrides ``x``.
    for raw in sorted(options, key=lambda k: k.strip().lower().startswith("ssh.")):
        stripped = raw.strip()
        if stripped.lower().startswith("distant.") or stripped in _NOT_SSH:
            continue
        key = _ssh_key(stripped)
        if key in _SSH_KEYS:
            values[key] = options[raw]
        elif key:
            extra[key] = options[raw]
    notes: list[str] = []
    backend = DEFAULT_BACKEND
    if "backend" in values:
        wanted = values["backend"].strip().lower()
        if wanted in BACKEND_ALIASES:
            backend = BACKEND_ALIASES[wanted]
            notes.append(f"ssh backend {wanted!r} is served by {backend!r}")
        elif wanted in BACKENDS:
            backend = wanted
        elif wanted:
            known = ", ".join([*BACKENDS, *BACKEND_ALIASES])
            raise PluginError(f"option ssh.backend: unknown backend {wanted!r} (known: {known})")
    proxy = values.get("proxy_command", "").strip() or None
    return SshOptions(
        backend=backend,
        identity_files=_file_list(values.get("identity_files", "")),
        identities_only=_bool_option(values, "identities_only"),
        proxy_command=proxy,
        user_known_hosts_files=_file_list(values.get("user_known_hosts_files", "")),
        verbose=_bool_option(values, "verbose"),
        tunnel=_bool_option(values, "tunnel"),
        extra=extra,
        notes=tuple(notes),
    )


def _bool_option(values: Mapping[str, str], key: str) -> bool:
    return parse_bool(f"ssh.{key}", values[key]) if key in values else False


def parse_launch_settings(options: Mapping[str, str]) -> LaunchSettings:
    """``distant.bin``, ``distant.bind_server``, ``distant.args`` and ``timeout``."""
    bin_ = (options.get("distant.bin") or "").strip() or None
    bind = (options.get("distant.bind_server") or "").strip() or "ssh"
    if bind.lower() in {"ssh", "any"}:
        bind = bind.lower()
    else:
        try:
            bind = str(ipaddress.ip_address(bind.strip("[]")))
        except ValueError:
            raise PluginError(
                f"option distant.bind_server: expected ssh, any or an IP address, not {bind!r}"
            ) from None
    timeout = DEFAULT_LAUNCH_TIMEOUT
    raw_timeout = (options.get("timeout") or "").strip()
    if raw_timeout:
        try:
            millis = float(raw_timeout)
        except ValueError:
            millis = -1.0
        if not millis > 0 or millis == float("inf"):
            raise PluginError(
                f"option timeout: expected a positive number of milliseconds, not {raw_timeout!r}"
            )
        timeout = millis / 1000.0
    return LaunchSettings(
        bin=bin_, bind_server=bind, args=options.get("distant.args") or "", timeout=timeout
    )


def build_target(
    destination: Destination, options: SshOptions, *, connect_timeout: float = CONNECT_TIMEOUT
) -> SshTarget:
    """The :class:`SshTarget` for ``destination``.

    A missing user or port stays ``None``: each backend applies its defaults (the user
    from ``~/.ssh/config`` or the local user; port 22, or ``~/.ssh/config``'s with openssh).
    """
    user = destination.username or None
    port = destination.port
    return SshTarget(
        host=destination.host,
        port=port,
        user=user,
        identity_files=options.identity_files,
        identities_only=options.identities_only,
        proxy_command=options.proxy_command,
        user_known_hosts_files=options.user_known_hosts_files,
        verbose=options.verbose,
        connect_timeout=connect_timeout,
        extra=dict(options.extra),
    )
