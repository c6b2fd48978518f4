"""distant plugins: how the manager reaches servers besides ``distant://``.

* ``ssh://[user@]host[:port]``: :class:`SshPlugin`. ``connect`` serves an in-process
  :class:`SshApi` over one SSH connection (SFTP files, exec processes with PTY, search,
  watch through ``inotifywait``, direct-tcpip and tcpip-forward tunnels); ``launch`` starts
  ``distant-server`` on the host over ssh. Two backends: ``asyncssh`` (default) and
  ``openssh`` (the system ``ssh`` through a ControlMaster, so ``~/.ssh/config`` applies).
* ``docker://container``: :class:`DockerPlugin`, an in-process :class:`DockerApi` on the
  docker SDK (archives for files, exec for processes, search and tunnels with the tools the
  container has).
* external plugin executables (the plugin binary specification): :class:`ExternalPlugin`,
  registered through ``plugins.toml`` or ``manager listen --plugin NAME=PATH``.

:func:`builtin_plugins` gives the ssh and docker plugins the manager registers. Names are
imported on first use (PEP 562): asyncssh and the docker SDK load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .builtin import builtin_plugins
    from .command_search import CommandSearcher, RunCommand, probe_tools
    from .docker import DockerApi, DockerPlugin
    from .external import ExternalPlugin
    from .external_setup import ExternalPluginError
    from .in_process import serve_api
    from .plugin_config import (
        PluginConfigError,
        PluginSpec,
        build_external_plugins,
        load_plugin_specs,
    )
    from .ssh.api import SshApi
    from .ssh.plugin import SshPlugin
    from .ssh.session import SshSession, SshTarget

__all__ = [
    "builtin_plugins",
    "serve_api",
    # ssh
    "SshPlugin",
    "SshApi",
    "SshSession",
    "SshTarget",
    # docker
    "DockerPlugin",
    "DockerApi",
    # search through remote commands (ssh and docker)
    "CommandSearcher",
    "RunCommand",
    "probe_tools",
    # external plugins
    "ExternalPlugin",
    "ExternalPluginError",
    "PluginConfigError",
    "PluginSpec",
    "load_plugin_specs",
    "build_external_plugins",
]

_WHERE: dict[str, str] = {
    "builtin_plugins": "builtin",
    "serve_api": "in_process",
    "SshPlugin": "ssh.plugin",
    "SshApi": "ssh.api",
    "SshSession": "ssh.session",
    "SshTarget": "ssh.session",
    "DockerPlugin": "docker",
    "DockerApi": "docker",
    "CommandSearcher": "command_search",
    "RunCommand": "command_search",
    "probe_tools": "command_search",
    "ExternalPlugin": "external",
    "ExternalPluginError": "external_setup",
    "PluginConfigError": "plugin_config",
    "PluginSpec": "plugin_config",
    "load_plugin_specs": "plugin_config",
    "build_external_plugins": "plugin_config",
}

if not TYPE_CHECKING:  # type checkers see the imports above, not a catch-all __getattr__
    from distant_codec.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
