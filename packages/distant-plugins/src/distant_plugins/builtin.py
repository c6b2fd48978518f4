"""The built-in plugins the manager registers besides ``distant`` (which lives in
distant-manager): ``ssh`` and ``docker``. Imported lazily: asyncssh and the docker SDK load
only when a connection uses them."""

from __future__ import annotations

from distant_manager import Plugin

__all__ = ["builtin_plugins"]


def builtin_plugins() -> list[Plugin]:
    """Fresh instances of the ssh and docker plugins."""
    from .docker.plugin import DockerPlugin
    from .ssh.plugin import SshPlugin

    return [SshPlugin(), DockerPlugin()]
